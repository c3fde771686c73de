"""Multivariate drift in the collector's windows: metric points, /metrics and the preset.

Two features keep their marginals while their correlation flips from +0.8 to
-0.8 (tests/stats/test_multivariate.py shows no univariate method sees it): the
multivariate points and the dataset verdict do, and the
``multivariate_drift`` preset notifies a real webhook receiver on loopback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

import driftline
from driftline.store import MetricQuery
from driftline.windows import schema_to_json

from .test_alerting import GRACE, T0, WINDOW, _preset_collector


def _rows(rng: np.random.Generator, rho: float, n: int) -> np.ndarray:
    return rng.multivariate_normal([0, 0], [[1, rho], [rho, 1]], size=n)


def _collector(tmp_path: Path, url: str, preset: str, rng: np.random.Generator) -> Any:
    """A collector with ``preset`` on, whose version "m" "v1" has a reference of two
    features correlated at 0.8: (clock, store, collector)."""
    clock, store, collector = _preset_collector(tmp_path, url, {"presets": [preset]})
    z = _rows(rng, 0.8, 4000)
    ref = driftline.profile(pa.table({"a": z[:, 0], "b": z[:, 1]}), seed=0)
    store.ensure_version("m", "v1", T0)
    store.put_reference("m", "v1", ref.to_bytes(), ref.n_rows, T0)
    store.replace_version_schema("m", "v1", schema_to_json(ref.schema))
    return clock, store, collector


def _play(clock: Any, collector: Any, i: int, xy: np.ndarray) -> None:
    """Window ``i``'s events, one per row of ``xy`` (features a, b); then the window closes."""
    start = T0 + i * WINDOW
    events = [
        {
            "type": "prediction", "event_id": f"e{i}-{k}", "timestamp": start + k * 0.1,
            "model": "m", "version": "v1", "prediction": 1,
            "features": {"a": float(xy[k, 0]), "b": float(xy[k, 1])},
        }
        for k in range(len(xy))
    ]  # fmt: skip
    clock.advance(start + 45 - clock.time())
    assert collector.ingest("prediction", events).accepted == len(xy)
    clock.advance(start + WINDOW + GRACE + 1 - clock.time())
    collector.tick()


def test_a_correlation_flip_fires_the_multivariate_preset_and_no_column_drifts(
    tmp_path: Path, receiver: tuple[str, list[dict[str, Any]]]
) -> None:
    url, got = receiver
    rng = np.random.default_rng(7)
    clock, store, collector = _collector(tmp_path, url, "multivariate_drift", rng)
    for i, rho in enumerate([0.8, 0.8, -0.8, -0.8]):
        _play(clock, collector, i, _rows(rng, rho, 400))

    points = store.metric_points(MetricQuery(metric="multivariate_score", limit=100))
    by = {(p["window_start"], p["method"]): p for p in points}
    assert {m for _, m in by} == {"pca_reconstruction", "mmd", "correlation"}
    for i, rho in enumerate([0.8, 0.8, -0.8, -0.8]):
        corr = by[(T0 + i * WINDOW, "correlation")]
        assert corr["status"] == ("drift" if rho < 0 else "ok"), (i, corr)
        assert corr["n"] == 400
    assert by[(T0 + 2 * WINDOW, "pca_reconstruction")]["status"] == "drift"
    # the dataset verdict of the flipped windows includes the multivariate one
    dataset = store.metric_points(MetricQuery(metric="drift_detected", segment="*", limit=100))
    flipped = [p["value"] for p in dataset if p["window_start"] >= T0 + 2 * WINDOW]
    assert flipped == [1.0, 1.0]
    # the preset needs two windows in a row: it fires after the fourth
    fired = [a for m in got for a in m["alerts"] if a["status"] == "firing"]
    assert fired, got
    assert {a["labels"]["alertname"] for a in fired} == {"multivariate_drift"}
    assert "correlation" in {a["labels"].get("method") for a in fired}
    collector.close()
    store.close()


def test_outliers_are_scored_per_event_and_their_share_fires_the_preset(
    tmp_path: Path, receiver: tuple[str, list[dict[str, Any]]]
) -> None:
    url, got = receiver
    rng = np.random.default_rng(8)
    clock, store, collector = _collector(tmp_path, url, "outlier_share_high", rng)
    for i, share in enumerate([0.0, 0.0, 0.2, 0.2]):
        xy = _rows(rng, 0.8, 500)
        n_odd = int(share * 500)
        xy[:n_odd, 1] = -xy[:n_odd, 0] * 1.5  # ordinary values, against the correlation
        xy[:n_odd, 0] *= 1.5
        _play(clock, collector, i, xy)
    points = sorted(
        store.metric_points(MetricQuery(metric="outlier_share", segment="*", limit=100)),
        key=lambda p: p["window_start"],
    )
    assert [p["n"] for p in points] == [500] * 4  # every event scored
    shares = [p["value"] for p in points]
    assert shares[0] < 0.04 and shares[1] < 0.04
    assert shares[2] > 0.06 and shares[3] > 0.06  # the odd rows near the centre pass
    assert [p["status"] for p in points] == ["ok", "ok", "drift", "drift"]
    fired = [a for m in got for a in m["alerts"] if a["status"] == "firing"]
    assert {a["labels"]["alertname"] for a in fired} == {"outlier_share_high"}
    # the review queue holds the odd windows' most anomalous events
    from driftline.server import review

    items = review.queue(store, "m", WINDOW, T0, T0 + 4 * WINDOW)
    assert {i["window_start"] for i in items} >= {T0 + 2 * WINDOW, T0 + 3 * WINDOW}
    assert all(len([i for i in items if i["window_start"] == w]) <= 20 for w in range(4))
    odd = [i for i in items if i["window_start"] >= T0 + 2 * WINDOW]
    engine = collector.alerts.engine
    (alert,) = engine.alerts()

    def judge(item: dict[str, Any], verdict: str) -> list[str]:
        out = review.record(collector, None, "m", item["event_id"], verdict, reviewer="ana")
        assert out["feedback"]["accepted"] == 1
        return list(out["alerts"])

    def precision() -> tuple[int, int]:
        p = engine.precision()["outlier_share_high"]
        return p.true_positive, p.false_positive

    # "fine" on the alert's candidates: a false positive once 3 are judged, every one fine
    assert judge(odd[0], "fine") == [] and judge(odd[1], "fine") == []
    assert engine.alerts()[0].outcome is None
    assert judge(odd[2], "fine") == [alert.fingerprint]
    assert engine.alerts()[0].outcome == "false_positive" and precision() == (0, 1)
    # "attack" on another candidate: the review's false positive becomes a true positive
    assert judge(odd[3], "attack") == [alert.fingerprint]
    assert engine.alerts()[0].outcome == "true_positive" and precision() == (1, 0)
    # re-judged fine, every judged candidate is fine again: back to a false positive
    assert judge(odd[3], "fine") == [alert.fingerprint]
    assert engine.alerts()[0].outcome == "false_positive"
    # a person's label is never overwritten by the queue
    engine.set_outcome(alert.fingerprint, "not_actionable", "lead", "seen it")
    assert judge(odd[4], "attack") == []
    assert engine.alerts()[0].outcome == "not_actionable"
    collector.close()
    store.close()
