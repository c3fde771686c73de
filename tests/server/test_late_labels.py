"""Labels that arrive after raw-event retention: the prediction index keeps what they need."""

from __future__ import annotations

from driftline.store import MetricQuery

from .conftest import Env, prediction

DAY = 86_400.0


def _label(i: int, label: int, ts: float) -> dict[str, object]:
    return {"event_id": f"l{i}", "prediction_id": f"p{i}", "timestamp": ts, "model": "m",
            "label": label}  # fmt: skip


def _accuracy(env: Env) -> list[float]:
    q = MetricQuery(metric="performance.accuracy", window_size=300)
    return [p["value"] for p in env.store.metric_points(q)]


async def test_a_label_six_months_late_updates_its_window(env: Env) -> None:
    preds = [prediction(i, prediction=i % 2) for i in range(20)]
    r = await env.client.post("/v1/events", json=preds, headers=env.auth("ingest"))
    assert r.json()["accepted"] == 20
    env.clock.advance(600)
    env.collector.tick()
    assert _accuracy(env) == []  # no label yet

    env.clock.advance(182 * DAY)  # past raw-event retention (30 days), within the horizon
    env.collector.tick()
    assert env.store.event_counts("m", "v1", 0, 2**40) == 0, "raw events were purged"

    # 8 right, 2 wrong: the window's realized accuracy is 0.8
    now = env.clock.time()
    labels = [_label(i, i % 2 if i < 8 else 1 - i % 2, now) for i in range(10)]
    r = await env.client.post("/v1/labels", json=labels, headers=env.auth("ingest"))
    assert r.json() == {"accepted": 10, "duplicates": 0, "rejected": [], "unmatched": 0}
    env.collector.tick()
    assert _accuracy(env) == [0.8]


async def test_a_label_past_every_horizon_is_counted_not_dropped(env: Env) -> None:
    await env.client.post("/v1/events", json=[prediction(1)], headers=env.auth("ingest"))
    env.clock.advance(600)
    env.collector.tick()
    env.clock.advance(400 * DAY)  # past the label horizon (365 days)
    env.collector.tick()
    r = await env.client.post(
        "/v1/labels", json=[_label(1, 1, env.clock.time())], headers=env.auth("ingest")
    )
    assert r.json()["accepted"] == 1 and r.json()["unmatched"] == 1
    metrics = (await env.client.get("/metrics", headers=env.auth("read"))).text
    assert 'driftline_labels_unmatched_total{model="m"} 1.0' in metrics
    assert _accuracy(env) == []
