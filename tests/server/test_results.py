"""References, metadata, metric series, samples, and the Prometheus export."""

from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import driftline
from driftline.server.metrics import LabelGuard

from .conftest import T0, Env, prediction


def reference_table(rng: np.random.Generator, n: int = 500) -> pa.Table:
    return pa.table({"x": rng.normal(4.5, 2.9, n), "c": rng.choice(["a", "b", "c"], n)})


async def test_reference_upload_as_profile_parquet_or_csv(
    env: Env, rng: np.random.Generator
) -> None:
    table = reference_table(rng)
    buf = io.BytesIO()
    pq.write_table(table, buf)
    bodies = {
        "profile": driftline.profile(table).to_bytes(),
        "parquet": buf.getvalue(),
        "csv": b"x,c\n1.5,a\n2.5,b\n",
    }
    for name, body in bodies.items():
        r = await env.client.put(
            f"/v1/models/m/versions/{name}/reference", content=body, headers=env.auth()
        )
        assert r.status_code == 200, (name, r.text)
        assert set(r.json()["columns"]) == {"x", "c"}
    r = await env.client.put(
        "/v1/models/m/versions/v9/reference", content=b"\x00\x01garbage", headers=env.auth()
    )
    assert r.status_code == 422
    version = (await env.client.get("/v1/models/m/versions/csv", headers=env.auth("read"))).json()
    assert version["schema"]["x"]["kind"] == "numeric"


async def test_metadata_and_version_diff(env: Env) -> None:
    a = {"owner": "ml", "dependencies": {"numpy": "1.26", "torch": "2.1"}, "task": "regression"}
    b = {"owner": "ml", "dependencies": {"numpy": "2.0", "xgboost": "2"}, "deployed_at": "today"}
    for v, meta in (("v1", a), ("v2", b)):
        r = await env.client.put(
            f"/v1/models/m/versions/{v}/metadata", json=meta, headers=env.auth()
        )
        assert r.status_code == 200
    r = await env.client.put(
        "/v1/models/m/versions/v1/metadata", json={"colour": "red"}, headers=env.auth()
    )
    assert r.status_code == 422 and "allowed" in r.json()["detail"]
    r = await env.client.get("/v1/models/m/diff", params={"a": "v1", "b": "v2"}, headers=env.auth())
    d = r.json()
    assert d["dependencies"] == {
        "added": {"xgboost": "2"},
        "removed": {"torch": "2.1"},
        "changed": {"numpy": {"a": "1.26", "b": "2.0"}},
    }
    assert set(d["fields"]) == {"task", "deployed_at"}
    r = await env.client.get("/v1/models/m/diff", params={"a": "v1", "b": "v7"}, headers=env.auth())
    assert r.status_code == 404


async def test_drift_reaches_metric_series_and_prometheus(
    env: Env, rng: np.random.Generator
) -> None:
    ref = driftline.profile(reference_table(rng)).to_bytes()
    await env.client.put("/v1/models/m/versions/v1/reference", content=ref, headers=env.auth())
    shifted = [prediction(i, features={"x": float(rng.normal(9, 1)), "c": "a"}) for i in range(200)]
    r = await env.client.post("/v1/events", json=shifted, headers=env.auth("ingest"))
    assert r.json()["accepted"] == 200
    env.clock.advance(400)
    assert env.collector.tick()["evaluated"] >= 1
    series = await env.client.get(
        "/v1/metrics",
        params={"metric": "drift_score", "column": "x", "window_size": 300},
        headers=env.auth("read"),
    )
    (point,) = series.json()
    assert point["status"] == "drift" and point["window_start"] == int(T0 // 300 * 300)
    text = (await env.client.get("/metrics", headers=env.auth("read"))).text
    assert 'driftline_events_ingested_total{model="m",version="v1"} 200.0' in text
    assert f'driftline_drift_score{{column="x",method="{point["method"]}",model="m"' in text
    assert 'driftline_drift_detected{column="x",model="m",version="v1"} 1.0' in text
    assert 'driftline_window_events{model="m",version="v1"} 200.0' in text
    assert "driftline_window_lag_seconds" in text
    sample = await env.client.get(
        "/v1/events/sample", params={"model": "m", "limit": 3}, headers=env.auth("read")
    )
    assert len(sample.json()) == 3 and "features" in sample.json()[0]


async def test_export_bounds_columns_per_version(env: Env) -> None:
    feats = {f"f{j:03d}": float(j) for j in range(150)}
    events = [prediction(i, features=feats) for i in range(5)]
    await env.client.post("/v1/events", json=events, headers=env.auth("ingest"))
    env.clock.advance(400)
    env.collector.tick()
    text = (await env.client.get("/metrics", headers=env.auth("read"))).text
    columns = {
        line.split('column="')[1].split('"')[0]
        for line in text.splitlines()
        if line.startswith("driftline_missing_ratio{")
    }
    assert len(columns) == env.collector.settings.max_export_columns


def test_label_guard_bounds_model_version_pairs() -> None:
    guard = LabelGuard(2)
    assert guard("m", "v1") == ("m", "v1")
    assert guard("m", "v2") == ("m", "v2")
    assert guard("m", "v3") == ("__other__", "__other__")
    assert guard("m", "v1") == ("m", "v1")


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
async def test_health_needs_no_key(env: Env, path: str) -> None:
    r = await env.client.get(path)
    assert r.status_code == 200


async def test_public_metrics_needs_no_key(env: Env) -> None:
    from driftline.server import Settings, create_app

    app = create_app(Settings(public_metrics=True), env.store, env.clock, background=False)
    import httpx

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://c") as client:
        r = await client.get("/metrics")
    assert r.status_code == 200 and "driftline_records_received_total" in r.text


async def test_estimated_accuracy_and_latency_quantiles_reach_series_and_prometheus(
    env: Env, rng: np.random.Generator
) -> None:
    x = rng.normal(size=2000)
    p = 1 / (1 + np.exp(-2 * x))
    y = (rng.random(2000) < p).astype(int)
    buf = io.BytesIO()
    pq.write_table(pa.table({"x": x, "p_0": 1 - p, "p_1": p, "y": y}), buf)
    r = await env.client.put(
        "/v1/models/m/versions/v1/reference",
        content=buf.getvalue(),
        params={"target": "y", "scores": "p_0,p_1"},
        headers=env.auth(),
    )
    assert r.status_code == 200, r.text
    assert r.json()["columns"]["p_1"]["role"] == "score"
    xs = rng.normal(size=300)
    ps = 1 / (1 + np.exp(-2 * xs))
    events = [
        prediction(
            i,
            features={"x": float(xs[i])},
            prediction=int(ps[i] > 0.5),
            scores={"0": float(1 - ps[i]), "1": float(ps[i])},  # by class
            latency_ms=float(1 + i % 10),
        )
        for i in range(300)
    ]
    assert (await env.client.post("/v1/events", json=events, headers=env.auth("ingest"))).json()[
        "accepted"
    ] == 300
    env.clock.advance(400)
    env.collector.tick()
    series = await env.client.get(
        "/v1/metrics",
        params={"metric": "estimated.accuracy", "window_size": 300, "segment": "*"},
        headers=env.auth("read"),
    )
    (point,) = series.json()
    assert point["method"] == "cbpe"
    assert point["value"] == pytest.approx(np.maximum(ps, 1 - ps).mean(), abs=1e-9)
    assert point["details"]["lower"] <= point["value"] <= point["details"]["upper"]
    latency = await env.client.get(
        "/v1/metrics",
        params={"metric": "latency_seconds", "window_size": 300, "segment": "*"},
        headers=env.auth("read"),
    )
    by_method = {q["method"]: q["value"] for q in latency.json()}
    assert set(by_method) == {"p50", "p90", "p95", "p99", "mean"}
    assert by_method["p50"] < by_method["p90"] <= by_method["p95"] <= by_method["p99"]
    text = (await env.client.get("/metrics", headers=env.auth("read"))).text
    for q in ("p50", "p90", "p95", "p99", "mean"):
        assert f'driftline_window_latency_seconds{{model="m",quantile="{q}",version="v1"}}' in text
    assert 'driftline_estimated_performance{method="cbpe",metric="accuracy",model="m"' in text
