"""Seasonal references and spike/shift persistence in the collector's windows.

A simulated month of 6-hour windows: feature ``x`` follows a daily cycle (its
mean is 0, +1.5, 0, -1.5 standard deviations in the four windows of a day), so
every day some windows differ from a reference pooled over whole days; from
day 20 on, feature ``w`` shifts by one standard deviation. A rule on the
dataset drift verdict against the reference fires every day; the
``seasonal_drift_new`` preset, comparing each window with the same window of
the past four days, fires on day 20 and not before.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pytest

import driftline
from driftline.alerts import AlertEngine, AlertsConfig
from driftline.alerts.records import AlertState
from driftline.errors import ConfigError
from driftline.sdk.clock import ManualClock
from driftline.server.alerting import alert_points
from driftline.server.ingest import Limits, validate
from driftline.store import MetricQuery, Store, open_store
from driftline.windows import Evaluator, LiveWindows, WindowConfig, schema_to_json
from driftline.windows.evaluator import EvaluatorOptions
from driftline.windows.persistence import classify

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z, a Thursday
SIX_HOURS = 21_600
CYCLE = (0.0, 1.5, 0.0, -1.5)  # mean of x in the four windows of a day
SHIFT_DAY = 20
ROWS = 120


def _rows(rng: np.random.Generator, slot: int, shifted: bool, n: int) -> dict[str, np.ndarray]:
    return {
        "x": rng.normal(CYCLE[slot], 1.0, n),
        "w": rng.normal(1.0 if shifted else 0.0, 1.0, n),
    }


def _events(i: int, cols: dict[str, np.ndarray], start: float) -> list[dict[str, Any]]:
    raw = [
        {
            "event_id": f"w{i}-{k}", "timestamp": start + k * 60.0, "model": "m",
            "version": "v1", "prediction": 1,
            "features": {"x": float(cols["x"][k]), "w": float(cols["w"][k])},
        }
        for k in range(len(cols["x"]))
    ]  # fmt: skip
    batch = validate("prediction", raw, Limits(start + 1e9, 1e9, 10_000))
    assert not batch.rejected
    return batch.accepted


def _month(
    tmp_path: Path,
    cfg: WindowConfig,
    windows: Callable[[int], tuple[int, bool]],
    n_windows: int = 30 * 4,
    ref_slots: tuple[int, ...] = (0, 1, 2, 3),
) -> tuple[Store, list[int]]:
    """Ingest and evaluate one window at a time; ``windows(i)`` -> (slot, shifted)."""
    rng = np.random.default_rng(11)
    store = open_store(f"sqlite:///{tmp_path / 'm.db'}")
    pooled = [_rows(rng, s, False, 4000 // len(ref_slots)) for s in ref_slots]
    ref = driftline.profile(
        pa.table({k: np.concatenate([p[k] for p in pooled]) for k in ("x", "w")}), seed=0
    )
    store.ensure_version("m", "v1", T0)
    store.put_reference("m", "v1", ref.to_bytes(), ref.n_rows, T0)
    store.replace_version_schema("m", "v1", schema_to_json(ref.schema))
    clock = ManualClock(T0)
    live = LiveWindows(store, cfg, clock)
    options = EvaluatorOptions(estimate=False, multivariate=None, rollouts=None)
    evaluator = Evaluator(store, cfg, clock, options)
    starts = []
    for i in range(n_windows):
        start = T0 + i * SIX_HOURS
        slot, shifted = windows(i)
        clock.advance(start + 10 - clock.time())
        live.ingest(_events(i, _rows(rng, slot, shifted, ROWS), start))
        clock.advance(start + SIX_HOURS + cfg.grace_seconds + 1 - clock.time())
        live.flush()
        assert evaluator.run() == 1
        starts.append(int(start))
    return store, starts


def _firing_days(store: Store, alerts: dict[str, Any], metrics: set[str]) -> tuple[set[int], int]:
    """(days on which an alert of ``alerts`` was firing, how many times one started firing)."""
    engine = AlertEngine(AlertsConfig.model_validate(alerts), clock=ManualClock(T0))
    rows = store.metric_points(MetricQuery(model="m", segment="*", limit=100_000))
    points = [p for r in rows for p in alert_points(r) if p.metric in metrics]
    since: dict[str, float] = {}
    days: set[int] = set()
    fired = 0
    for t in sorted(engine.ingest(points), key=lambda t: t.window_end or 0.0):
        at = t.window_end or 0.0
        if t.to_state is AlertState.FIRING:
            since[t.fingerprint] = at
            fired += 1
        elif t.fingerprint in since:
            start = since.pop(t.fingerprint)
            days.update(range(int((start - 1 - T0) // 86_400), int((at - 1 - T0) // 86_400) + 1))
    for start in since.values():
        days.update(range(int((start - 1 - T0) // 86_400), 30))
    return days, fired


@pytest.mark.slow
def test_a_daily_cycle_does_not_alert_every_day_but_a_real_shift_on_day_20_does(
    tmp_path: Path,
) -> None:
    cfg = WindowConfig(
        sizes=(SIX_HOURS,), grace_seconds=60, seasonal_period=86_400, seasonal_history=4
    )
    store, _ = _month(tmp_path, cfg, lambda i: (i % 4, i // 4 >= SHIFT_DAY))
    seasonal = store.metric_points(
        MetricQuery(metric="seasonal_drift_detected", segment="*", limit=1000)
    )
    by_day: dict[int, list[dict[str, Any]]] = {}
    for p in seasonal:
        by_day.setdefault(int((p["window_start"] - T0) // 86_400), []).append(p)
    # days 0 and 1: fewer than two past days, no seasonal verdict (and it says why)
    assert all(p["status"] == "insufficient_data" for d in (0, 1) for p in by_day[d])
    assert "needs 2 periods" in str(by_day[0][0]["details"])
    # before the shift the cycle is recurring drift: the static verdict drifts, the seasonal
    # one does not; on day 20 every window is new drift
    recurring = [
        p for d in range(2, SHIFT_DAY) for p in by_day[d] if '"kind":"recurring"' in p["details"]
    ]
    assert len(recurring) >= 2 * (SHIFT_DAY - 2)  # the +-1.5 windows of each day at least
    assert all(p["status"] == "drift" for p in by_day[SHIFT_DAY])
    assert all('"kind":"new"' in p["details"] for p in by_day[SHIFT_DAY])
    static_days, _ = _firing_days(
        store,
        {"rules": [{"name": "any_drift", "metric": "dataset_drift_detected", "threshold": 1,
                    "op": ">="}]},
        {"dataset_drift_detected"},
    )  # fmt: skip
    seasonal_days, fired = _firing_days(
        store, {"presets": ["seasonal_drift_new"]}, {"seasonal_drift_detected"}
    )
    print(
        f"\nagainst the reference an alert fires on {len(static_days)} of 30 days; against "
        f"the season it fires {fired} time(s), firing on days {sorted(seasonal_days)}"
    )
    assert len(static_days) == 30
    assert fired >= 1 and min(seasonal_days) == SHIFT_DAY
    assert fired <= 2  # the shift, and at most one re-fire while the history absorbs it


def test_a_one_window_drift_is_a_spike_and_a_lasting_one_a_shift(tmp_path: Path) -> None:
    from driftline.server.metrics import render_results

    cfg = WindowConfig(sizes=(SIX_HOURS,), grace_seconds=60, shift_windows=3)
    drifted = {2, 5, 6, 7, 8}  # w shifts in window 2 alone, then in windows 5-8
    store, starts = _month(tmp_path, cfg, lambda i: (0, i in drifted), n_windows=10, ref_slots=(0,))
    rows = sorted(
        store.metric_points(MetricQuery(metric="drift_detected", segment="*", limit=100)),
        key=lambda p: p["window_start"],
    )
    kinds = [orjson.loads(p["details"])["persistence"]["kind"] for p in rows]
    assert kinds == [
        "none", "none", "onset", "spike", "none", "onset", "onset", "shift", "shift", "ended"
    ]  # fmt: skip
    runs = [orjson.loads(p["details"])["persistence"]["run"] for p in rows]
    assert runs == [0, 0, 1, 0, 0, 1, 2, 3, 4, 0]
    # the column's own drift point has it too
    w = store.metric_points(MetricQuery(metric="drift_score", column="w", limit=100))
    assert {orjson.loads(p["details"])["persistence"]["kind"] for p in w} >= {"spike", "shift"}
    # alert rules choose: the drift_shift preset fires once, at the third window of the shift;
    # a rule on drift_spike fires for the lone window
    points = [p for r in rows for p in alert_points(r)]
    shift = [p for p in points if p.metric == "drift_shift"]
    assert [p.value for p in shift] == [0, 0, 0, 0, 0, 0, 0, 1, 1, 0]
    assert {p.labels["signal"] for p in shift} == {"dataset_drift_detected"}
    for alerts, fired_at in (
        ({"presets": ["drift_shift"]}, [7]),
        ({"rules": [{"name": "spikes", "metric": "drift_spike", "threshold": 1, "op": ">="}]},
         [3]),
    ):  # fmt: skip
        engine = AlertEngine(AlertsConfig.model_validate(alerts), clock=ManualClock(T0))
        firing = [t for t in engine.ingest(points) if t.to_state is AlertState.FIRING]
        assert [int((t.window_end or 0) - T0) // SIX_HOURS - 1 for t in firing] == fired_at
    # /metrics: the latest window ended a shift of four windows
    text = render_results(
        store, SIX_HOURS, starts[-1] + SIX_HOURS, max_age=1e9, max_columns=100, max_series=100
    ).decode()
    assert (
        'driftline_drift_spike{column="",method="",model="m",signal="dataset_drift_detected",'
        'version="v1"} 0.0' in text
    )
    assert 'driftline_drift_shift{column="w",method="' in text


def test_persistence_tells_a_spike_from_a_shift() -> None:
    kinds = []
    run = 0
    for status in ["ok", "drift", "ok", "drift", "drift", "drift", "drift", "ok", "unknown"]:
        p = classify(status, run, shift_windows=3)
        kinds.append(None if p is None else p["kind"])
        run = p["run"] if p is not None else 0
    assert kinds == ["none", "onset", "spike", "onset", "onset", "shift", "shift", "ended", None]


def test_bad_seasonal_settings_name_the_field() -> None:
    with pytest.raises(ConfigError, match="seasonal_period=1000: not a multiple"):
        WindowConfig(sizes=(300,), seasonal_period=1000)
    with pytest.raises(ConfigError, match="shift_windows=0"):
        WindowConfig(shift_windows=0)
    with pytest.raises(ConfigError, match="seasonal_history=0"):
        WindowConfig(seasonal_period=86_400, seasonal_history=0)
