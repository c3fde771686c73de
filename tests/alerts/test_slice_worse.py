"""The ``slice_worse`` preset on the collector's worst-slice points (windows/slices.py).

False alarms: 24 equal slices (8 regions x 3 plans, the same 10 % error rate) over 400
windows; the search tests 35 slices a window (11 of one column, 24 of two), with
Benjamini-Hochberg across them: 4 of 400 windows report a slice, the preset fires on none.
Detection: one region's error rate triples (180 of 1,440 rows a window).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from driftline._utils.clock import ManualClock
from driftline.alerts import AlertEngine, MemoryAlertStore, MetricPoint, parse_alerts_config
from driftline.server.alerting import alert_points
from driftline.store.base import WindowKey
from driftline.windows.points import Points
from driftline.windows.slices import SliceOptions, slice_point

SIZE = 300
T0 = 1_767_225_600
REGIONS = [f"r{i}" for i in range(8)]
PLANS = ["free", "pro", "team"]


def windows(n: int, rows: int, error: dict[str, float], seed: int) -> Iterator[list[MetricPoint]]:
    """``n`` windows of labelled predictions, each region with its error rate (0.1 else)."""
    rng = np.random.default_rng(seed)
    opts = SliceOptions()
    for w in range(n):
        region = rng.choice(REGIONS, rows)
        plan = rng.choice(PLANS, rows)
        y = rng.integers(0, 2, rows)
        p_err = np.array([error.get(str(r), 0.1) for r in region])
        pred = np.where(rng.random(rows) < p_err, 1 - y, y)
        batch = [
            (int(y[i]), int(pred[i]), {"region": str(region[i])}, {"plan": str(plan[i])})
            for i in range(rows)
        ]
        points = Points(WindowKey("m", "v1", SIZE, T0 + w * SIZE), T0 + (w + 1) * SIZE)
        slice_point(points, "*", batch, "classification", opts)
        yield [p for r in points.rows for p in alert_points(r)]


def engine() -> AlertEngine:
    cfg = parse_alerts_config(
        {"presets": ["slice_worse"], "receivers": [{"name": "log", "log": {}}],
         "route": {"receiver": "log"}}
    )  # fmt: skip
    return AlertEngine(cfg, store=MemoryAlertStore(), clock=ManualClock(T0))


@pytest.fixture(scope="module")
def equal() -> list[list[MetricPoint]]:
    return list(windows(400, 720, {}, seed=11))


def test_equal_slices_report_a_slice_in_at_most_5_percent_of_windows(
    equal: list[list[MetricPoint]],
) -> None:
    values = [p.value for w in equal for p in w]
    assert len(values) == 400
    reported = sum(v >= 1 for v in values) / len(values)
    assert reported <= 0.05, reported


def test_the_preset_rarely_fires_on_equal_slices(equal: list[list[MetricPoint]]) -> None:
    e = engine()
    fired = [t for w in equal for t in e.ingest(w) if t.to_state.value == "firing"]
    assert len(fired) / len(equal) <= 0.05
    assert len(fired) <= 2, [t.window_end for t in fired]  # two windows in a row: ~0.1 %


def test_a_truly_worse_slice_fires_within_two_windows() -> None:
    e = engine()
    fired_at = None
    for i, w in enumerate(windows(6, 1440, {"r3": 0.3}, seed=5)):
        if any(t.to_state.value == "firing" for t in e.ingest(w)) and fired_at is None:
            fired_at = i
    assert fired_at == 1  # the second window: `for: 2`
    (alert,) = e.alerts()
    assert alert.rule == "slice_worse" and alert.value >= 1
