"""Feedback and KPIs through the collector: rates, shares and means per window; bad input."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from driftline.alerts import MetricPoint
from driftline.alerts.rules import SLOConfig
from driftline.alerts.slo import SLOTracker

from .conftest import T0, Env, prediction


def _feedback(i: int, kind: str, value: Any, **kw: Any) -> dict[str, Any]:
    return {
        "event_id": f"f{kind}{i}", "prediction_id": f"p{i}", "timestamp": T0 + 5,
        "model": "m", "kind": kind, "value": value, **kw,
    }  # fmt: skip


async def _points(env: Env, metric_prefix: str = "") -> dict[tuple[str, str, str, str], Any]:
    r = await env.client.get(
        "/v1/metrics",
        params={"model": "m", "window_size": 300, "limit": 10000},
        headers=env.auth("read"),
    )
    assert r.status_code == 200, r.text
    return {
        (p["metric"], p["segment"], p["column"], p["method"]): p
        for p in r.json()
        if p["metric"].startswith(metric_prefix)
    }


async def test_feedback_rates_shares_and_kpis_per_window_and_segment(env: Env) -> None:
    sites = ["north", "south"]
    events = [prediction(i, ts=T0 + i * 0.5, segment={"site": sites[i % 2]}) for i in range(100)]
    r = await env.client.post("/v1/events", json=events, headers=env.auth("ingest"))
    assert r.json()["accepted"] == 100
    # thumbs on 40 predictions: north (even) 15 up 5 down, south (odd) 5 up 15 down
    thumbs = [
        _feedback(i, "thumbs", "up" if (i % 2 == 0) == (i < 30) else "down") for i in range(40)
    ]
    ratings = [_feedback(i, "rating", 1 + i % 5) for i in range(50)]
    kpis = [
        {"event_id": f"k{i}", "prediction_id": f"p{i}", "timestamp": T0 + 6, "model": "m",
         "name": "revenue", "value": 10.0 * (i % 3)}
        for i in range(60)
    ]  # fmt: skip
    kpis.append(  # a KPI of the version, not of a prediction: the window of its timestamp
        {"event_id": "k-day", "timestamp": T0 + 7, "model": "m", "version": "v1",
         "name": "minutes_saved", "value": 42.5}
    )  # fmt: skip
    for path, body in (("/v1/feedback", thumbs + ratings), ("/v1/kpis", kpis)):
        r = await env.client.post(path, json=body, headers=env.auth("ingest"))
        assert r.status_code == 200 and r.json()["rejected"] == [], r.text
    env.clock.advance(400)
    env.collector.tick()
    p = await _points(env)

    rate = p[("feedback.rate", "*", "thumbs", "")]
    assert rate["value"] == pytest.approx(40 / 100) and rate["n"] == 100
    up = [i for i in range(40) if (i % 2 == 0) == (i < 30)]
    assert p[("feedback.share", "*", "thumbs", "up")]["value"] == pytest.approx(len(up) / 40)
    north_up = sum(1 for i in up if i % 2 == 0) / 20
    assert p[("feedback.share", "site=north", "thumbs", "up")]["value"] == pytest.approx(north_up)
    assert p[("feedback.rate", "site=south", "thumbs", "")]["value"] == pytest.approx(20 / 50)
    mean = p[("feedback.mean", "*", "rating", "")]
    assert mean["value"] == pytest.approx(np.mean([1 + i % 5 for i in range(50)]))
    assert json_se(mean) == pytest.approx(
        np.std([1 + i % 5 for i in range(50)], ddof=1) / math.sqrt(50)
    )
    revenue = p[("kpi.revenue", "*", "", "")]
    assert revenue["value"] == pytest.approx(np.mean([10.0 * (i % 3) for i in range(60)]))
    assert revenue["n"] == 60
    assert p[("kpi.minutes_saved", "*", "", "")]["value"] == pytest.approx(42.5)

    text = (await env.client.get("/metrics", headers=env.auth("read"))).text
    assert 'driftline_feedback_rate{kind="thumbs",model="m",version="v1"} 0.4' in text
    assert 'driftline_kpi{kpi="revenue",model="m",version="v1"} 10.0' in text
    assert 'driftline_feedback_share{kind="thumbs",model="m",value="up",version="v1"}' in text

    page = await env.client.get(
        "/ui/models/m", params={"version": "v1", "range": "1h"}, headers=env.auth("read")
    )
    assert page.status_code == 200, page.text[:300]
    for kind in ("feedback.rate", "feedback.share", "feedback.mean", "kpi."):
        assert f'data-signal="{kind}"' in page.text, kind
    assert 'data-kpi="revenue"' in page.text and 'data-kpi="minutes_saved"' in page.text
    assert 'id="chart-kpi-kpi-revenue"' in page.text


def json_se(point: dict[str, Any]) -> float:
    import orjson

    details = point["details"]
    return float((orjson.loads(details) if isinstance(details, str) else details)["stderr"])


async def test_feedback_arriving_later_re_evaluates_its_window(env: Env) -> None:
    events = [prediction(i) for i in range(10)]
    await env.client.post("/v1/events", json=events, headers=env.auth("ingest"))
    env.clock.advance(400)
    env.collector.tick()
    assert not await _points(env, "feedback.")
    body = [_feedback(i, "override", True) for i in range(3)]
    r = await env.client.post("/v1/feedback", json=body, headers=env.auth("ingest"))
    assert r.json()["accepted"] == 3
    env.collector.tick()
    p = await _points(env, "feedback.")
    assert p[("feedback.rate", "*", "override", "")]["value"] == pytest.approx(0.3)
    assert p[("feedback.share", "*", "override", "true")]["value"] == 1.0


async def test_bad_feedback_kpis_and_job_metrics_are_refused_clearly_and_counted(
    env: Env,
) -> None:
    await env.client.post("/v1/events", json=[prediction(1)], headers=env.auth("ingest"))
    body = [_feedback(1, "thumbs", "up"), _feedback(999, "thumbs", "down")]
    r = await env.client.post("/v1/feedback", json=body, headers=env.auth("ingest"))
    assert r.status_code == 200 and r.json()["accepted"] == 1  # the good one is kept
    (bad,) = r.json()["rejected"]
    assert bad["index"] == 1 and bad["field"] == "prediction_id"
    assert "'p999'" in bad["error"] and "no such prediction" in bad["error"]

    kpis = [
        {"event_id": "k1", "prediction_id": "p1", "timestamp": T0, "model": "m",
         "name": "accuracy", "value": 1.0},
        {"event_id": "k2", "prediction_id": "p1", "timestamp": T0, "model": "m",
         "name": "Error-Rate", "value": 1.0},
        {"event_id": "k3", "prediction_id": "p1", "timestamp": T0, "model": "m",
         "name": "revenue", "value": "12 EUR"},
        {"event_id": "k4", "timestamp": T0, "model": "m", "name": "revenue", "value": 3.0},
        {"event_id": "k5", "prediction_id": "p1", "timestamp": T0, "model": "m",
         "name": "revenue", "value": 12.0},
    ]  # fmt: skip
    r = await env.client.post("/v1/kpis", json=kpis, headers=env.auth("ingest"))
    assert r.json()["accepted"] == 1, r.text
    errors = {x["index"]: x for x in r.json()["rejected"]}
    assert "clashes with the built-in signal 'accuracy'" in errors[0]["error"]
    assert "'error_rate'" in errors[1]["error"]
    assert errors[2]["field"] == "value" and "finite number" in errors[2]["error"]
    assert errors[3]["field"] == "version"  # without a prediction the version is needed

    run = {
        "job": "ingest_docs", "run_id": "r1", "started_at": T0, "finished_at": T0 + 5,
        "status": "success", "metrics": {"documents": 1200, "lag": "3 minutes"},
    }  # fmt: skip
    r = await env.client.post("/v1/jobs", json=[run], headers=env.auth("ingest"))
    assert r.status_code == 422
    (bad,) = r.json()["rejected"]
    assert bad["field"] == "metrics.lag" and "lag='3 minutes'" in bad["error"]

    text = (await env.client.get("/metrics", headers=env.auth("read"))).text
    assert 'driftline_rejects_total{kind="feedback",reason="unknown_prediction"} 1.0' in text
    assert 'driftline_rejects_total{kind="kpi",reason="builtin_name"} 2.0' in text
    assert 'driftline_rejects_total{kind="job_run",reason="non_numeric_metric"} 1.0' in text
    assert 'driftline_records_received_total{kind="kpi",outcome="rejected"} 4.0' in text


def _kpi_point(day: int, hour: int, value: float, n: int = 10) -> MetricPoint:
    start = T0 - T0 % 86400 + day * 86400 + hour * 3600
    return MetricPoint("m", "v1", "*", "kpi.revenue", "", start, start + 3600, value, n=n)


def test_quality_slo_on_a_kpi_judges_the_daily_mean_against_30_days() -> None:
    slo = SLOConfig(
        name="revenue", kind="quality", objective=0.9, metric="kpi.revenue", every="1d",
        tolerance=0.1, baseline="30d",
    )  # fmt: skip
    tracker = SLOTracker([slo])
    rng = np.random.default_rng(0)
    for day in range(10):
        for hour in range(24):
            # one bad hour a day (the hourly values swing far more than 10 %), steady days
            value = 100.0 + rng.normal(0, 5) - (60 if hour == 3 else 0)
            tracker.observe(_kpi_point(day, hour, value))
    status = tracker.status_of("revenue", _kpi_point(0, 0, 0.0))
    assert status is not None and status["error_ratio"] == 0.0  # no bad day yet
    for hour in range(24):  # a day 20 % down: the daily mean is out of tolerance
        tracker.observe(_kpi_point(10, hour, 80.0 + rng.normal(0, 5)))
    status = tracker.status_of("revenue", _kpi_point(0, 0, 0.0))
    assert status is not None and status["error_ratio"] == pytest.approx(1 / 10)


def _sample(text: str, family: str, **labels: str) -> float | None:
    """The value of ``family``'s sample with ``labels`` in a scrape, or None."""
    for line in text.splitlines():
        if line.startswith(family + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


async def test_feedback_and_kpis_absent_from_the_latest_window_stay_with_their_age(
    env: Env,
) -> None:
    """/metrics: a KPI or feedback kind sent for an earlier window keeps its value, with the
    start of its window, when the latest window has none (docs/collector.md)."""
    events = [prediction(i, ts=T0 + i) for i in range(10)]
    events += [prediction(100 + i, ts=T0 + 300 + i) for i in range(10)]  # the next window
    await env.client.post("/v1/events", json=events, headers=env.auth("ingest"))
    kpis = [
        {"event_id": f"k{i}", "prediction_id": f"p{i}", "timestamp": T0 + 6, "model": "m",
         "name": "revenue", "value": 5.0}
        for i in range(4)
    ]  # fmt: skip
    await env.client.post("/v1/kpis", json=kpis, headers=env.auth("ingest"))
    body = [_feedback(i, "thumbs", "down" if i < 2 else "up") for i in range(4)]
    await env.client.post("/v1/feedback", json=body, headers=env.auth("ingest"))
    env.clock.advance(700)
    env.collector.tick()
    text = (await env.client.get("/metrics", headers=env.auth("read"))).text
    # the latest window is the second one (its events are exported) ...
    assert _sample(text, "driftline_window_start_timestamp_seconds", model="m") == T0 + 300
    # ... and the KPI and the feedback of the first stay, with their window's start
    assert _sample(text, "driftline_kpi", kpi="revenue") == 5.0
    assert _sample(text, "driftline_kpi_window_start_timestamp_seconds", kpi="revenue") == T0
    assert _sample(text, "driftline_feedback_share", kind="thumbs", value="down") == 0.5
    assert _sample(text, "driftline_feedback_rate", kind="thumbs") == pytest.approx(0.4)
    assert _sample(text, "driftline_feedback_window_start_timestamp_seconds", kind="thumbs") == T0
    # feedback for the second window: its shares replace the first's (no value carried over)
    later = [_feedback(100 + i, "thumbs", "up") | {"event_id": f"g{i}"} for i in range(5)]
    r = await env.client.post("/v1/feedback", json=later, headers=env.auth("ingest"))
    assert r.json()["accepted"] == 5, r.text
    env.collector.tick()
    text = (await env.client.get("/metrics", headers=env.auth("read"))).text
    assert _sample(text, "driftline_feedback_share", kind="thumbs", value="up") == 1.0
    assert _sample(text, "driftline_feedback_share", kind="thumbs", value="down") is None
    assert (
        _sample(text, "driftline_feedback_window_start_timestamp_seconds", kind="thumbs")
        == T0 + 300
    )
