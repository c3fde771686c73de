"""``driftline alerts test --from-store``: a candidate rule set replayed over stored history.

:func:`replay_from_store` reads the metric points the collector stored for a
model (or every model) over a time range, turns them into the engine's points
exactly as the live collector does (:func:`~driftline.server.alerting.alert_points`,
job runs into ``job_status``), and feeds them window by window, in window
order, to a fresh :class:`~driftline.alerts.AlertEngine` on a manual clock
(nothing is sent, nothing is written). The engine's state machine counts
windows, not seconds, so the same rules over the same points move through the
same states at the same windows as the live engine did.

What the replay cannot know: points the live collector derives from raw events
only while alerting (the latency histogram buckets of SLOs) are not stored;
rules on them are listed as having no points in the range, never as quiet.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
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
from driftline.server.alerting import PointFeed, alert_points
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
    starts: Sequence[float] = sorted(set(by_window) | set(jobs))
    for i, ws in enumerate(starts):
        clock.advance(max(0.0, ws + window_size - clock.time()))
        points = [p for r in by_window.get(ws, []) for p in alert_points(r)] + jobs.get(ws, [])
        n_points += len(points)
        seen.update(p.metric for p in points)
        transitions += engine.ingest(points)
        until = starts[i + 1] + window_size if i + 1 < len(starts) else clock.time() + 600
        while clock.time() + tick_seconds <= until:
            notifications += engine.tick()
            clock.advance(tick_seconds)
    notifications += engine.tick()
    unmatched = {r.name: r.metric for r in engine.rules if r.metric not in seen}
    return StoreReplay(
        model, start, end, window_size, len(starts), n_points, transitions, notifications,
        unmatched,
    )  # fmt: skip


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


__all__ = ["StoreReplay", "from_store_command", "replay_from_store"]
