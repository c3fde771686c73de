"""Issue 13's tenant attacks, each reproduced against a collector on SQLite and PostgreSQL.

One tenant's bad input must be answered for that record only (a 4xx naming
the field, the rest of the batch stored) and must not make another tenant
wait: feature floods are capped, a slow fold or checkpoint of one model does
not hold the lock other models' ingest needs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from driftline.sdk.clock import ManualClock
from driftline.server import Settings, create_app
from driftline.server.auth import create_key
from driftline.store import open_store
from driftline.windows import stats as window_stats
from postgres_db import store_url_fixture

from .conftest import T0, Env, prediction

store_url = store_url_fixture("driftline_isolation")


@pytest.fixture
async def tenant(store_url: str) -> AsyncIterator[Env]:
    clock = ManualClock(T0)
    store = open_store(store_url)
    keys = {
        scope: create_key(store, clock, name=scope, scopes=(scope,))[0]
        for scope in ("admin", "ingest", "read")
    }
    settings = Settings(max_version_columns=50, max_depth=32)
    app = create_app(settings, store, clock, background=False, dashboard=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://collector") as client:
        yield Env(app, client, store, clock, keys)
    store.close()


def limit_rejects(env: Env, limit: str) -> float:
    value = env.collector.metrics.registry.get_sample_value(
        "driftline_limit_rejects_total", {"limit": limit}
    )
    return value or 0.0


async def post(env: Env, path: str, body: Any) -> httpx.Response:
    return await env.client.post(path, content=orjson.dumps(body), headers=env.auth("ingest"))


# -- item 2: NUL characters are refused for that record, identically on every store --------

NUL_CASES = [
    ("/v1/events", "event_id", lambda i: prediction(i, event_id=f"e{i}\x00x")),
    ("/v1/events", "prediction_id", lambda i: prediction(i, prediction_id=f"p{i}\x00")),
    ("/v1/events", "features.a\\u0000b", lambda i: prediction(i, features={"a\x00b": 1.0})),
    ("/v1/events", "segment.region", lambda i: prediction(i, segment={"region": "eu\x00"})),
    # an empty name is refused as the message says (1 to 128 characters), as Arrow refuses it
    ("/v1/events", "features.", lambda i: prediction(i, features={"": 1.0})),
    ("/v1/events", "segment.", lambda i: prediction(i, segment={"": "eu"})),
]


def _label(i: int, **kw: Any) -> dict[str, Any]:
    e = {"event_id": f"l{i}", "prediction_id": f"p{i}", "timestamp": T0, "model": "m", "label": 1}
    return {**e, **kw}


def _feedback(i: int, **kw: Any) -> dict[str, Any]:
    e = {"event_id": f"f{i}", "prediction_id": f"p{i}", "timestamp": T0, "model": "m"}
    return {**e, "kind": "thumbs", "value": 1, **kw}


def _job(i: int, **kw: Any) -> dict[str, Any]:
    e = {"job": "etl", "run_id": f"r{i}", "started_at": T0 - 60, "finished_at": T0}
    return {**e, "status": "success", **kw}


NUL_CASES += [
    ("/v1/labels", "event_id", lambda i: _label(i, event_id="l\x00")),
    ("/v1/labels", "prediction_id", lambda i: _label(i, prediction_id="p\x00")),
    ("/v1/feedback", "prediction_id", lambda i: _feedback(i, prediction_id="p\x00")),
    ("/v1/jobs", "run_id", lambda i: _job(i, run_id="r\x00")),
    ("/v1/jobs", "error", lambda i: _job(i, status="failed", error="boom\x00")),
]


def _good(path: str, i: int) -> dict[str, Any]:
    return {
        "/v1/events": prediction,
        "/v1/labels": _label,
        "/v1/feedback": _feedback,
        "/v1/jobs": _job,
    }[path](i)


@pytest.mark.parametrize(("path", "field", "bad"), NUL_CASES, ids=[c[1] for c in NUL_CASES])
async def test_a_nul_character_rejects_that_record_and_the_rest_is_stored(
    tenant: Env, path: str, field: str, bad: Any
) -> None:
    if path == "/v1/feedback":  # feedback names stored predictions (unknown ones are rejected)
        stored = await post(tenant, "/v1/events", [prediction(i) for i in range(4)])
        assert stored.status_code == 200, stored.text
    r = await post(tenant, path, [_good(path, 0), bad(1), _good(path, 2)])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["accepted"] == 2
    [rej] = body["rejected"]
    assert rej["index"] == 1
    assert rej["field"] == field
    assert "NUL" in rej["error"]
    # the same body again: the good records are stored once (labels and job runs upsert)
    again = (await post(tenant, path, [_good(path, 0), bad(1), _good(path, 2)])).json()
    assert again["accepted"] + again["duplicates"] == 2 and len(again["rejected"]) == 1
    # and a batch of only the bad record is 422 (the SDK drops it, never retries it)
    alone = await post(tenant, path, [bad(3)])
    assert alone.status_code == 422


async def test_nul_events_leave_the_window_evaluable(tenant: Env) -> None:
    batch = [prediction(i) for i in range(20)]
    batch[5]["segment"] = {"region": "x\x00"}
    batch[6]["features"] = {"x\x00": 1.0}
    r = await post(tenant, "/v1/events", batch)
    assert r.json()["accepted"] == 18
    tenant.clock.advance(600)
    out = tenant.collector.tick()
    assert out["evaluated"] >= 1
    from driftline.store import MetricQuery

    points = tenant.store.metric_points(MetricQuery(model="m", metric="events", window_size=300))
    assert points[0]["value"] == 18.0


# -- item 6: nesting depth ----------------------------------------------------------------------


def _nested(depth: int) -> Any:
    v: Any = 1.0
    for _ in range(depth):
        v = [v]
    return v


@pytest.mark.parametrize("depth", [33, 300, 1000])
async def test_a_feature_nested_too_deep_is_a_4xx_for_that_record(tenant: Env, depth: int) -> None:
    batch = [prediction(0), prediction(1, features={"x": 1.0, "deep": "DEEP"})]
    batch.append(prediction(2, scores={"a": "DEEP"}))
    batch.append(prediction(3))
    deep = b"[" * depth + b"1.0" + b"]" * depth  # JSON encoders stop at ~255 levels
    body = orjson.dumps(batch).replace(b'"DEEP"', deep)
    r = await tenant.client.post("/v1/events", content=body, headers=tenant.auth("ingest"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["accepted"] == 2
    assert [(x["index"], x["field"]) for x in body["rejected"]] == [
        (1, "features.deep"),
        (2, "scores"),
    ]
    assert "max_depth=32" in body["rejected"][0]["error"]
    assert limit_rejects(tenant, "max_depth") == 2


async def test_nesting_within_the_limit_is_stored(tenant: Env) -> None:
    r = await post(tenant, "/v1/events", [prediction(0, tags={"a": _nested(31)})])
    assert r.json() == {"accepted": 1, "duplicates": 0, "rejected": []}
    r = await post(tenant, "/v1/events", [prediction(1, tags={"a": _nested(32)})])
    assert r.json()["rejected"][0]["field"] == "tags"


# -- item 7: repeated ids in one batch ------------------------------------------------------


async def test_repeated_ids_within_a_batch_are_counted_as_duplicates(tenant: Env) -> None:
    r = await post(tenant, "/v1/events", [prediction(0), prediction(1), prediction(0)])
    assert r.json() == {"accepted": 2, "duplicates": 1, "rejected": []}
    r = await post(tenant, "/v1/labels", [_label(0), _label(0), _label(1)])
    assert r.json()["duplicates"] == 1


# -- item 1: feature floods and locks -------------------------------------------------------


async def test_a_feature_flood_is_capped_per_version_and_counted(tenant: Env) -> None:
    flood = [
        prediction(i, model="evil", features={f"f{i}_{j}": "x" for j in range(400)})
        for i in range(10)
    ]
    r = await post(tenant, "/v1/events", flood)
    assert r.json()["accepted"] == 10
    got = await tenant.client.get("/v1/models/evil/versions/v1", headers=tenant.auth("read"))
    schema = got.json()["schema"]
    assert len(schema) == 50  # max_version_columns
    assert limit_rejects(tenant, "max_version_columns") == 4000 - 50
    metrics = (await tenant.client.get("/metrics", headers=tenant.auth("read"))).text
    assert 'driftline_limit_rejects_total{limit="max_version_columns"} 3950.0' in metrics
    tenant.clock.advance(600)
    assert tenant.collector.tick()["evaluated"] >= 1
    from driftline.store import MetricQuery

    [unknown] = tenant.store.metric_points(
        MetricQuery(model="evil", metric="unknown_features", window_size=300, segment="*")
    )
    assert unknown["value"] == 100  # names beyond the cap are counted (100 names kept)


def test_a_slow_checkpoint_of_one_model_does_not_block_another_models_ingest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While model A's partial is folded and packed (here: held), model B ingests at once.

    The fold is held on an event to stand for a long one (the attack took 139 s);
    A's events that arrive meanwhile are covered by the next save, none twice.
    """
    clock = ManualClock(T0)
    store = open_store(f"sqlite:///{tmp_path / 'c.db'}")
    app = create_app(Settings(), store, clock, background=False, dashboard=False)
    c = app.state.collector
    assert c.ingest("prediction", [prediction(i, model="a") for i in range(5)]).accepted == 5
    assert c.ingest("prediction", [prediction(100 + i, model="b") for i in range(5)]).accepted == 5
    entered, release = threading.Event(), threading.Event()
    real = window_stats.WindowStats.fold_blocks

    def held(self: Any, blocks: list[Any]) -> Any:
        if blocks and self.profile.schema.names == ["x", "c"] and held.model == "a":
            entered.set()
            release.wait(30)
        return real(self, blocks)

    held.model = "a"  # type: ignore[attr-defined]
    monkeypatch.setattr(window_stats.WindowStats, "fold_blocks", held)
    # only model a's partial is slow: flush a's partial first, b's after
    flusher = threading.Thread(target=lambda: c.tick(force_flush=True))
    flusher.start()
    assert entered.wait(10)
    held.model = ""  # type: ignore[attr-defined]
    t0 = time.perf_counter()
    more_b = [prediction(200 + i, model="b") for i in range(5)]
    assert c.ingest("prediction", more_b).accepted == 5
    more_a = [prediction(300 + i, model="a") for i in range(5)]
    assert c.ingest("prediction", more_a).accepted == 5
    waited = time.perf_counter() - t0
    release.set()
    flusher.join(30)
    assert waited < 5.0, f"ingest of other models waited {waited:.1f} s for a checkpoint"
    clock.advance(600)
    c.tick()
    from driftline.store import MetricQuery

    for model, n in (("a", 10), ("b", 10)):
        [p] = store.metric_points(MetricQuery(model=model, metric="events", window_size=300))
        assert p["value"] == n  # exactly once: nothing lost, nothing counted twice
    store.close()


# -- item 7: concatenated gzip members; ids that belong to another project ----------------


async def test_every_member_of_a_multi_member_gzip_body_is_read(tenant: Env) -> None:
    import gzip

    first = b"".join(orjson.dumps(prediction(i)) + b"\n" for i in range(2))
    second = orjson.dumps(prediction(2)) + b"\n"
    body = gzip.compress(first) + gzip.compress(second)  # what `cat a.gz b.gz` sends
    headers = {**tenant.auth("ingest"), "Content-Encoding": "gzip"}
    r = await tenant.client.post("/v1/events", content=body, headers=headers)
    assert r.json() == {"accepted": 3, "duplicates": 0, "rejected": []}
    r = await tenant.client.post("/v1/events", content=body + b"garbage", headers=headers)
    assert r.status_code == 400 and "gzip" in r.json()["detail"]


async def test_an_id_of_another_projects_record_is_a_conflict_not_a_silent_duplicate(
    tenant: Env,
) -> None:
    other, _ = create_key(tenant.store, tenant.clock, name="o", scopes=("ingest",), project="b")
    theirs = {"Authorization": f"Bearer {other}"}
    r = await post(tenant, "/v1/events", [prediction(0), prediction(1)])
    assert r.json()["accepted"] == 2
    squat = [prediction(0, model="theirs"), prediction(5, model="theirs")]
    r = await tenant.client.post("/v1/events", content=orjson.dumps(squat), headers=theirs)
    assert r.status_code == 200
    body = r.json()
    assert (body["accepted"], body["duplicates"]) == (1, 0)
    [rej] = body["rejected"]
    assert (rej["index"], rej["field"]) == (0, "event_id")
    assert "another model" in rej["error"]
    r = await tenant.client.post("/v1/events", content=orjson.dumps(squat[:1]), headers=theirs)
    assert r.status_code == 409
    # job runs: a run id of another project's job is refused, not silently dropped
    assert (await post(tenant, "/v1/jobs", [_job(1)])).json()["accepted"] == 1
    r = await tenant.client.post("/v1/jobs", content=orjson.dumps([_job(1)]), headers=theirs)
    assert r.status_code == 409 and r.json()["rejected"][0]["field"] == "run_id"
    # the owner's own retries are still plain duplicates
    again = await post(tenant, "/v1/events", [prediction(0)])
    assert again.json() == {"accepted": 0, "duplicates": 1, "rejected": []}
