"""``alerts test --from-store`` rebuilds the latency buckets of SLOs from the stored raw
events, as the live collector counted them, and says which windows it cannot rebuild once
the raw events are purged (docs/alerts.md, "Replay stored history")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from driftline.server.history import replay_from_store

from .conftest import prediction
from .test_alerting import GRACE, T0, WINDOW, _preset_collector

SLO = {
    "slos": [
        {"name": "scoring", "kind": "latency", "objective": 0.9, "threshold_seconds": 0.25,
         "burn_rates": [{"long": "5m", "short": "2m", "factor": 2, "severity": "critical"}]}
    ]
}  # fmt: skip
SLOW = range(4, 8)  # windows in which 60 % of the requests take 0.9 s


def test_replay_rebuilds_latency_buckets_and_reproduces_the_slo_alerts(
    tmp_path: Path,
    receiver: tuple[str, list[dict[str, Any]]],
) -> None:
    url, _ = receiver
    clock, store, collector = _preset_collector(tmp_path, url, SLO)
    for w in range(12):
        events = [
            prediction(
                w * 100 + i, ts=T0 + w * WINDOW + i * 0.5, model="m",
                latency_ms=900.0 if w in SLOW and i % 5 < 3 else 40.0,
            )
            for i in range(100)
        ]  # fmt: skip
        clock.advance(T0 + w * WINDOW + 1 - clock.time())
        assert collector.ingest("prediction", events).accepted == 100
        clock.advance(T0 + (w + 1) * WINDOW + GRACE + 1 - clock.time())
        collector.tick()
    live = {
        (e.rule, e.to_state, float(e.detail["window_end"]))
        for e in collector.alerts.engine.audit()
        if e.kind == "state" and e.to_state in ("firing", "resolved")
    }
    assert ("slo_scoring_critical", "firing", T0 + 6 * WINDOW) in live, live
    config = collector.alerts.engine.config
    end = T0 + 12 * WINDOW

    replayed = replay_from_store(store, config, model="m", start=T0, end=end, window_size=WINDOW)
    got = {
        (t.rule, t.to_state.value, float(t.window_end or 0))
        for t in replayed.transitions
        if t.to_state.value in ("firing", "resolved")
    }
    assert got == live
    assert replayed.unmatched == {} and replayed.notes == {}

    # raw events past retention: the buckets cannot be rebuilt, and the replay says so
    store.purge(before=T0 + 8 * WINDOW)
    replayed = replay_from_store(store, config, model="m", start=T0, end=end, window_size=WINDOW)
    assert not any(t.to_state.value == "firing" for t in replayed.transitions)
    note = replayed.notes["slo_scoring_critical"]
    assert "raw events of 8 window(s)" in note and "retention_days" in note, note
    collector.close()
    store.close()
