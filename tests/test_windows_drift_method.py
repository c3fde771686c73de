"""The collector's evaluator with a global drift method that not every column's kind takes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

import driftline
from driftline.sdk.clock import ManualClock
from driftline.server.ingest import Limits, validate
from driftline.stats.drift.rules import DriftOptions
from driftline.store import MetricQuery, open_store
from driftline.windows import Evaluator, EvaluatorOptions, LiveWindows, WindowConfig

T0 = 1_700_000_100.0


def test_global_ks_evaluates_numeric_columns_with_ks_and_categorical_ones_by_default(
    tmp_path: Path,
) -> None:
    rng = np.random.default_rng(0)
    store = open_store(f"sqlite:///{tmp_path}/w.db")
    ref = driftline.profile(
        pa.table({"x": rng.normal(size=2000), "c": rng.choice(["a", "b", "c"], 2000)}), seed=0
    )
    store.put_reference("m", "v1", ref.to_bytes(), ref.n_rows, T0)
    raw = [
        {
            "event_id": f"e{i}",
            "timestamp": T0 + i % 200,
            "model": "m",
            "version": "v1",
            "features": {"x": float(rng.normal(1.0)), "c": str(rng.choice(["a", "c"]))},
            "prediction": 1,
        }
        for i in range(600)
    ]
    clock = ManualClock(T0)
    cfg = WindowConfig(sizes=(300,), grace_seconds=30)
    lw = LiveWindows(store, cfg, clock)
    lw.ingest(validate("prediction", raw, Limits(T0 + 1e6, 86400, 2000)).accepted)
    lw.flush(force=True)
    clock.advance(7200)
    ev = Evaluator(store, cfg, clock, EvaluatorOptions(drift=DriftOptions(method="ks")))
    while ev.run():
        pass
    assert ev.failed == 0  # it used to fail the whole window on the categorical column
    points = store.metric_points(MetricQuery(metric="drift_score", limit=100))
    got = {p["column"]: (p["method"], p["status"]) for p in points}
    assert got["x"] == ("ks", "drift")
    assert got["c"] == ("jensen_shannon", "drift")
    store.close()
