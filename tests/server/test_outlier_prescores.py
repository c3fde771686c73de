"""Outlier scores computed in the SDK: the model route, and what the collector does with
pre-scored events (taken, rescored when stale or wrong, rejected when garbage)."""

from __future__ import annotations

import gzip
import json
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pytest

import driftline
from driftline._utils.outlier_wire import WireModel
from driftline.server import review
from driftline.store import MetricQuery
from driftline.windows import schema_to_json

from .conftest import T0, Env, prediction


def _reference(env: Env, seed: int = 4, version: str = "v1") -> None:
    rng = np.random.default_rng(seed)
    z = rng.multivariate_normal([0, 0], [[1, 0.8], [0.8, 1]], size=3000)
    ref = driftline.profile(
        pa.table({"a": z[:, 0], "b": z[:, 1], "k": rng.choice(["x", "y", "z"], 3000)}), seed=0
    )
    env.store.ensure_version("m", version, T0)
    env.store.put_reference("m", version, ref.to_bytes(), ref.n_rows, T0)
    env.store.replace_version_schema("m", version, schema_to_json(ref.schema))


def _events(n: int, n_odd: int, seed: int = 5) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        a, b = rng.multivariate_normal([0, 0], [[1, 0.8], [0.8, 1]])
        if i < n_odd:  # against the correlation: an outlier
            a, b = 2.5 + i * 0.1, -2.5
        feats = {"a": float(a), "b": float(b), "k": "xyz"[i % 3]}
        out.append(prediction(i, T0 + i * 0.5, features=feats))
    return out


async def _model(env: Env, **headers: str) -> tuple[WireModel, str]:
    r = await env.client.get(
        "/v1/models/m/versions/v1/outlier-model", headers={**env.auth("read"), **headers}
    )
    assert r.status_code == 200, r.text
    return WireModel(r.json()), r.headers["etag"]


def _prescored(model: WireModel, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    scores = model.score_rows([e["features"] for e in events])
    return [
        {**e, "outlier": {"score": s, "model": model.tag}}
        for e, s in zip(events, scores.tolist(), strict=True)
    ]


def _prescore_counts(env: Env) -> dict[str, float]:
    out = {}
    for metric in env.collector.metrics.outlier_prescores.collect():
        for s in metric.samples:
            if s.name.endswith("_total"):
                out[s.labels["result"]] = s.value
    return out


async def test_the_route_serves_the_model_with_an_etag_gzip_and_access_checks(env: Env) -> None:
    r = await env.client.get("/v1/models/m/versions/v1/outlier-model", headers=env.auth("read"))
    assert r.status_code == 404 and "has no reference" in r.text
    _reference(env)
    model, etag = await _model(env)
    assert etag == f'"{model.tag}"' and model.method == "mahalanobis"
    assert model.columns == ["a", "b", "k"] and model.kinds["k"] == "categorical"
    r = await env.client.get(
        "/v1/models/m/versions/v1/outlier-model",
        headers={**env.auth("read"), "If-None-Match": etag},
    )
    assert r.status_code == 304 and not r.content
    # gzip when asked (the SDK asks): the same document
    raw = await env.client.send(
        env.client.build_request(
            "GET", "/v1/models/m/versions/v1/outlier-model",
            headers={**env.auth("read"), "Accept-Encoding": "gzip"},
        ),
        stream=True,
    )  # fmt: skip
    body = b"".join([c async for c in raw.aiter_raw()])
    assert raw.headers["content-encoding"] == "gzip"
    assert WireModel(json.loads(gzip.decompress(body))).tag == model.tag
    # an ingest-only key may not read the reference's statistics; no key, no model
    r = await env.client.get("/v1/models/m/versions/v1/outlier-model", headers=env.auth("ingest"))
    assert r.status_code == 403
    assert (await env.client.get("/v1/models/m/versions/v1/outlier-model")).status_code == 401


async def test_a_new_reference_gives_a_new_tag(env: Env) -> None:
    _reference(env, seed=4)
    first, _ = await _model(env)
    _reference(env, seed=9)  # the route looks at the reference on every request
    second, _ = await _model(env)
    assert second.tag != first.tag


async def test_too_small_a_reference_says_why_there_is_no_model(env: Env) -> None:
    ref = driftline.profile(pa.table({"a": [1.0, 2.0, 3.0] * 10}))
    env.store.ensure_version("m", "v1", T0)
    env.store.put_reference("m", "v1", ref.to_bytes(), ref.n_rows, T0)
    r = await env.client.get("/v1/models/m/versions/v1/outlier-model", headers=env.auth("read"))
    assert r.status_code == 404
    assert "gives no outlier model" in r.text and "30 rows" in r.text


async def test_pre_scored_events_are_taken_and_become_review_candidates(env: Env) -> None:
    _reference(env)
    model, _ = await _model(env)
    events = _prescored(model, _events(300, 5))
    assert env.collector.ingest("prediction", events).accepted == 300
    assert _prescore_counts(env) == {"accepted": 300.0}
    env.clock.advance(400)
    env.collector.tick()
    (point,) = env.store.metric_points(MetricQuery(metric="outlier_share", limit=10))
    assert point["n"] == 300 and point["details"]
    # the odd events lead the queue with the scores the SDK sent
    items = review.queue(env.store, "m", 300, T0, T0 + 300)
    sent = {e["event_id"]: e["outlier"]["score"] for e in events}
    assert {i["event_id"] for i in items[:5]} == {f"e{i}" for i in range(5)}
    assert all(i["score"] == sent[i["event_id"]] for i in items)
    # the stored event keeps what the SDK sent
    payload = orjson.loads(env.store.event_payloads("m", ["e0"])["e0"])
    assert payload["outlier"] == {"score": sent["e0"], "model": model.tag}


async def test_a_forged_score_makes_the_batch_rescored(env: Env) -> None:
    _reference(env)
    model, _ = await _model(env)
    events = _prescored(model, _events(300, 5))
    for e in events[:5]:  # the odd events claim to be ordinary
        e["outlier"]["score"] = 0.5
    for e in events[5:]:  # and every other claims to be odd
        e["outlier"]["score"] = 50.0
    env.collector.ingest("prediction", events)
    assert _prescore_counts(env) == {"mismatch": 300.0}
    env.clock.advance(400)
    env.collector.tick()
    items = review.queue(env.store, "m", 300, T0, T0 + 300)
    own = model.score_rows([e["features"] for e in events[:5]])
    assert [i["event_id"] for i in items[:5]] == [f"e{i}" for i in np.argsort(-own)]
    assert items[0]["score"] == pytest.approx(float(own.max()), rel=1e-9)


async def test_stale_and_impossible_scores_are_rescored_garbage_is_rejected(env: Env) -> None:
    _reference(env)
    model, _ = await _model(env)
    events = _prescored(model, _events(40, 0))
    for e in events[:10]:
        e["outlier"]["model"] = "0123456789abcdef"  # a model the collector no longer has
    assert env.collector.ingest("prediction", events).accepted == 40
    assert _prescore_counts(env) == {"stale": 10.0, "accepted": 30.0}
    garbage = [
        ({"score": -1.0, "model": model.tag}, "outlier.score"),
        ({"score": "high", "model": model.tag}, "outlier.score"),
        ({"score": True, "model": model.tag}, "outlier.score"),
        ({"score": 1.0, "model": "../etc"}, "outlier.model"),
        ({"score": 1.0}, "outlier"),
        ({"score": 1.0, "model": model.tag, "flag": True}, "outlier"),
        ([1.0], "outlier"),
    ]
    bad = [
        {**prediction(100 + i, T0 + 1, features={"a": 0.0, "b": 0.0}), "outlier": o}
        for i, (o, _) in enumerate(garbage)
    ]
    r = await env.client.post("/v1/events", json=bad, headers=env.auth("ingest"))
    assert r.status_code == 422, r.text
    rejected = r.json()["rejected"]
    assert [x["field"] for x in rejected] == [f for _, f in garbage]
    assert "allowed: a finite number >= 0" in rejected[0]["error"]
    # JSON has no NaN or infinity; in-process callers could pass them
    odd = [
        {**prediction(200 + i, T0 + 1), "outlier": {"score": v, "model": model.tag}}
        for i, v in enumerate([float("nan"), float("inf")])
    ]
    result = env.collector.ingest("prediction", odd)
    assert result.accepted == 0 and [x["field"] for x in result.rejected] == ["outlier.score"] * 2


async def test_rescore_mode_scores_every_event_in_the_collector(env: Env) -> None:
    _reference(env)
    model, _ = await _model(env)
    env.collector.windows.config = env.collector.windows.config.__class__(
        outlier_prescores="rescore"
    )
    events = _prescored(model, _events(50, 0))
    env.collector.ingest("prediction", events)
    assert _prescore_counts(env) == {"rescored": 50.0}
    with pytest.raises(driftline.errors.ConfigError, match="allowed: check, rescore"):
        env.collector.windows.config.__class__(outlier_prescores="trust")
