"""``driftline alerts test --from-store``: a candidate rule set replayed over stored history.

:func:`replay_from_store` reads the metric points the collector stored for a
model (or every model) over a time range, turns them into the engine's points
exactly as the live collector does (:func:`~driftline.server.alerting.alert_points`,
job runs into ``job_status``), and feeds them window by window, in window
order, to a fresh :class:`~driftline.alerts.AlertEngine` on a manual clock
(nothing is sent, nothing is written). The engine's state machine counts
windows, not seconds, so the same rules over the same points move through the
same states at the same windows as the live engine did.

Latency SLOs: the live collector counts the requests within the SLO's threshold
(``latency_bucket``) from each window's raw events while alerting; they are not
stored, so the replay counts them again from the same raw events with the same
code (:func:`~driftline.server.alerting.derive_points`). Raw events are kept
``retention_days`` (30): windows older than that have no buckets, the SLO cannot
judge them, and the replay says so per rule (how many windows it could not
rebuild), as it lists rules with no stored points in the range, never as quiet.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from driftline._utils.clock import ManualClock
from driftline._utils.durations import format_duration, parse_duration, rfc3339
from driftline.alerts import AlertEngine, AlertsConfig, MetricPoint
from driftline.alerts.engine import Transition
from driftline.alerts.records import Notification
from driftline.alerts.replay import RecordingSink
from driftline.alerts.store import MemoryAlertStore
from driftline.errors import ConfigError
from driftline.server.alerting import PointFeed, alert_points, derive_points
from driftline.store.base import MetricQuery, Store

#: Most stored rows one replay reads.
MAX_ROWS = 5_000_000


@dataclass
class StoreReplay:
    """What the rules would have done over the stored history."""

    model: str | None
    start: float
    end: float
    window_seconds: int
    windows: int
    points: int
    transitions: list[Transition]
    notifications: list[Notification]
    #: rule -> its metric, for rules no stored point of the range selects
    unmatched: dict[str, str] = field(default_factory=dict)
    #: rule -> why some windows could not be judged (latency SLOs past raw retention)
    notes: dict[str, str] = field(default_factory=dict)

    def when(self, t: float | None) -> str:
        return rfc3339(t) if t is not None else "?"

    def fired(self) -> list[Transition]:
        return [t for t in self.transitions if t.to_state.value == "firing"]


def _windows(
    store: Store, model: str | None, window_size: int, start: float, end: float
) -> dict[float, list[dict[str, Any]]]:
    rows = store.metric_points(
        MetricQuery(model=model, window_size=window_size, start=start, end=end, limit=MAX_ROWS)
    )
    by_window: dict[float, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_window[float(r["window_start"])].append(r)
    return by_window


def replay_from_store(
    store: Store,
    config: AlertsConfig,
    *,
    model: str | None,
    start: float,
    end: float,
    window_size: int,
    tick_seconds: float = 30.0,
) -> StoreReplay:
    """Replay ``config``'s rules over the stored points of windows starting in [start, end).

    Raises :class:`~driftline.errors.ConfigError` naming the model, the window and the
    range when nothing is stored there (and which windows are stored, if any).
    """
    by_window = _windows(store, model, window_size, start, end)
    who = f"model {model!r}" if model else "any model"
    if not by_window:
        stored = store.metric_points(MetricQuery(model=model, window_size=window_size, limit=1))
        hint = (
            f"; its first stored {format_duration(window_size)} window starts "
            f"{rfc3339(float(stored[0]['window_start']))}"
            if stored
            else f"; nothing is stored for it in {format_duration(window_size)} windows"
        )
        raise ConfigError(
            f"no metric points of {who} in {format_duration(window_size)} windows between "
            f"{rfc3339(start)} and {rfc3339(end)}: nothing to replay{hint}"
        )
    engine_store = MemoryAlertStore()
    first = min(by_window)
    clock = ManualClock(first + window_size)
    engine = AlertEngine(config, store=engine_store, clock=clock, sink=RecordingSink())
    jobs: dict[float, list[MetricPoint]] = defaultdict(list)
    if any(r.metric == "job_status" for r in engine.rules):
        job_late_after = parse_duration(config.job_late_after)
        feed = PointFeed(
            store, MemoryAlertStore(), window_size, start, derive=False,
            job_late_after=job_late_after,
        )  # fmt: skip
        for p in feed._jobs(job_late_after):
            if start <= p.window_start < end:
                jobs[p.window_start].append(p)
    transitions: list[Transition] = []
    notifications: list[Notification] = []
    seen: set[str] = set()
    n_points = 0
    # latency SLOs: the buckets the live feed counted from the windows' raw events
    buckets = [s.threshold_seconds for s in config.slos if s.threshold_seconds is not None]
    unsampled: list[Mapping[str, Any]] = []
    starts: Sequence[float] = sorted(set(by_window) | set(jobs))
    for i, ws in enumerate(starts):
        clock.advance(max(0.0, ws + window_size - clock.time()))
        rows = by_window.get(ws, [])
        if buckets:
            rows = rows + derive_points(
                store, rows, window_size, buckets, estimate=False, unsampled=unsampled
            )
        points = [p for r in rows for p in alert_points(r)] + jobs.get(ws, [])
        n_points += len(points)
        seen.update(p.metric for p in points)
        transitions += engine.ingest(points)
        until = starts[i + 1] + window_size if i + 1 < len(starts) else clock.time() + 600
        while clock.time() + tick_seconds <= until:
            notifications += engine.tick()
            clock.advance(tick_seconds)
    notifications += engine.tick()
    inputs = _slo_inputs(config)
    unmatched = {
        r.name: r.metric
        for r in engine.rules
        if not (inputs.get(r.metric, {r.metric}) & seen)  # an SLO rule: any of its inputs
    }
    notes = {}
    if unsampled:
        windows = sorted({float(r["window_start"]) for r in unsampled})
        why = (
            f"the raw events of {len(windows)} window(s) with traffic are no longer stored "
            f"(retention_days), so their latency buckets could not be rebuilt and the SLO "
            f"did not judge them (first {rfc3339(windows[0])}, last {rfc3339(windows[-1])})"
        )
        for r in engine.rules:
            slo = r.metric.split(":")[1] if r.metric.startswith("slo:") else None
            if any(s.name == slo and s.kind == "latency" for s in config.slos):
                notes[r.name] = why
    return StoreReplay(
        model, start, end, window_size, len(starts), n_points, transitions, notifications,
        unmatched, notes,
    )  # fmt: skip


def _slo_inputs(config: AlertsConfig) -> dict[str, set[str]]:
    """Each SLO rule's metric (``slo:NAME:SEVERITY``) -> the point metrics it is made of."""
    out: dict[str, set[str]] = {}
    for s in config.slos:
        made_of = {
            "latency": {"latency_bucket"},
            "errors": {"error_count"},
            "quality": {s.metric},
        }[s.kind]
        for b in s.burn_rates:
            out[f"slo:{s.name}:{b.severity}"] = made_of
    return out


def from_store_command(
    config: AlertsConfig, *, model: str | None, days: float, window: float, store_url: str | None,
    echo: Any,
) -> None:  # fmt: skip
    """``driftline alerts test --from-store``: open the store, replay, print (see module doc)."""
    import time

    from driftline.store import open_store

    if days <= 0:
        raise ConfigError(f"--days {days:g} is not allowed: more than 0")
    size = int(window)
    end = time.time()
    start = (end - days * 86400) // size * size
    store = open_store(store_url or "sqlite:///.driftline/driftline.db")
    try:
        result = replay_from_store(
            store, config, model=model, start=start, end=end, window_size=size
        )
    finally:
        store.close()
    who = model or "every model"
    echo(
        f"replayed {len(config.compiled_rules())} rules over {result.windows} stored "
        f"{format_duration(size)} windows of {who} ({result.points} points), "
        f"{rfc3339(start)} to {rfc3339(end)}"
    )
    echo("")
    echo("state changes:")
    shown = [t for t in result.transitions if t.to_state.value in ("firing", "resolved")]
    if not shown:
        echo("  (no alert would have fired)")
    for t in shown:
        where = " ".join(
            f"{k}={t.labels[k]}"
            for k in ("model", "version", "segment", "column", "job")
            if t.labels.get(k) and t.labels.get(k) != "*"
        )
        echo(
            f"  {result.when(t.window_end)}  {t.to_state.value.upper():<8} {t.rule:<22} "
            f"{t.labels.get('severity', ''):<8} {where}  value={t.value:.4g}"
        )
    echo("")
    echo(f"notifications (not sent): {len(result.notifications)}")
    for name, metric in sorted(result.unmatched.items()):
        echo(f"  note: rule {name}: no stored point of metric {metric!r} in the range")
    for name, why in sorted(result.notes.items()):
        echo(f"  note: rule {name}: {why}")


__all__ = ["StoreReplay", "from_store_command", "replay_from_store"]
