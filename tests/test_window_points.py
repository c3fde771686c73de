"""Metric points of sampled statistics carry n and a standard error, and reach the engine."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pytest

from driftline.server.alerting import alert_points
from driftline.store.base import WindowKey
from driftline.windows import points as pts
from driftline.windows.labelled import performance_results

T0 = 1_700_000_000


def _points() -> pts.Points:
    return pts.Points(WindowKey("m", "v1", 300, T0), float(T0 + 400))


def test_performance_points_carry_n_and_standard_errors() -> None:
    rng = np.random.default_rng(0)
    rows = [(y, y if rng.random() < 0.75 else 1 - y, None) for y in [0, 1] * 20]
    results = performance_results(rows, "classification")
    assert results is not None
    points = _points()
    pts.performance(points, "*", results)
    by_name = {r["metric"]: r for r in points.rows}
    acc = by_name["performance.accuracy"]
    assert acc["n"] == 40
    assert orjson.loads(acc["details"])["stderr"] == pytest.approx(
        np.sqrt((acc["value"] * 40 + 2) / 44 * (1 - (acc["value"] * 40 + 2) / 44) / 44)
    )
    assert "stderr" in orjson.loads(by_name["performance.f1"]["details"])
    # counts of the window are not metrics
    assert not {"performance.n_scored", "performance.n_mape"} & set(by_name)


def _report(value: float, status: str, count: int) -> dict[str, Any]:
    check = {"check": "out_of_quantile_range", "value": value, "threshold": 0.05, "status": status}
    return {
        "columns": {
            "x": {
                "role": "feature",
                "drift": {"statistic": 0.0, "drifted": False, "n_current": count},
                "quality": [check],
                "summary": {"current": {"count": count, "missing": 0}},
            }
        },
        "quality": [],
        "dataset": {"drifted": False, "n_current": count, "drifted_columns": [], "rule": "x"},
    }


@pytest.mark.parametrize(
    ("value", "count", "status"),
    [
        pytest.param(0.08, 25, "warn", id="2-of-25-is-not-significant"),
        pytest.param(0.08, 10_000, "fail", id="800-of-10000-is"),
        pytest.param(0.6, 25, "fail", id="15-of-25-is"),
    ],
)
def test_a_failed_share_check_on_too_few_rows_is_written_as_warn(
    value: float, count: int, status: str
) -> None:
    points = _points()
    pts.drift_and_quality(points, "*", _report(value, "fail", count))
    (q,) = [r for r in points.rows if r["metric"] == "quality.out_of_quantile_range"]
    assert (q["status"], q["n"]) == (status, count)
    details = orjson.loads(q["details"])
    assert details["stderr"] > 0
    assert ("reason" in details) is (status == "warn")


def test_a_check_against_a_too_small_reference_decides_no_alert() -> None:
    """A quality result the reference was too small to decide (docs/quality.md) keeps its
    status and reason in the window, and reaches the engine with n = 0: a rule's
    min_samples holds it, so `quality.unseen_categories > 0.01` does not fire on it."""
    from driftline.alerts.rules import Rule

    report = _report(0.6, "insufficient", 500)
    why = "reference too small: 1 value, a check against it needs 30 (quality min_reference)"
    report["columns"]["x"]["quality"][0]["details"] = {"reason": why}
    points = _points()
    pts.drift_and_quality(points, "*", report)
    (q,) = [r for r in points.rows if r["metric"] == "quality.out_of_quantile_range"]
    assert (q["status"], q["n"]) == ("insufficient", 0)
    assert orjson.loads(q["details"])["reason"] == why
    (point,) = alert_points({**q, "details": q["details"]})
    assert point.n == 0
    rule = Rule("r", point.metric, ">", 0.05, "warning", {}, {}, min_samples=100)
    assert rule.insufficient(point)


def test_the_engine_gets_n_and_stderr_of_sampled_metrics_only() -> None:
    base = {
        "model": "m", "version": "v1", "segment": "*", "window_size": 300,
        "window_start": T0, "column": "", "method": "", "status": "ok", "n": 25,
    }  # fmt: skip
    details = orjson.dumps({"stderr": 0.08}).decode()
    (acc,) = alert_points(
        {**base, "metric": "performance.accuracy", "value": 0.75, "details": details}
    )
    assert (acc.metric, acc.n, acc.stderr) == ("accuracy", 25, 0.08)
    (est,) = alert_points({**base, "metric": "estimated.f1", "value": 0.7, "details": "{}"})
    assert (est.n, est.stderr) == (25, None)
    (events,) = alert_points({**base, "metric": "events", "value": 25.0, "details": "{}"})
    assert (events.n, events.stderr) == (None, None)
