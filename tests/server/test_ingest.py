"""POST /v1/events, /v1/labels, /v1/feedback, /v1/jobs: validation, limits, idempotency."""

from __future__ import annotations

import gzip
import json

import orjson
import pytest
from sqlalchemy.exc import OperationalError

from driftline.store import MetricQuery

from .conftest import T0, Env, prediction


async def test_events_are_idempotent_on_event_id(env: Env) -> None:
    batch = [prediction(i) for i in range(20)]
    r = await env.client.post("/v1/events", json=batch, headers=env.auth("ingest"))
    assert r.status_code == 200
    assert r.json() == {"accepted": 20, "duplicates": 0, "rejected": []}
    r = await env.client.post("/v1/events", json=[*batch[10:], prediction(99)], headers=env.auth())
    assert r.json() == {"accepted": 1, "duplicates": 10, "rejected": []}
    models = (await env.client.get("/v1/models", headers=env.auth("read"))).json()
    assert models[0]["model"] == "m"
    assert models[0]["versions"][0]["version"] == "v1"
    assert models[0]["versions"][0]["events"] == 21


async def test_partial_batch_lists_each_rejected_event_and_why(env: Env) -> None:
    batch = [
        prediction(1),
        prediction(2, timestamp="yesterday"),
        prediction(3, model=""),
        "not an object",
        prediction(4, status="maybe"),
        prediction(5, latency_ms=-1),
        {k: v for k, v in prediction(6).items() if k != "event_id"},
        prediction(7, timestamp=T0 + 10 * 86400),
    ]
    r = await env.client.post("/v1/events", json=batch, headers=env.auth("ingest"))
    assert r.status_code == 200
    body = r.json()
    assert body["accepted"] == 1
    fields = {x["index"]: x["field"] for x in body["rejected"]}
    assert fields == {
        1: "timestamp",
        2: "model",
        3: "",
        4: "status",
        5: "latency_ms",
        6: "event_id",
        7: "timestamp",
    }
    by_index = {x["index"]: x for x in body["rejected"]}
    assert by_index[4]["event_id"] == "e4"
    assert "allowed" in by_index[4]["error"]
    assert "RFC 3339" in by_index[1]["error"]


async def test_all_rejected_is_422_with_the_reasons(env: Env) -> None:
    r = await env.client.post(
        "/v1/events", json=[prediction(1, version=None)], headers=env.auth("ingest")
    )
    assert r.status_code == 422
    assert r.json()["rejected"][0]["field"] == "version"


async def test_ndjson_and_gzip_bodies(env: Env) -> None:
    lines = b"\n".join(orjson.dumps(prediction(i)) for i in range(5)) + b"\n{broken\n"
    headers = {**env.auth("ingest"), "Content-Type": "application/x-ndjson"}
    r = await env.client.post("/v1/events", content=lines, headers=headers)
    assert r.status_code == 200
    assert r.json()["accepted"] == 5
    assert r.json()["rejected"][0]["index"] == 5
    gz = gzip.compress(json.dumps([prediction(i) for i in range(5, 9)]).encode())
    headers = {**env.auth("ingest"), "Content-Encoding": "gzip"}
    r = await env.client.post("/v1/events", content=gz, headers=headers)
    assert r.json()["accepted"] == 4
    r = await env.client.post("/v1/events", content=gz[:20], headers=headers)
    assert r.status_code == 400 and "gzip" in r.json()["detail"]


async def test_limits_answer_413_and_422(env: Env) -> None:
    too_many = [prediction(i) for i in range(1001)]
    r = await env.client.post("/v1/events", json=too_many, headers=env.auth("ingest"))
    assert r.status_code == 422
    assert "at most 1000" in r.json()["detail"]
    big = b"[" + b" " * 2_000_001 + b"]"
    r = await env.client.post("/v1/events", content=big, headers=env.auth("ingest"))
    assert r.status_code == 413
    bomb = gzip.compress(b"[" + b" " * 9_000_000 + b"]", compresslevel=1)
    headers = {**env.auth("ingest"), "Content-Encoding": "gzip"}
    r = await env.client.post("/v1/events", content=bomb, headers=headers)
    assert r.status_code == 413
    r = await env.client.post("/v1/events", content=b"{nope", headers=env.auth("ingest"))
    assert r.status_code == 400
    headers = {**env.auth("ingest"), "Content-Encoding": "br"}
    r = await env.client.post("/v1/events", content=b"[]", headers=headers)
    assert r.status_code == 415


async def test_overload_answers_429_with_retry_after(env: Env) -> None:
    c = env.collector
    for _ in range(c.settings.max_inflight):
        c.admit()
    try:
        r = await env.client.post("/v1/events", json=[prediction(1)], headers=env.auth("ingest"))
    finally:
        for _ in range(c.settings.max_inflight):
            c.release()
    assert r.status_code == 429
    assert r.headers["Retry-After"] == "1"
    r = await env.client.post("/v1/events", json=[prediction(1)], headers=env.auth("ingest"))
    assert r.status_code == 200


async def test_store_outage_answers_503_and_nothing_is_acknowledged(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(rows: object) -> set[str]:
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    monkeypatch.setattr(env.store, "insert_events", down)
    r = await env.client.post("/v1/events", json=[prediction(1)], headers=env.auth("ingest"))
    assert r.status_code == 503
    assert r.headers["Retry-After"] == "5"
    monkeypatch.undo()
    r = await env.client.post("/v1/events", json=[prediction(1)], headers=env.auth("ingest"))
    assert r.json()["accepted"] == 1


async def test_late_labels_re_evaluate_their_window(env: Env) -> None:
    preds = [prediction(i, prediction=1) for i in range(10)]
    await env.client.post("/v1/events", json=preds, headers=env.auth("ingest"))
    env.clock.advance(600)
    env.collector.tick()

    def accuracy() -> list[tuple[int, float]]:
        q = MetricQuery(metric="performance.accuracy", window_size=300)
        return [(p["n"], p["value"]) for p in env.store.metric_points(q)]

    assert accuracy() == []
    labels = [
        {"event_id": f"l{i}", "prediction_id": f"p{i}", "timestamp": T0 + 700, "model": "m"}
        | {"label": 1 if i < 4 else 0}
        for i in range(6)
    ]
    r = await env.client.post("/v1/labels", json=labels, headers=env.auth("ingest"))
    assert r.json()["accepted"] == 6
    env.collector.tick()
    assert accuracy() == [(6, pytest.approx(4 / 6))]
    # the same labels again (a retry) change nothing; a corrected label re-evaluates
    await env.client.post("/v1/labels", json=labels, headers=env.auth("ingest"))
    env.collector.tick()
    assert accuracy() == [(6, pytest.approx(4 / 6))]
    fix = [labels[5] | {"event_id": "l5b", "label": 1}]
    await env.client.post("/v1/labels", json=fix, headers=env.auth("ingest"))
    env.collector.tick()
    assert accuracy() == [(6, pytest.approx(5 / 6))]
    q = MetricQuery(metric="label_coverage_ratio", window_size=300)
    assert env.store.metric_points(q)[0]["value"] == pytest.approx(0.6)


async def test_feedback_and_jobs(env: Env) -> None:
    fb = [
        {
            "event_id": "f1",
            "prediction_id": "p1",
            "timestamp": "2023-11-14T22:15:00Z",
            "model": "m",
            "kind": "thumbs",
            "value": 1,
        }
    ]
    # feedback names a stored prediction (else it is rejected: tests/server/test_feedback_kpi.py)
    r = await env.client.post("/v1/events", json=[prediction(1)], headers=env.auth("ingest"))
    assert r.json()["accepted"] == 1
    r = await env.client.post("/v1/feedback", json=fb, headers=env.auth("ingest"))
    assert r.json() == {"accepted": 1, "duplicates": 0, "rejected": []}
    r = await env.client.post("/v1/feedback", json=fb, headers=env.auth("ingest"))
    assert r.json()["duplicates"] == 1
    run = {
        "type": "job_run",
        "event_id": "j1",
        "job": "retrain",
        "run_id": "r1",
        "scheduled_at": None,
        "started_at": "2023-11-14T22:00:00Z",
        "finished_at": "2023-11-14T22:10:00.5Z",
        "status": "ok",
        "rows_in": 100,
        "rows_out": 98,
        "error": None,
        "metrics": {"docs": 12},
    }
    bad = run | {"run_id": "r2", "finished_at": "2023-11-14T21:00:00Z"}
    r = await env.client.post("/v1/jobs", json=[run, bad], headers=env.auth("ingest"))
    assert r.json()["accepted"] == 1
    assert r.json()["rejected"][0]["field"] == "finished_at"
    runs = (await env.client.get("/v1/jobs", headers=env.auth("read"))).json()
    assert runs[0]["run_id"] == "r1" and runs[0]["metrics"] == {"docs": 12}


async def test_wrong_kind_on_a_route_is_rejected(env: Env) -> None:
    r = await env.client.post(
        "/v1/labels", json=[prediction(1) | {"label": 1}], headers=env.auth("ingest")
    )
    assert r.status_code == 422
    assert r.json()["rejected"][0]["field"] == "type"


async def test_a_label_before_its_prediction_still_counts(env: Env) -> None:
    labels = [
        {"event_id": f"l{i}", "prediction_id": f"p{i}", "timestamp": T0, "model": "m", "label": i}
        for i in (0, 1)
    ]
    r = await env.client.post("/v1/labels", json=labels, headers=env.auth("ingest"))
    assert r.json()["accepted"] == 2
    preds = [prediction(i, prediction=i) for i in (0, 1)]
    await env.client.post("/v1/events", json=preds, headers=env.auth("ingest"))
    env.clock.advance(600)
    env.collector.tick()
    q = MetricQuery(metric="performance.accuracy", window_size=300)
    assert [p["value"] for p in env.store.metric_points(q)] == [1.0]
