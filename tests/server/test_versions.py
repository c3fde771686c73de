"""Versions in the collector: labels reach shadows, verdict points, the compare API, /metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from driftline.store import MetricQuery
from driftline.windows import ALL

from .conftest import T0, Env, prediction

N = 3000  # labelled requests: enough for a verdict on a 10-point accuracy gap


def _rollout(
    n: int, acc_b: float, *, shadow: bool, seed: int = 0, scores: bool = False
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Champion v1 right 90 % of the time; challenger v2 right ``acc_b`` (shadow: scoring
    the same requests, else on its own half of the traffic). Returns (events, labels)."""
    rng = np.random.default_rng(seed)
    events, labels = [], []
    for i in range(n):
        y = int(rng.integers(0, 2))
        ts = T0 + (i % 250)  # one base window
        served = "v1" if shadow or i % 2 == 0 else "v2"
        acc = 0.9 if served == "v1" else acc_b
        p = y if rng.random() < acc else 1 - y
        extra = (
            {"scores": {"1": 0.8 if p == 1 else 0.2, "0": 0.2 if p == 1 else 0.8}} if scores else {}
        )
        events.append(prediction(i, ts, version=served, prediction=p, **extra))
        if shadow:
            pb = y if rng.random() < acc_b else 1 - y
            extra_b = (
                {"scores": {"1": 0.7 if pb else 0.3, "0": 0.3 if pb else 0.7}} if scores else {}
            )
            events.append(
                prediction(
                    i,
                    ts,
                    event_id=f"s{i}",
                    version="v2",
                    shadow=True,
                    prediction=pb,
                    latency_ms=4.0,
                    **extra_b,
                )
            )
        labels.append(
            {
                "type": "label",
                "event_id": f"l{i}",
                "prediction_id": f"p{i}",
                "timestamp": ts + 1,
                "model": "m",
                "label": y,
            }
        )
    return events, labels


async def _ingest(env: Env, events: list[dict[str, Any]], labels: list[dict[str, Any]]) -> None:
    for kind, rows in (("events", events), ("labels", labels)):
        for i in range(0, len(rows), 1000):
            r = await env.client.post(
                f"/v1/{kind}", json=rows[i : i + 1000], headers=env.auth("ingest")
            )
            assert r.status_code == 200, r.text
    env.clock.advance(3600)
    env.collector.tick(force_flush=True)


def _points(env: Env, version: str, metric: str) -> list[dict[str, Any]]:
    q = MetricQuery(model="m", version=version, metric=metric, segment=ALL, window_size=300)
    return env.store.metric_points(q)


async def test_labels_reach_the_shadow_and_a_worse_shadow_is_called_worse(env: Env) -> None:
    events, labels = _rollout(N, 0.8, shadow=True)
    await _ingest(env, events, labels)
    acc = {v: _points(env, v, "performance.accuracy") for v in ("v1", "v2")}
    assert len(acc["v2"]) == 1, "the shadow got realized metrics from the champion's labels"
    assert abs(acc["v1"][0]["value"] - 0.9) < 0.03
    assert abs(acc["v2"][0]["value"] - 0.8) < 0.03
    cov = _points(env, "v2", "label_coverage_ratio")
    assert cov[0]["value"] == 1.0
    verdict = _points(env, "v2", "versus.verdict")
    assert [(p["status"], p["value"], p["column"]) for p in verdict] == [("worse", -1.0, "v1")]
    assert _points(env, "v1", "versus.verdict") == [], "the champion is not compared with itself"
    share = _points(env, "v2", "versus.share_scored")
    assert share[0]["value"] == 1.0

    r = await env.client.get(
        "/v1/models/m/versions/compare", params={"b": "v2"}, headers=env.auth("read")
    )
    assert r.status_code == 200, r.text
    c = r.json()
    assert (c["a"], c["b"], c["verdict"], c["paired"]) == ("v1", "v2", "worse", True)
    assert c["share_scored"] == 1.0
    assert c["mcnemar"]["p_value"] < 1e-6
    assert c["metrics"][0]["metric"] == "accuracy" and c["metrics"][0]["seq_high"] < 0
    ops = c["operational"]
    assert ops["v1"]["events"] == N and ops["v2"]["events"] == N
    assert ops["v2"]["latency_p50_seconds"] > ops["v1"]["latency_p50_seconds"]

    text = (await env.client.get("/metrics", headers=env.auth("read"))).text
    assert 'driftline_version_verdict{champion="v1",model="m",version="v2"} -1.0' in text
    assert 'driftline_version_share_scored{champion="v1",model="m",version="v2"} 1.0' in text


async def test_split_traffic_is_compared_unpaired_with_auc(env: Env) -> None:
    events, labels = _rollout(N, 0.9, shadow=False, scores=True, seed=3)
    await _ingest(env, events, labels)
    r = await env.client.get(
        "/v1/models/m/versions/compare", params={"a": "v1", "b": "v2"}, headers=env.auth("read")
    )
    c = r.json()
    assert c["paired"] is False and c["share_scored"] is None
    assert [m["metric"] for m in c["metrics"]] == ["accuracy", "auc"]
    assert c["verdict"] in ("undecided", "equivalent")
    if c["verdict"] == "undecided":
        assert c["n_needed"] > 0


async def test_versions_with_different_tasks_are_not_comparable(env: Env) -> None:
    events, labels = _rollout(400, 0.9, shadow=True)
    await _ingest(env, events, labels)
    for v, task in (("v1", "classification"), ("v2", "regression")):
        r = await env.client.put(
            f"/v1/models/m/versions/{v}/metadata", json={"task": task}, headers=env.auth("admin")
        )
        assert r.status_code == 200, r.text
    r = await env.client.get(
        "/v1/models/m/versions/compare", params={"a": "v1", "b": "v2"}, headers=env.auth("read")
    )
    c = r.json()
    assert c["verdict"] == "not_comparable"
    assert c["reason"] == "different tasks: v1 is classification, v2 is regression"
    r = await env.client.get(
        "/v1/models/m/versions/compare", params={"a": "v1", "b": "v9"}, headers=env.auth("read")
    )
    assert r.status_code == 404 and "no version 'v9'" in r.json()["detail"]


async def test_too_few_labels_never_get_a_verdict(env: Env) -> None:
    events, labels = _rollout(120, 0.2, shadow=True)
    await _ingest(env, events, labels)
    verdict = _points(env, "v2", "versus.verdict")
    assert [(p["status"], p["value"]) for p in verdict] == [("insufficient_data", None)]


async def test_the_comparison_options_come_from_driftline_yaml(env: Env, tmp_path: Path) -> None:
    """``collector.versions`` sets what a verdict needs: 120 labelled requests are too few
    at the default min_n (200), and enough at min_n 50 (`versions compare --config`)."""
    from driftline.server.versions_cli import _local

    events, labels = _rollout(120, 0.2, shadow=True)
    await _ingest(env, events, labels)
    url = f"sqlite:///{tmp_path}/c.db"
    config = tmp_path / "driftline.yaml"
    config.write_text("collector:\n  versions: {lookback: 3650d}\n")
    assert _local(url, "m", "v1", "v2", config)["verdict"] == "insufficient_data"
    config.write_text("collector:\n  versions: {lookback: 3650d, min_n: 50}\n")
    assert _local(url, "m", "v1", "v2", config)["verdict"] == "worse"


async def test_latency_of_a_range_says_where_the_merged_quantile_lies(env: Env) -> None:
    """Two windows, one fast and busy, one slow and quiet: the events-weighted mean of the
    windows' p50 is not the p50 of all requests, which lies in the reported range."""
    from driftline.windows import WindowConfig
    from driftline.windows.versions import Rollouts

    rng = np.random.default_rng(3)
    fast = rng.uniform(1, 5, 900)  # window 0: 900 requests, 1-5 ms
    slow = rng.uniform(200, 400, 100)  # window 1: 100 requests, 200-400 ms
    events = [prediction(i, T0 + i % 250, latency_ms=float(v)) for i, v in enumerate(fast)]
    events += [
        prediction(900 + i, T0 + 300 + i % 250, latency_ms=float(v)) for i, v in enumerate(slow)
    ]
    await _ingest(env, events, [])
    ops = Rollouts(env.store, WindowConfig()).operational("m", "v1", int(T0) - 300, int(T0) + 900)
    assert ops["events"] == 1000
    for q, name in ((0.5, "p50"), (0.95, "p95"), (0.99, "p99")):
        merged = float(np.quantile(np.concatenate([fast, slow]) / 1000, q))
        lo, hi = ops[f"latency_{name}_range"]
        assert lo * 0.97 <= merged <= hi * 1.03, (name, merged, lo, hi)
    # the weighted mean of the p99s (0.9 * ~5 ms + 0.1 * ~400 ms) is far from the true p99
    true_p99 = float(np.quantile(np.concatenate([fast, slow]) / 1000, 0.99))
    assert abs(ops["latency_p99_seconds"] - true_p99) > 0.1 * true_p99
