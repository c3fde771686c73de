"""Monitor.observe(...).record_llm: what an LLM/RAG request becomes on the wire."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from driftline.sdk import MemorySink, Monitor, PrivacyPolicy
from driftline.sdk.llm import Retrieved
from driftline.server.ingest import Limits, llm_object

QUESTION = "Which river flows through Vienna?"
CONTEXT = "Vienna lies on the Danube, the second-longest river in Europe."
ANSWER = "The Danube flows through Vienna; it is the second-longest river in Europe."


def _send(mon: Monitor, sink: MemorySink, **llm: Any) -> dict[str, Any]:
    with mon.observe({"channel": "web"}) as obs:
        obs.record_llm(**llm)
    assert mon.flush(5)
    event: dict[str, Any] = sink.events[-1]
    # what the SDK sends, the collector accepts
    llm_object(event["llm"], Limits(now=0.0, max_future=0.0, max_features=100))
    return event


@pytest.fixture
def mon() -> Any:
    from prometheus_client import CollectorRegistry

    sink = MemorySink()
    m = Monitor("rag", "v1", sink=sink, registry=CollectorRegistry(), flush_interval=0.01)
    yield m, sink
    m.close()


def test_a_rag_request_is_sent_with_its_derived_values(mon: Any) -> None:
    m, sink = mon
    emb = np.linspace(-1, 1, 8, dtype=np.float32)
    e = _send(
        m, sink, query=QUESTION, query_embedding=emb, answer=ANSWER,
        retrieved=[Retrieved("doc-9", 0.41), ("doc-2", 0.83, CONTEXT),
                   {"id": "doc-5", "score": 0.6}],
        prompt_tokens=412, completion_tokens=19, llm_model="small-llm", provider="local",
        stages={"retrieve": 0.012, "generate": 0.4}, session_id="s-1",
    )  # fmt: skip
    llm = e["llm"]
    assert [r["id"] for r in llm["retrieved"]] == ["doc-2", "doc-5", "doc-9"]  # best first
    assert llm["answer_chars"] == len(ANSWER)
    assert llm["answer_words"] == 13
    assert llm["empty"] is False and llm["refusal"] is False
    assert llm["citation"] == "overlap" and llm["cites_retrieved"] is True
    assert llm["stages_ms"] == {"retrieve": pytest.approx(12.0), "generate": pytest.approx(400.0)}
    assert llm["query_embedding"] == pytest.approx(emb.tolist())
    assert (llm["prompt_tokens"], llm["completion_tokens"]) == (412, 19)
    assert "contexts" not in llm and CONTEXT not in str(llm)  # passages never leave


def test_reported_citations_win_over_overlap(mon: Any) -> None:
    m, sink = mon
    e = _send(m, sink, query=QUESTION, answer=ANSWER, retrieved=[("a", 0.9, CONTEXT)],
              cited=["b"])  # fmt: skip
    assert e["llm"]["citation"] == "reported"
    assert e["llm"]["cites_retrieved"] is False


@pytest.mark.parametrize(
    ("answer", "empty", "refusal"),
    [
        ("", True, False),
        ("   \n", True, False),
        ("I'm sorry, but I cannot help with that request.", False, True),
        ("I don't have enough information to answer.", False, True),
        ("Sorry for the wait: the Danube.", False, False),
    ],
    ids=["empty", "whitespace", "sorry-cannot", "no-information", "not-a-refusal"],
)
def test_empty_and_refused_answers(mon: Any, answer: str, empty: bool, refusal: bool) -> None:
    m, sink = mon
    llm = _send(m, sink, query=QUESTION, answer=answer)["llm"]
    assert (llm["empty"], llm["refusal"]) == (empty, refusal)


def test_bad_values_are_named_never_raised(mon: Any) -> None:
    m, sink = mon
    llm = _send(
        m, sink, query=b"caf\xe9 ou th\xe9", answer=b"\xff\xfe", retrieved=[("a", float("nan")),
        ("b", "high"), object(), ("c", 0.5, b"\xc3\x28")], query_embedding=[0.0, 0.0],
        prompt_tokens=-4, completion_tokens=float("inf"), stages={"generate": "slow"},
        cited="doc-1",
    )["llm"]  # fmt: skip
    assert set(llm["problems"]) == {
        "query_not_utf8", "answer_not_utf8", "retrieved_score", "retrieved_item",
        "context_not_utf8", "query_embedding", "prompt_tokens", "completion_tokens", "stages",
        "cited",
    }  # fmt: skip
    assert llm["query"] == "caf\ufffd ou th\ufffd"
    assert [r["id"] for r in llm["retrieved"]] == ["c"]
    assert "prompt_tokens" not in llm and "query_embedding" not in llm
    assert m.stats()["dropped"] == {}


def test_the_privacy_policy_drops_text_but_lengths_remain() -> None:
    from prometheus_client import CollectorRegistry

    sink = MemorySink()
    policy = PrivacyPolicy({"query": "drop", "answer": "length", "session_id": "hash"},
                           hash_key="k")  # fmt: skip
    with Monitor("rag", "v1", sink=sink, privacy=policy, registry=CollectorRegistry()) as m:
        llm = _send(m, sink, query="mail me at ann@example.com", answer=ANSWER,
                    session_id="user-7")["llm"]  # fmt: skip
    assert "query" not in llm and llm["query_chars"] == 26
    assert llm["answer"] == {"length": len(ANSWER)}
    assert llm["session_id"] != "user-7" and len(llm["session_id"]) == 32
    assert "ann@example.com" not in str(sink.events)
