"""A drift method, a quality check and an alert preset from an installed plug-in in the collector.

examples/driftline-plugin-example: named in driftline.yaml, the collector's
windows compute the ``energy`` method (points with ``method="energy"``, which
the plug-in's ``energy_drift`` preset fires on) and, once its threshold is
set, the ``zero_inflation`` check (``quality.zero_inflation`` points, which an
alert rule fires on): no change to driftline, only the package's entry points.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from driftline.sdk.clock import ManualClock
from driftline.server.auth import create_key
from driftline.store import open_store
from driftline.store.base import MetricQuery

from .test_alerting import T0, Run, events

CONFIG = """
collector:
  tick_seconds: 0.05
  windows: {sizes: [1m], grace_seconds: 10}
  drift: {method: energy}
  quality: {zero_share_increase: 0.1}
alerts:
  min_samples: 0
  presets:
    energy_drift: {column: x, segment: "[*]", for: 1}
  rules:
    - {name: x_zeros, metric: quality.zero_inflation, column: x, segment: "[*]", op: ">",
       threshold: 0.1, for: 1}
  receivers:
    - name: log
      log: {level: info}
  route: {receiver: log, group_wait: 0s}
"""


def test_a_plugin_method_feeds_windows_points_and_alert_rules(tmp_path: Path) -> None:
    config = tmp_path / "driftline.yaml"
    config.write_text(CONFIG)
    clock = ManualClock(T0)
    store = open_store(f"sqlite:///{tmp_path / 'collector.db'}")
    key, _ = create_key(store, clock, name="test", scopes=("admin",))
    auth = {"Authorization": f"Bearer {key}"}
    rng = np.random.default_rng(11)
    buf = io.BytesIO()
    pq.write_table(pa.table({"x": rng.normal(0, 1, 2000), "c": rng.choice(["a", "b"], 2000)}), buf)
    with Run(config, store, clock) as run:
        r = run.client.put(
            "/v1/models/credit/versions/v1/reference", content=buf.getvalue(), headers=auth
        )
        assert r.status_code == 200, r.text
        for w in range(0, 4):  # windows 2 and 3 are shifted by 3 standard deviations
            batch = events(rng, w)
            if w == 1:  # a fifth of window 1's x are zeros (a default written for a gap)
                for e in batch[::5]:
                    e["features"]["x"] = 0.0
            r = run.client.post("/v1/events", json=batch, headers=auth)
            assert r.status_code == 200, r.text
            run.close_window(w)
        engine = run.app.state.collector.alerts.engine
        audit = [e for e in engine.audit() if e.kind == "state"]
        states = [(e.to_state, e.detail.get("window_end")) for e in audit if e.rule != "x_zeros"]
        zeros = [(e.to_state, e.detail.get("window_end")) for e in audit if e.rule == "x_zeros"]
    points = store.metric_points(MetricQuery(model="credit", metric="drift_score", column="x"))
    quality = store.metric_points(
        MetricQuery(model="credit", metric="quality.zero_inflation", column="x")
    )
    store.close()
    shares = {int((p["window_start"] - T0) // 60): p for p in quality if p["segment"] == "*"}
    assert shares[0]["value"] == 0.0 and shares[1]["value"] == pytest.approx(0.2, abs=0.01)
    assert shares[1]["status"] == "fail" and shares[1]["n"] == 150  # a share: n for its stderr
    assert zeros == [
        ("pending", T0 + 2 * 60), ("firing", T0 + 2 * 60), ("resolved", T0 + 3 * 60)
    ], zeros  # fmt: skip
    by_window = {p["window_start"]: p for p in points if p["segment"] == "*"}
    assert {p["method"] for p in points} == {"energy"}
    drifted = [w for w in range(4) if by_window[T0 + w * 60]["value"] >= 0.25]
    assert drifted == [2, 3], {k: v["value"] for k, v in by_window.items()}
    # pending then firing (for: 1) at the end of window 2, the first shifted one
    assert states == [("pending", T0 + 3 * 60), ("firing", T0 + 3 * 60)], states
