"""LLM-as-judge in the SDK: deterministic nested sampling, enforced budgets, and judges that
fail, hang or answer garbage costing one counted result each.

The judges are real: :func:`overlap_scorer` (a deterministic lexical scorer) called in
process, and the same scorer behind an HTTP server on loopback.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from driftline._utils.llm import sample_point
from driftline.sdk import MemorySink, Monitor
from driftline.sdk.clock import ManualClock
from driftline.sdk.judges import Judge, JudgeBudget, overlap_scorer
from support import http_server

CONTEXTS = [
    "The Danube flows through Vienna, Bratislava, Budapest and Belgrade.",
    "Vienna is the capital of Austria and its largest city.",
]
QUESTIONS = [
    "Which river flows through Vienna?",
    "What is the capital of Austria?",
    "Which cities does the Danube pass?",
    "How large is Vienna?",
]
ANSWERS = [
    "The Danube flows through Vienna.",
    "Vienna is the capital of Austria.",
    "It passes Vienna, Bratislava, Budapest and Belgrade.",
    "Bananas are yellow and grow in bunches.",  # unfaithful
]


def _monitor(*judges: Judge, clock: Any = None, prices: Any = None) -> tuple[Monitor, MemorySink]:
    sink = MemorySink()
    mon = Monitor(
        "rag", "v1", sink=sink, registry=CollectorRegistry(), flush_interval=0.01,
        judges=judges, clock=clock, prices=prices,
    )  # fmt: skip
    return mon, sink


def _ask(mon: Monitor, i: int, score: float = 0.8, answer: str | None = None) -> str:
    with mon.observe(prediction_id=f"req-{i}") as obs:
        obs.record_llm(
            query=QUESTIONS[i % 4], answer=ANSWERS[i % 4] if answer is None else answer,
            retrieved=[("vienna", score, CONTEXTS[0]), ("austria", score - 0.1, CONTEXTS[1])],
        )  # fmt: skip
    return obs.prediction_id


def _results(mon: Monitor, sink: MemorySink, n: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        mon.flush(2)
        got = [f for f in sink.feedback if f["kind"].startswith("judge.")]
        if len(got) >= n:
            return got
        time.sleep(0.02)
    raise AssertionError(f"{len(got)} judge results, expected {n}")


def test_sampling_is_deterministic_and_nested() -> None:
    ids = [f"pred-{i}" for i in range(20_000)]
    small = Judge("small", overlap_scorer, rate=0.01)
    large = Judge("large", overlap_scorer, rate=0.10)
    s1 = {i for i in ids if small.sampled(i)}
    s10 = {i for i in ids if large.sampled(i)}
    assert s1 <= s10  # a 1 % judge's sample is inside a 10 % judge's
    assert 140 <= len(s1) <= 260 and 1800 <= len(s10) <= 2200  # binomial, > 4 sd
    again = Judge("small", overlap_scorer, rate=0.01)
    assert {i for i in ids if again.sampled(i)} == s1  # a re-run picks the same
    weighted = {i for i in ids if small.sampled(i, weight=5.0)}
    assert s1 <= weighted and 850 <= len(weighted) <= 1150
    assert all(0 <= sample_point(i) < 1 for i in ids[:100])


def test_a_local_judge_scores_every_sampled_request() -> None:
    mon, sink = _monitor(Judge("lexical", overlap_scorer, version="2024-05", rate=1.0))
    with mon:
        for i in range(8):
            _ask(mon, i)
        got = _results(mon, sink, 8)
    by_id = {f["prediction_id"]: f["value"] for f in got}
    for i in range(8):
        v = by_id[f"req-{i}"]
        assert v["status"] == "scored" and v["version"] == "2024-05"
        want = overlap_scorer(QUESTIONS[i % 4], ANSWERS[i % 4], CONTEXTS)
        assert v["scores"] == pytest.approx(want["scores"])
        assert v["prompt_tokens"] == want["prompt_tokens"]
    assert by_id["req-3"]["scores"]["faithfulness"] == 0.0  # the banana answer
    assert by_id["req-0"]["scores"]["faithfulness"] == 1.0


@pytest.fixture
def http_judge() -> Iterator[tuple[str, dict[str, Any]]]:
    """The lexical scorer behind HTTP on loopback; ``mode`` makes it fail in one way."""
    state: dict[str, Any] = {"mode": "ok", "calls": 0}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return None

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state["calls"] += 1
            mode = state["mode"]
            if mode == "hang":
                time.sleep(3)
            status, out = 200, b""
            if mode == "error":
                status, out = 500, b"internal error"
            elif mode == "garbage":
                out = b"<html>not json</html>"
            elif mode == "out_of_range":
                out = json.dumps({"scores": {"faithfulness": 7}}).encode()
            else:
                result = overlap_scorer(body["question"], body["answer"], body["contexts"])
                out = json.dumps(result).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)
            except OSError:
                pass  # the client gave up (the hanging case)

    with http_server(Handler) as url:
        yield f"{url}/judge", state


@pytest.mark.parametrize(
    ("mode", "status", "reason"),
    [
        ("ok", "scored", None),
        ("error", "failed", "http_500"),
        ("garbage", "invalid", "not_json"),
        ("out_of_range", "invalid", "score_out_of_range:faithfulness"),
        ("hang", "timeout", "no answer in 0.3s"),
    ],
)
def test_an_http_judge_on_loopback_and_how_it_fails(
    http_judge: tuple[str, dict[str, Any]], mode: str, status: str, reason: str | None
) -> None:
    url, state = http_judge
    state["mode"] = mode
    mon, sink = _monitor(Judge("remote", url, rate=1.0, timeout=0.3, concurrency=1))
    with mon:
        t0 = time.perf_counter()
        for i in range(3):
            _ask(mon, i)
        request_path = time.perf_counter() - t0
        got = _results(mon, sink, 3)
        assert mon.judges is not None
        counts = dict(mon.judges.results["remote"])
    assert request_path < 0.1  # a failing or hanging judge is never waited for
    assert {f["value"]["status"] for f in got} == {status}
    assert {f["value"].get("reason") for f in got} == {reason}
    assert counts[status] == 3
    if mode == "ok":
        want = overlap_scorer(QUESTIONS[1], ANSWERS[1], CONTEXTS)["scores"]
        (one,) = [f for f in got if f["prediction_id"] == "req-1"]
        assert one["value"]["scores"] == pytest.approx(want)


def test_calls_per_minute_are_enforced_and_refill() -> None:
    clock = ManualClock(1_767_225_600.0)
    judge = Judge("lexical", overlap_scorer, rate=1.0, budget=JudgeBudget(calls_per_minute=5))
    mon, sink = _monitor(judge, clock=clock)
    with mon:
        for i in range(12):
            _ask(mon, i)
        got = _results(mon, sink, 12)
        assert sorted(f["value"]["status"] for f in got) == ["scored"] * 5 + ["skipped"] * 7
        assert {f["value"]["reason"] for f in got if "reason" in f["value"]} == {"budget_calls"}
        clock.advance(61)
        for i in range(12, 15):
            _ask(mon, i)
        got = _results(mon, sink, 15)
    assert sum(f["value"]["status"] == "scored" for f in got) == 8


def test_tokens_and_money_per_day_are_never_exceeded() -> None:
    clock = ManualClock(1_767_225_600.0)
    prices = {"models": {"judge-llm": {"prompt_per_million": 1000.0,
                                       "completion_per_million": 1000.0}}}  # fmt: skip
    per_call = max(
        overlap_scorer(q, a, CONTEXTS)["prompt_tokens"] + 2
        for q, a in zip(QUESTIONS, ANSWERS, strict=True)
    )
    tokens = Judge("tokens", overlap_scorer, rate=1.0, concurrency=3, tokens_per_call=per_call,
                   budget=JudgeBudget(tokens_per_day=10 * per_call))  # fmt: skip
    money = Judge("money", overlap_scorer, rate=1.0, model="judge-llm", tokens_per_call=per_call,
                  budget=JudgeBudget(cost_per_day=0.25))  # fmt: skip
    mon, sink = _monitor(tokens, money, clock=clock, prices=prices)
    with mon:
        for i in range(40):
            _ask(mon, i)
        got = _results(mon, sink, 80)
        used = sum(
            f["value"]["prompt_tokens"] + f["value"]["completion_tokens"]
            for f in got
            if f["kind"] == "judge.tokens" and f["value"]["status"] == "scored"
        )
        spent = sum(
            f["value"]["cost"]
            for f in got
            if f["kind"] == "judge.money" and f["value"]["status"] == "scored"
        )
        assert 9 * per_call <= used <= 10 * per_call
        assert 0.25 - per_call * 1000 / 1e6 <= spent <= 0.25
        reasons = {f["value"].get("reason") for f in got if f["value"]["status"] == "skipped"}
        assert reasons == {"budget_tokens", "budget_cost"}
        clock.advance(86_400)  # a new UTC day: the budgets start again
        _ask(mon, 100)
        got = _results(mon, sink, 82)
    assert {f["value"]["status"] for f in got if f["prediction_id"] == "req-100"} == {"scored"}


def test_concurrency_is_limited_and_suspicious_traffic_is_weighted() -> None:
    active, peak = [0], [0]
    lock = threading.Lock()

    def slow(question: str, answer: str, contexts: list[str]) -> dict[str, Any]:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.02)
        with lock:
            active[0] -= 1
        return overlap_scorer(question, answer, contexts)

    judge = Judge("slow", slow, rate=0.2, concurrency=2, suspicious_weight=5.0)
    mon, sink = _monitor(judge)
    with mon:
        for i in range(200):
            # odd requests retrieve poorly: suspicious, judged at 5 x 20 % = all of them
            _ask(mon, i, score=0.2 if i % 2 else 0.9)
        ids = {f"req-{i}" for i in range(200)}
        want_low = {i for i in ids if int(i[4:]) % 2 and judge.sampled(i, 5.0)}
        want_high = {i for i in ids if not int(i[4:]) % 2 and judge.sampled(i)}
        got = _results(mon, sink, len(want_low | want_high))
    assert {f["prediction_id"] for f in got} == want_low | want_high
    assert len(want_low) == 100  # every low-similarity request
    assert peak[0] <= 2


def test_empty_and_refused_answers_are_prechecked_without_a_call() -> None:
    calls = []

    def scorer(question: str, answer: str, contexts: list[str]) -> dict[str, Any]:
        calls.append(answer)
        return overlap_scorer(question, answer, contexts)

    mon, sink = _monitor(Judge("lexical", scorer, rate=1.0))
    with mon:
        _ask(mon, 0, answer="")
        _ask(mon, 1, answer="I'm sorry, I cannot answer that.")
        _ask(mon, 2)
        got = _results(mon, sink, 3)
    status = {f["prediction_id"]: (f["value"]["status"], f["value"].get("reason")) for f in got}
    assert status == {
        "req-0": ("prechecked", "empty_answer"),
        "req-1": ("prechecked", "refusal"),
        "req-2": ("scored", None),
    }
    assert calls == [ANSWERS[2]]


@pytest.mark.parametrize(
    ("result", "reason"),
    [
        ("5 stars", "not_a_mapping:str"),
        ({"scores": {}}, "no_scores"),
        ({"scores": {"faithfulness": "high"}}, "score_not_a_number:faithfulness"),
        ({"scores": {"faithfulness": float("nan")}}, "score_not_a_number:faithfulness"),
        ({"scores": {"faithfulness": 0.5}, "prompt_tokens": -1}, "bad_prompt_tokens"),
        (None, "not_a_mapping:NoneType"),
    ],
    ids=["string", "empty", "text-score", "nan", "negative-tokens", "none"],
)
def test_garbage_from_a_judge_is_counted_with_its_reason(result: Any, reason: str) -> None:
    mon, sink = _monitor(Judge("odd", lambda q, a, c: result, rate=1.0))
    with mon:
        _ask(mon, 0)
        (got,) = _results(mon, sink, 1)
    assert got["value"]["status"] == "invalid"
    assert got["value"]["reason"] == reason


def test_a_raising_judge_costs_a_counted_failure() -> None:
    def broken(question: str, answer: str, contexts: list[str]) -> Any:
        raise ConnectionError("judge endpoint down")

    mon, sink = _monitor(Judge("broken", broken, rate=1.0))
    with mon:
        for i in range(3):
            _ask(mon, i)
        got = _results(mon, sink, 3)
        assert len(sink.events) == 3  # the requests themselves are all sent
    assert {(f["value"]["status"], f["value"]["reason"]) for f in got} == {
        ("failed", "ConnectionError")
    }


def test_wait_offered_returns_once_the_shipper_handed_over_every_request() -> None:
    judge = Judge("lexical", overlap_scorer, rate=0.5)
    mon, sink = _monitor(judge)
    with mon:
        assert mon.judges is not None
        assert not mon.judges.wait_offered(1, 0.05)  # nothing sent yet
        for i in range(20):
            _ask(mon, i)
        assert mon.judges.wait_offered(20, 10)
        assert mon.judges.offered == 20  # sampled or not
        assert mon.judges.drain(10)
        judged = {f"req-{i}" for i in range(20) if judge.sampled(f"req-{i}")}
        assert 0 < len(judged) < 20
        got = _results(mon, sink, len(judged))
    assert {f["prediction_id"] for f in got} == judged
