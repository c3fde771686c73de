"""Abuse signals of the collector's windows: bursts, boundary probing, out-of-range jumps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa

import driftline
from driftline.alerts import AlertEngine, AlertsConfig
from driftline.alerts.records import AlertState
from driftline.sdk.clock import ManualClock
from driftline.server.alerting import alert_points
from driftline.server.ingest import Limits, validate
from driftline.server.metrics import render_results
from driftline.store import MetricQuery, open_store
from driftline.windows import Evaluator, LiveWindows, WindowConfig, schema_to_json
from driftline.windows.abuse import BurstCounter, fingerprints
from driftline.windows.evaluator import EvaluatorOptions

T0 = 1_767_225_600.0
WINDOW = 300
N = 300
LEVELS = ["a", "b", "c", "d"]


def _normal(rng: np.random.Generator, i: int, k: int) -> dict[str, Any]:
    return {
        "event_id": f"w{i}-{k}", "model": "m", "version": "v1", "prediction": 1,
        "features": {"x": float(rng.normal()), "c": str(rng.choice(LEVELS))},
        "tags": {"client": f"client-{rng.integers(200)}"},
    }  # fmt: skip


def _window(i: int, rng: np.random.Generator) -> list[dict[str, Any]]:
    events = [_normal(rng, i, k) for k in range(N)]
    if i == 4:  # one client replays one request 60 times, with noise in the 6th digit
        for e in events[:60]:
            e["features"] = {"x": 1.23456 + float(rng.normal(0, 1e-6)), "c": "a"}
            e["tags"] = {"client": "9f2c81d0"}
    if i == 5:  # a third of the inputs sit at the top edge of the training range
        for e in events[:100]:
            e["features"]["x"] = float(TOP - rng.uniform(0, 0.02))
    if i == 6:  # a fifth of the categories were never seen in training
        for e in events[:60]:
            e["features"]["c"] = f"new-{rng.integers(1000)}"
    return events


REF_X = np.random.default_rng(1).normal(size=5000)
TOP = float(REF_X.max())


def test_bursts_boundary_probing_and_range_jumps_are_flagged_where_they_happen(
    tmp_path: Path,
) -> None:
    rng = np.random.default_rng(2)
    store = open_store(f"sqlite:///{tmp_path / 'a.db'}")
    ref = driftline.profile(
        pa.table({"x": REF_X, "c": rng.choice(LEVELS, REF_X.size).tolist()}), seed=0
    )
    store.ensure_version("m", "v1", T0)
    store.put_reference("m", "v1", ref.to_bytes(), ref.n_rows, T0)
    store.replace_version_schema("m", "v1", schema_to_json(ref.schema))
    cfg = WindowConfig(sizes=(WINDOW,), grace_seconds=10, outliers=None)
    clock = ManualClock(T0)
    live = LiveWindows(store, cfg, clock)
    opts = EvaluatorOptions(estimate=False, multivariate=None, rollouts=None)
    evaluator = Evaluator(store, cfg, clock, opts)
    for i in range(8):
        start = T0 + i * WINDOW
        raw = _window(i, rng)
        for k, e in enumerate(raw):
            e["timestamp"] = start + k * 0.5
        batch = validate("prediction", raw, Limits(start + 1e9, 1e9, 1000))
        assert not batch.rejected
        clock.advance(start + 1 - clock.time())
        live.ingest(batch.accepted)
        clock.advance(start + WINDOW + 11 - clock.time())
        live.flush()
        assert evaluator.run() == 1

    def flags(metric: str, **kw: Any) -> dict[int, float]:
        rows = store.metric_points(MetricQuery(metric=metric, segment="*", limit=1000, **kw))
        return {int((r["window_start"] - T0) // WINDOW): r["value"] for r in rows}

    burst = flags("abuse.burst")
    assert [i for i, v in burst.items() if v == 1.0] == [4]
    (row,) = store.metric_points(
        MetricQuery(metric="abuse.burst", start=T0 + 4 * WINDOW, end=T0 + 5 * WINDOW)
    )
    details = orjson.loads(row["details"])
    assert details["top"][0] == {"client": "9f2c81d0", "requests": 60, "share": 0.2}
    probing = flags("abuse.boundary_probing", column="x")
    assert [i for i, v in probing.items() if v == 1.0] == [5]
    jumps = flags("abuse.range_jump", column="c", method="unseen_categories")
    assert 0 not in jumps and 1 not in jumps  # no baseline yet: no point
    assert [i for i, v in jumps.items() if v == 1.0] == [6]
    # the presets fire on those windows; /metrics shows the latest window's flags
    rows = store.metric_points(MetricQuery(model="m", segment="*", limit=100_000))
    points = [p for r in rows for p in alert_points(r)]
    presets = {"abuse_burst": 4, "boundary_probing": 5, "out_of_range_jump": 6}
    engine = AlertEngine(AlertsConfig.model_validate({"presets": list(presets)}), clock=clock)
    fired = {
        t.rule: int((t.window_end or 0) - T0) // WINDOW - 1
        for t in engine.ingest(points)
        if t.to_state is AlertState.FIRING
    }
    assert fired == presets
    text = render_results(
        store, WINDOW, T0 + 8 * WINDOW, max_age=1e9, max_columns=100, max_series=100
    ).decode()
    assert 'driftline_abuse_signal{column="",model="m",signal="burst",version="v1"} 0.0' in text


def test_burst_counts_merge_stay_bounded_and_skip_events_without_a_client() -> None:
    events = [
        {"features": {"x": 1.00001}, "tags": {"client": "a"}},
        {"features": {"x": 1.00002}, "tags": {"client": "a"}},  # same at 3 digits
        {"features": {"x": 1.5}, "tags": {"client": "a"}},
        {"features": {"x": 1.00001}, "tags": {"client": "b"}},
        {"features": {"x": 1.00001}},  # no client: not counted
        {"features": {"x": 1.0}, "tags": {"client": {"nested": 1}}},  # not a name: skipped
    ]
    fp = fingerprints(events)
    assert fp is not None and sorted(fp) == [0, 1, 2, 3]
    assert fp[0][1] == fp[1][1] != fp[2][1] and fp[0][1] != fp[3][1]
    a, b = BurstCounter(), BurstCounter()
    a.update(fp.values())
    b.update([("c", f"{k:016x}") for k in range(30_000)])
    a.merge(BurstCounter.from_dict(orjson.loads(orjson.dumps(b.to_dict()))))
    assert a.n == 4 + 30_000
    assert len(a.counts) <= 10_000
    assert max(c for _, c in a.counts.values()) == 2  # the pair of client a survives pruning
    assert fingerprints([{"features": {"x": 1}}]) is None


def test_constant_missing_and_sparse_columns_give_no_boundary_verdict_and_no_crash() -> None:
    from driftline.store.base import WindowKey
    from driftline.windows.abuse import boundary_points
    from driftline.windows.points import Points

    rng = np.random.default_rng(5)
    n = 2000
    ref = driftline.profile(
        pa.table(
            {
                "flat": np.full(n, 3.0),  # constant: no edges to probe
                "holes": np.where(rng.random(n) < 0.5, np.nan, rng.normal(size=n)),
                "few": rng.normal(size=n),
                "many": [f"level-{i}" for i in rng.integers(0, 5000, n)],  # thousands of levels
            }
        ),
        seed=0,
    )
    cur = driftline.profile(
        pa.table(
            {
                "flat": np.full(300, 3.0),
                "holes": np.full(300, np.nan),  # every value missing
                "few": np.r_[rng.normal(size=20), np.full(280, np.nan)],  # 20 values: too few
                "many": [f"level-{i}" for i in rng.integers(0, 9000, 300)],
            }
        ),
        seed=0,
    )
    points = Points(WindowKey("m", "v1", 300, 0), 0.0)
    boundary_points(points, "*", ref, cur)
    assert points.rows == []  # says nothing rather than something wrong
