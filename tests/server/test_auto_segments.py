"""SDK `segment=` values split the collector's windows without DRIFTLINE_SEGMENT_KEYS."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

import driftline
from driftline.sdk.clock import ManualClock
from driftline.server import Settings, create_app
from driftline.store import open_store
from driftline.store.base import MetricQuery
from driftline.windows import WindowConfig, schema_to_json

T0 = 1_767_225_600.0
WINDOW = 60


def event(i: int, ts: float, x: float, segment: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "prediction", "event_id": f"e{i}", "prediction_id": f"e{i}", "timestamp": ts,
        "model": "scorer", "version": "v1", "features": {"x": x}, "prediction": int(x > 0),
        "scores": None, "segment": segment, "latency_ms": 5.0, "status": "ok",
        "error_type": None, "shadow": False, "tags": {},
    }  # fmt: skip


def run(tmp_path: Path, windows: WindowConfig) -> set[tuple[str, str]]:
    clock = ManualClock(T0)
    store = open_store(f"sqlite:///{tmp_path}/c.db")
    app = create_app(Settings(windows=windows), store, clock, background=False)
    collector = app.state.collector
    rng = np.random.default_rng(0)
    prof = driftline.profile(pa.table({"x": rng.normal(0, 1, 2000)}), seed=0)
    store.put_reference("scorer", "v1", prof.to_bytes(), prof.n_rows, T0)
    store.replace_version_schema("scorer", "v1", schema_to_json(prof.schema))
    regions, channels, extra = ["eu", "us"], ["web", "app"], ["a", "b"]
    events = [
        event(
            i,
            T0 + i * 0.2,
            float(rng.normal(2.0 if i % 2 else 0.0, 1)),  # region us drifts
            {
                "region": regions[i % 2],
                "channel": channels[i % 3 % 2],
                "tier": extra[i % 2],
                "shard": str(i % 5),
            },
        )
        for i in range(250)
    ]
    res = collector.ingest("prediction", events)
    assert res.accepted == len(events)
    clock.advance(WINDOW + 30)
    collector.tick(force_flush=True)
    rows = store.metric_points(
        MetricQuery(model="scorer", metric="drift_score", column="x", window_size=WINDOW)
    )
    out = {(r["segment"], r["status"]) for r in rows}
    store.close()
    return out


def test_segments_come_from_the_keys_the_events_carry_at_most_three(tmp_path: Path) -> None:
    got = run(tmp_path, WindowConfig(sizes=(WINDOW, 3600), grace_seconds=10))
    segments = {s for s, _ in got}
    assert {"*", "region=eu", "region=us", "channel=web", "channel=app"} <= segments
    assert {s.split("=")[0] for s in segments - {"*"}} == {"region", "channel", "tier"}
    assert not any(s.startswith("shard=") for s in segments)  # a 4th key: not split by
    assert ("region=us", "drift") in got and ("region=eu", "ok") in got


def test_configured_keys_win_and_zero_turns_the_automatic_split_off(tmp_path: Path) -> None:
    got = run(
        tmp_path / "a",
        WindowConfig(sizes=(WINDOW, 3600), grace_seconds=10, segment_keys=("channel",)),
    )
    assert {s for s, _ in got} == {"*", "channel=web", "channel=app"}
    got = run(tmp_path / "b", WindowConfig(sizes=(WINDOW, 3600), grace_seconds=10,
                                           auto_segment_keys=0))  # fmt: skip
    assert {s for s, _ in got} == {"*"}
