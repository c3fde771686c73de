"""LLM/RAG signals in the collector: events with an ``llm`` object -> window points ->
/metrics; judge results (feedback ``judge.<name>``) -> ``judge.*`` points; bad input
rejected with the field named.

Expected values are computed directly from the events sent (numpy), not read back
from the code under test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from driftline.sdk.clock import ManualClock
from driftline.server import Settings, create_app
from driftline.store import MetricQuery, open_store
from driftline.windows import WindowConfig
from driftline.windows.evaluator import EvaluatorOptions
from driftline.windows.llm import LLMOptions, mark_rephrases

from .test_alerting import _preset_collector
from .test_feedback_kpi import _sample

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
WINDOW = 60
GRACE = 10
PRICES = {"models": {"small-llm": {"prompt_per_million": 0.5, "completion_per_million": 2.0}}}


def _admin_client(tmp_path: Path) -> tuple[ManualClock, Any, Any, Any]:
    """:func:`_collector` with an in-process HTTP client holding an admin key (close it)."""
    import httpx

    from driftline.server.auth import create_key

    clock, store, app = _collector(tmp_path)
    key = create_key(store, clock, name="admin", scopes=("admin",))[0]
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://collector",
        headers={"Authorization": f"Bearer {key}"},
    )  # fmt: skip
    return clock, store, app, client


def _collector(tmp_path: Path, max_events: int = 20_000) -> tuple[ManualClock, Any, Any]:
    from driftline._utils.llm import PriceTable

    clock = ManualClock(T0)
    store = open_store(f"sqlite:///{tmp_path / 'c.db'}")
    llm = LLMOptions(prices=PriceTable.from_mapping(PRICES), max_events=max_events)
    settings = Settings(
        windows=WindowConfig(sizes=(WINDOW,), grace_seconds=GRACE, segment_keys=("site",)),
        evaluator=EvaluatorOptions(llm=llm),
    )
    app = create_app(settings, store, clock, background=False)
    return clock, store, app


def _event(i: int, ts: float, **llm: Any) -> dict[str, Any]:
    return {
        "type": "prediction", "event_id": f"e{i}", "prediction_id": f"p{i}", "timestamp": ts,
        "model": "rag", "version": "v1", "features": {"n": 1.0},
        "segment": {"site": "a" if i % 2 else "b"}, "llm": llm,
    }  # fmt: skip


def _points(store: Any, metric: str, segment: str = "*") -> list[dict[str, Any]]:
    rows = store.metric_points(MetricQuery(model="rag", metric=metric, segment=segment))
    return sorted(rows, key=lambda r: (r["window_start"], r["column"], r["method"]))


def test_window_signals_match_a_direct_computation(tmp_path: Path) -> None:
    clock, store, app = _collector(tmp_path)
    collector = app.state.collector
    rng = np.random.default_rng(3)
    n = 120
    top1 = rng.uniform(0.2, 0.9, n)
    second = top1 - rng.uniform(0.0, 0.2, n)
    chars = rng.integers(0, 400, n)
    refusal = rng.random(n) < 0.1
    cites = rng.random(n) < 0.7
    events = []
    for i in range(n):
        events.append(
            _event(
                i, T0 + 50 * i / n,
                retrieved=[{"id": f"d{i}", "score": float(top1[i])},
                           {"id": f"x{i}", "score": float(second[i])}],
                answer_chars=int(chars[i]), answer_words=int(chars[i]) // 5,
                empty=bool(chars[i] == 0), refusal=bool(refusal[i] and chars[i] > 0),
                cites_retrieved=bool(cites[i]), prompt_tokens=200 + i, completion_tokens=i,
                llm_model="small-llm" if i % 3 else "unpriced-llm",
                stages_ms={"retrieve": 10.0, "generate": 100.0 + i},
                problems=["answer_not_utf8"] if i == 7 else None,
            )
        )  # fmt: skip
    for e in events:
        if e["llm"]["problems"] is None:
            del e["llm"]["problems"]
    clock.advance(50)
    assert collector.ingest("prediction", events).accepted == n
    clock.advance(WINDOW + GRACE + 1)
    collector.tick()

    (p,) = _points(store, "rag.top1_similarity")
    assert p["value"] == pytest.approx(top1.mean())
    assert p["n"] == n
    (p,) = _points(store, "rag.topk_similarity")
    assert p["value"] == pytest.approx(((top1 + second) / 2).mean())
    (p,) = _points(store, "rag.high_similarity_ratio")
    assert p["value"] == pytest.approx((top1 >= 0.5).mean())
    (p,) = _points(store, "rag.citation_coverage")
    assert p["value"] == pytest.approx(cites.mean())
    (p,) = _points(store, "llm.answer_chars")
    assert p["value"] == pytest.approx(chars.mean())
    (p,) = _points(store, "llm.refusal_ratio")
    assert p["value"] == pytest.approx((refusal & (chars > 0)).mean())
    (p,) = _points(store, "llm.empty_answer_ratio")
    assert p["value"] == pytest.approx((chars == 0).mean())
    priced = [i for i in range(n) if i % 3]
    cost = sum((200 + i) * 0.5 + i * 2.0 for i in priced) / 1e6
    (p,) = _points(store, "llm.cost")
    assert p["value"] == pytest.approx(cost)
    assert p["n"] == len(priced)
    (p,) = _points(store, "llm.unpriced_requests")
    assert p["value"] == n - len(priced)
    tokens = {r["column"]: r["value"] for r in _points(store, "llm.prompt_tokens")}
    assert tokens[""] == sum(200 + i for i in range(n))
    assert tokens["small-llm"] == sum(200 + i for i in priced)
    stages = {r["method"]: r["value"] for r in _points(store, "llm.stage_latency_seconds")}
    assert stages["generate"] == pytest.approx((100 + np.arange(n)).mean() / 1000)
    (p,) = _points(store, "llm.bad_input")
    assert (p["column"], p["value"]) == ("answer_not_utf8", 1)
    # per segment too
    (pa_,) = _points(store, "rag.top1_similarity", "site=a")
    assert pa_["value"] == pytest.approx(top1[1::2].mean())

    metrics = collector_metrics(app)
    assert 'driftline_rag_similarity{model="rag",statistic="top1_mean",version="v1"}' in metrics
    assert 'driftline_llm_cost{currency="USD",model="rag",version="v1"}' in metrics


def collector_metrics(app: Any) -> str:
    """The monitoring results part of /metrics, as the route renders it."""
    from driftline.server.metrics import render_results

    collector = app.state.collector
    now = collector.clock.time()
    text = render_results(collector.store, WINDOW, now, max_age=3600, max_columns=50, max_series=50)
    return text.decode()


def test_rephrases_are_found_by_session_time_and_query_similarity() -> None:
    from driftline.windows.llm import _Request

    opts = LLMOptions()
    e1, e2 = [1.0, 0.0, 0.0], [0.9, 0.1, 0.0]  # cosine 0.994
    far = [0.0, 1.0, 0.0]
    reqs = [
        _Request(0.0, "s1", None, e1, {}),
        _Request(30.0, "s1", None, e2, {}),  # similar, 30 s later: a rephrase
        _Request(40.0, "s2", None, e2, {}),  # another session
        _Request(60.0, "s1", None, far, {}),  # a new question
        _Request(400.0, "s1", None, e1, {}),  # same question, too late
        _Request(0.0, "s3", "how do I reset my password", None, {}),
        _Request(20.0, "s3", "how can I reset the password", None, {}),  # words: jaccard 0.5
        _Request(25.0, "s3", "what is the refund policy", None, {}),
    ]
    reqs.sort(key=lambda r: r.ts)
    mark_rephrases(reqs, opts)
    got = {(r.session, r.ts): r.rephrase for r in reqs}
    assert got == {
        ("s1", 0.0): False, ("s1", 30.0): True, ("s2", 40.0): False, ("s1", 60.0): False,
        ("s1", 400.0): False, ("s3", 0.0): False, ("s3", 20.0): True, ("s3", 25.0): False,
    }  # fmt: skip


def test_judge_results_become_judge_points_and_garbage_is_counted(tmp_path: Path) -> None:
    clock, store, app = _collector(tmp_path)
    collector = app.state.collector
    events = [_event(i, T0 + i, retrieved=[{"id": "d", "score": 0.7}]) for i in range(20)]
    clock.advance(30)
    assert collector.ingest("prediction", events).accepted == 20
    fb = []
    scores = [0.2, 0.4, 0.9, 1.0]
    for s in scores:
        fb.append({"status": "scored", "version": "v2", "scores": {"faithfulness": s},
                   "cost": 0.001})  # fmt: skip
    fb += [
        {"status": "failed", "version": "v2", "reason": "ConnectionRefusedError"},
        {"status": "timeout", "version": "v2", "reason": "no answer in 1s"},
        {"status": "invalid", "version": "v2", "reason": "score_out_of_range:faithfulness"},
        {"status": "skipped", "version": "v2", "reason": "budget_calls"},
        {"status": "skipped", "version": "v2", "reason": "budget_calls"},
        {"status": "prechecked", "version": "v2", "reason": "empty_answer"},
        "garbage",
    ]
    records = [
        {"type": "feedback", "event_id": f"f{i}", "prediction_id": f"p{i}", "model": "rag",
         "version": "v1", "timestamp": T0 + 40, "kind": "judge.faithful", "value": v}
        for i, v in enumerate(fb)
    ]  # fmt: skip
    records += [
        {"type": "feedback", "event_id": f"t{i}", "prediction_id": f"p{i}", "model": "rag",
         "version": "v1", "timestamp": T0 + 41, "kind": "thumbs", "value": v}
        for i, v in enumerate(["down", "up", -1, "meh"])
    ]  # fmt: skip
    assert collector.ingest("feedback", records).accepted == len(records)
    clock.advance(WINDOW + GRACE)
    collector.tick()
    (p,) = _points(store, "judge.score")
    assert (p["column"], p["method"]) == ("faithful:faithfulness", "v2")
    assert p["value"] == pytest.approx(np.mean(scores))
    (p,) = _points(store, "judge.failures")
    assert p["value"] == 4  # failed, timeout, invalid and the garbage record
    assert _points(store, "judge.skipped")[0]["value"] == 2
    assert _points(store, "judge.prechecked")[0]["value"] == 1
    assert _points(store, "judge.cost")[0]["value"] == pytest.approx(0.004)
    assert _points(store, "llm.thumbs_down_ratio")[0]["value"] == pytest.approx(2 / 3)
    metrics = collector_metrics(app)
    assert (
        'driftline_judge_results{judge="faithful",model="rag",status="skipped",version="v1"} 2.0'
        in metrics
    )


def test_points_read_from_a_capped_window_say_so(tmp_path: Path) -> None:
    """More raw events or judge results than ``max_events``: the window's LLM points are of
    the latest ``max_events`` only (judge.skipped counts 8 of 11), and their details say
    which read was capped; a window under the cap says nothing."""
    import orjson

    clock, store, app = _collector(tmp_path, max_events=8)
    collector = app.state.collector
    events = [_event(i, T0 + i, retrieved=[{"id": "d", "score": 0.7}]) for i in range(20)]
    events += [_event(100 + i, T0 + WINDOW + i, retrieved=[{"id": "d", "score": 0.7}])
               for i in range(3)]  # fmt: skip
    clock.advance(WINDOW + 10)
    assert collector.ingest("prediction", events).accepted == 23
    skipped = {"status": "skipped", "version": "v2", "reason": "budget_calls"}
    records = [
        {"type": "feedback", "event_id": f"f{i}", "prediction_id": f"p{i}", "model": "rag",
         "version": "v1", "timestamp": T0 + 40 + i / 100, "kind": "judge.faithful",
         "value": skipped}
        for i in range(11)
    ]  # fmt: skip
    assert collector.ingest("feedback", records).accepted == 11
    clock.advance(2 * WINDOW + GRACE)
    collector.tick()
    first, second = (p["window_start"] for p in _points(store, "rag.top1_similarity"))
    by_window = {p["window_start"]: p for p in _points(store, "rag.top1_similarity")}
    capped = orjson.loads(by_window[first]["details"])["capped"]
    assert capped == {"reads": ["events", "judge"], "max_events": 8}
    assert by_window[first]["n"] == 8
    assert "capped" not in orjson.loads(by_window[second]["details"])
    (p,) = _points(store, "judge.skipped")
    assert p["value"] == 8  # of 11: the details say why
    assert orjson.loads(p["details"])["capped"]["reads"] == ["events", "judge"]


async def test_judge_results_count_in_their_requests_window_however_late(tmp_path: Path) -> None:
    """Issue 20: a judge result counts in the window of the request it judges, like a
    label, even when it arrives long after that window closed and the window it arrives
    in has no LLM traffic (before, such a result was counted nowhere); a result on an
    unknown prediction is rejected naming the field and counted in /metrics."""
    clock, store, app, client = _admin_client(tmp_path)
    collector = app.state.collector
    # requests in window 0; the last two record no LLM request (a plain prediction)
    events = [_event(i, T0 + i, retrieved=[{"id": "d", "score": 0.7}]) for i in range(10)]
    for e in events[8:]:
        del e["llm"]
    clock.advance(30)
    r = await client.post("/v1/events", json=events)
    assert r.json()["accepted"] == 10, r.text

    def judged(i: int, at: float, score: float, pid: str = "") -> dict[str, Any]:
        value = {"status": "scored", "version": "v1", "scores": {"relevance": score}}
        return {"type": "feedback", "event_id": f"j{i}", "prediction_id": pid or f"p{i}",
                "model": "rag", "timestamp": at, "kind": "judge.lex", "value": value}  # fmt: skip

    async def send(records: list[dict[str, Any]]) -> dict[str, Any]:
        r = await client.post("/v1/feedback", json=records)
        assert r.status_code in (200, 422), r.text
        body: dict[str, Any] = r.json()
        return body

    clock.advance(WINDOW + GRACE)
    collector.tick()  # window 0 closes before any result
    assert _points(store, "judge.score") == []
    scores = {i: 0.2 * (i % 5) for i in range(10)}
    assert (await send([judged(i, T0 + i + 50, scores[i]) for i in range(4)]))["accepted"] == 4
    collector.tick()  # the results mark their requests' window changed: evaluated again
    (p,) = _points(store, "judge.score")
    assert p["window_start"] == T0 and p["n"] == 4
    assert p["value"] == pytest.approx(np.mean([scores[i] for i in range(4)]))

    # 20 minutes later (past judge_lateness_seconds, 600 s), in windows without any traffic
    # (p8, p9: requests without an llm object), and one on a prediction never sent
    clock.advance(20 * WINDOW)
    late = [judged(i, clock.time(), scores[i]) for i in range(4, 10)]
    answer = await send([*late, judged(99, clock.time(), 1.0, pid="nope")])
    assert answer["accepted"] == 6
    (bad,) = answer["rejected"]
    assert bad["field"] == "prediction_id"
    assert "judge result for prediction_id 'nope'" in bad["error"]
    clock.advance(WINDOW + GRACE)
    collector.tick()
    (p,) = _points(store, "judge.score")  # every result, all in the requests' window
    assert p["window_start"] == T0 and p["n"] == 10
    assert p["value"] == pytest.approx(np.mean(list(scores.values())))
    assert {r["window_start"]: r["value"] for r in _points(store, "judge.calls")} == {T0: 10}
    assert {r["window_start"]: r["value"] for r in _points(store, "judge.late")} == {T0: 6}
    # a judge result is no user feedback: no feedback.* point of kind judge.lex
    assert [r for r in _points(store, "feedback.rate") if r["column"] == "judge.lex"] == []

    # a later window with LLM traffic but no results yet: /metrics keeps the judge's latest
    # results (of window 0) and says which window they are of
    now = [_event(100 + i, clock.time(), retrieved=[{"id": "d", "score": 0.7}]) for i in range(3)]
    assert (await client.post("/v1/events", json=now)).json()["accepted"] == 3
    clock.advance(WINDOW + GRACE)
    collector.tick()
    assert _points(store, "llm.requests")[-1]["window_start"] > T0
    text = (await client.get("/metrics")).text
    mv = {"model": "rag", "version": "v1"}
    assert _sample(text, "driftline_judge_results", judge="lex", status="late", **mv) == 6
    assert _sample(text, "driftline_judge_results", judge="lex", status="calls", **mv) == 10
    assert _sample(text, "driftline_judge_score", judge="lex", criterion="relevance", **mv) == (
        pytest.approx(np.mean(list(scores.values())))
    )
    start = _sample(text, "driftline_judge_window_start_timestamp_seconds", judge="lex", **mv)
    assert start == T0
    assert 'driftline_rejects_total{kind="judge",reason="unknown_prediction"} 1.0' in text
    assert 'driftline_rejects_total{kind="feedback",reason="unknown_prediction"} 0.0' in text
    await client.aclose()


async def test_thumbs_count_in_their_requests_window_however_late(tmp_path: Path) -> None:
    """Issue 20: a user's thumbs on an LLM request count in the window of that request
    (``llm.thumbs_down_ratio`` and ``llm.abandon_ratio``), re-evaluated when they arrive,
    as ``feedback.*`` already did. Before, they counted in the window they were recorded
    in: thumbs recorded in windows without LLM requests were counted nowhere (they were
    still in ``feedback.*``), and thumbs on an older request went into a later window's
    ratio. The ratio counts records (two thumbs-down on one request are two); thumbs on an
    unknown prediction are rejected naming the field and counted."""
    clock, store, app, client = _admin_client(tmp_path)
    collector = app.state.collector
    # window 0: five sessions of two requests each (p0 p1 | p2 p3 | ...): the second is
    # each session's last request, the one abandonment is judged on
    events = [_event(i, T0 + 4 * i, session_id=f"s{i // 2}", query=f"question {i}",
                     answer_chars=40) for i in range(10)]  # fmt: skip
    clock.advance(40)
    r = await client.post("/v1/events", json=events)
    assert r.json()["accepted"] == 10, r.text

    def thumbs(n: int, pid: str, value: Any) -> dict[str, Any]:
        return {"type": "feedback", "event_id": f"t{n}", "prediction_id": pid, "model": "rag",
                "timestamp": clock.time(), "kind": "thumbs", "value": value}  # fmt: skip

    async def send(records: list[dict[str, Any]]) -> dict[str, Any]:
        r = await client.post("/v1/feedback", json=records)
        assert r.status_code in (200, 422), r.text
        body: dict[str, Any] = r.json()
        return body

    # on time, in window 0
    assert (await send([thumbs(0, "p0", "up"), thumbs(1, "p1", "down")]))["accepted"] == 2
    clock.advance(WINDOW + GRACE)
    collector.tick()
    ((p,), (a,)) = _points(store, "llm.thumbs_down_ratio"), _points(store, "llm.abandon_ratio")
    assert (p["window_start"], p["value"], p["n"]) == (T0, 1 / 2, 2)
    assert (a["value"], a["n"]) == (1 / 5, 5)  # s0's last request got a thumbs-down

    # 20 minutes later, in windows without any request: thumbs on p1 (again), p2, p3, p5,
    # p7, p9, in the spellings thumbs_down reads, and one on a prediction never sent
    clock.advance(20 * WINDOW)
    late = [thumbs(2, "p1", "down"), thumbs(3, "p2", "down"), thumbs(4, "p3", -1),
            thumbs(5, "p5", False), thumbs(6, "p7", "up"), thumbs(7, "p9", 1)]  # fmt: skip
    answer = await send([*late, thumbs(99, "nope", "down")])
    assert answer["accepted"] == 6
    (bad,) = answer["rejected"]
    assert bad["field"] == "prediction_id" and "'nope'" in bad["error"]
    clock.advance(WINDOW + GRACE)
    collector.tick()
    # a later window with LLM requests of its own, where a thumbs-down on p8 (window 0)
    # is recorded: it counts in window 0, this window gets no thumbs ratio
    now = [_event(100 + i, clock.time() + i, session_id=f"n{i}", answer_chars=9)
           for i in range(3)]  # fmt: skip
    assert (await client.post("/v1/events", json=now)).json()["accepted"] == 3
    assert (await send([thumbs(8, "p8", "thumbs_down")]))["accepted"] == 1
    clock.advance(WINDOW + GRACE)
    collector.tick()
    assert _points(store, "llm.requests")[-1]["window_start"] > T0  # evaluated

    given = {"p0": False, "p1": True, "p2": True, "p3": True, "p5": True, "p7": False,
             "p9": False, "p8": True}  # fmt: skip
    records = [*given.values(), True]  # p1 got two thumbs-down
    (p,) = _points(store, "llm.thumbs_down_ratio")  # every thumb, all in the requests' window
    assert (p["window_start"], p["n"]) == (T0, len(records))
    assert p["value"] == pytest.approx(np.mean(records))  # 6 of 9 (before: 1 of 2)
    last = {f"s{k}": f"p{2 * k + 1}" for k in range(5)}  # each session's last request
    abandoned = [given.get(pid, False) for pid in last.values()]  # s0, s1, s2 of 5
    by_window = {a["window_start"]: a for a in _points(store, "llm.abandon_ratio")}
    assert by_window[T0]["value"] == pytest.approx(np.mean(abandoned))
    assert by_window[T0]["n"] == 5
    # the later window's sessions got no thumbs: none abandoned
    assert [a["value"] for w, a in by_window.items() if w != T0] == [0.0]
    # feedback.* counted them in the same window all along
    (rate,) = [r for r in _points(store, "feedback.rate") if r["column"] == "thumbs"]
    assert (rate["window_start"], rate["value"]) == (T0, pytest.approx(len(records) / 10))

    # /metrics: the latest window has no thumbs; the ratio is of window 0, which it says
    text = (await client.get("/metrics")).text
    mv = {"model": "rag", "version": "v1"}
    assert _sample(text, "driftline_llm_ratio", ratio="thumbs_down", **mv) == pytest.approx(
        np.mean(records)
    )
    assert _sample(text, "driftline_llm_thumbs_window_start_timestamp_seconds", **mv) == T0
    assert _sample(text, "driftline_llm_ratio", ratio="abandon", **mv) == 0.0  # latest window
    assert 'driftline_rejects_total{kind="feedback",reason="unknown_prediction"} 1.0' in text
    await client.aclose()


@pytest.mark.parametrize(
    ("llm", "field"),
    [
        ("text", "llm"),
        ({"retrieved": [{"id": "d", "score": "high"}]}, "llm.retrieved[0]"),
        ({"answer_chars": -3}, "llm.answer_chars"),
        ({"refusal": "yes"}, "llm.refusal"),
        ({"unknown_key": 1}, "llm.unknown_key"),
        ({"answer": "a\x00b"}, "llm.answer"),
    ],
    ids=["not-an-object", "score-not-a-number", "negative-count", "flag", "unknown", "nul"],
)
def test_a_bad_llm_object_is_rejected_naming_the_field(
    tmp_path: Path, llm: Any, field: str
) -> None:
    _, _, app = _collector(tmp_path)
    e = _event(1, T0, answer_chars=3)
    e["llm"] = llm
    good = _event(2, T0, answer_chars=4)
    result = app.state.collector.ingest("prediction", [e, good])
    assert result.accepted == 1
    assert result.rejected[0]["field"] == field


def test_rag_presets_fire_at_a_real_receiver(
    tmp_path: Path, receiver: tuple[str, list[dict[str, Any]]]
) -> None:
    """Retrieval falls and users rephrase from window 3 on; a judge fails throughout."""
    url, got = receiver
    presets = {"rag_retrieval_low": None, "rephrase_rate_high": None, "judge_failing": None}
    clock, _, collector = _preset_collector(tmp_path, url, {"presets": presets})
    rng = np.random.default_rng(5)
    fired: dict[str, int] = {}
    for w in range(7):
        bad = w >= 3
        start = T0 + w * WINDOW
        events = []
        for i in range(40):
            session = f"s{w}-{i // 2}"
            query = "how do i reset my password" if i % 2 == 0 or not bad else (
                "how can i reset my password please"
            )  # fmt: skip
            if not bad and i % 2:
                query = f"what is the refund policy for order {i}"
            events.append(_event(
                w * 1000 + i, start + i,
                retrieved=[{"id": "kb", "score": float(rng.uniform(0.2, 0.4) if bad
                                                      else rng.uniform(0.6, 0.9))}],
                answer_chars=200, session_id=session, query=query,
            ))  # fmt: skip
        clock.advance(start + 45 - clock.time())
        assert collector.ingest("prediction", events).accepted == 40
        judged = [
            {"type": "feedback", "event_id": f"j{w}", "prediction_id": f"p{w * 1000}",
             "model": "rag", "version": "v1", "timestamp": start + 44, "kind": "judge.remote",
             "value": {"status": "failed", "version": "1", "reason": "http_500"}}
        ]  # fmt: skip
        assert collector.ingest("feedback", judged).accepted == 1
        clock.advance(start + WINDOW + GRACE + 1 - clock.time())
        collector.tick()
        collector.alerts.run()
        for body in got:
            for a in body.get("alerts", []):
                if a.get("status") == "firing":
                    fired.setdefault(a["labels"]["alertname"], w)
    assert fired.get("rag_retrieval_low") == 4  # two bad windows (3, 4)
    assert fired.get("rephrase_rate_high") == 4
    assert fired.get("judge_failing") == 1  # failures from window 0, for 2


def test_prices_and_llm_thresholds_come_from_driftline_yaml() -> None:
    from driftline.errors import ConfigError
    from driftline.server.config import parse_serve_config

    cfg = parse_serve_config(
        {"collector": {"llm": {"high_similarity": 0.4, "rephrase_seconds": 60.0}}, "prices": PRICES}
    )
    llm = cfg.settings(env={}).evaluator.llm
    assert llm is not None
    assert (llm.high_similarity, llm.rephrase_seconds) == (0.4, 60.0)
    assert llm.prices.cost("small-llm", 1_000_000, 0) == 0.5
    off = parse_serve_config({"collector": {"llm": {"enabled": False}}})
    assert off.settings(env={}).evaluator.llm is None
    bad = {"models": {"small-llm": {"prompt_per_million": -1, "completion_per_million": 2}}}
    with pytest.raises(ConfigError, match=r"prices.models.small-llm.prompt_per_million"):
        parse_serve_config({"prices": bad})
    with pytest.raises(ConfigError, match=r"collector.llm"):
        parse_serve_config({"collector": {"llm": {"rephrase_cosine": 3}}})
