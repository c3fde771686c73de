"""The model page's "spike or shift, recurring or new" line (windows/persistence, seasonal)."""

from __future__ import annotations

from dataclasses import dataclass

from driftline.server.dashboard.queries import point_details
from driftline.server.dashboard.timerange import TimeRange
from driftline.store.base import MetricQuery, Store


@dataclass
class DriftTime:
    """The latest window's dataset drift persistence and seasonal verdict, and range counts."""

    persistence: str = ""  # onset / shift / spike / ended / none ("" when unknown)
    run: int = 0
    seasonal: str = ""  # new / recurring / none / insufficient ("" when not configured)
    reason: str = ""
    new_windows: int = 0
    recurring_windows: int = 0

    @property
    def shown(self) -> bool:
        return bool(self.persistence or self.seasonal)


def drift_time(store: Store, tr: TimeRange, model: str, version: str) -> DriftTime:
    """Dataset-level (all traffic) persistence and seasonal kind of the range's windows."""
    out = DriftTime()

    def query(metric: str, column: str | None = None) -> MetricQuery:
        return MetricQuery(
            model=model, version=version, segment="*", metric=metric, column=column,
            window_size=tr.window_size, start=tr.start, end=tr.end, limit=100_000,
        )  # fmt: skip

    latest = None
    for p in store.metric_points(query("drift_detected", "")):
        if latest is None or p["window_start"] > latest["window_start"]:
            latest = p
    if latest is not None:
        pers = point_details(latest["details"]).get("persistence")
        if isinstance(pers, dict):
            out.persistence = str(pers.get("kind") or "")
            out.run = int(pers.get("run") or pers.get("previous_run") or 0)
    seasonal = sorted(
        store.metric_points(query("seasonal_drift_detected")),
        key=lambda p: p["window_start"],
    )
    for p in seasonal:
        kind = point_details(p["details"]).get("kind")
        out.new_windows += kind == "new"
        out.recurring_windows += kind == "recurring"
    if seasonal:
        last = seasonal[-1]
        d = point_details(last["details"])
        out.seasonal = str(d.get("kind") or "insufficient")
        out.reason = str(d.get("reason") or "")
    return out
