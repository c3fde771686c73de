"""The model page's abuse-signals panel: bursts, boundary probing, out-of-range jumps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from driftline.server.dashboard.queries import point_details
from driftline.server.dashboard.timerange import TimeRange
from driftline.store.base import MetricQuery, Store

TITLES = {
    "abuse.burst": "Near-identical requests from one client",
    "abuse.boundary_probing": "Values at the edges of the training range",
    "abuse.range_jump": "Jump of out-of-range / unseen values",
}


@dataclass
class AbuseRow:
    metric: str
    column: str
    method: str
    title: str
    flagged_windows: int = 0
    windows: int = 0
    last: float = 0.0
    flagged_now: bool = False
    latest: str = ""  # the latest window's figures, in words


def abuse_rows(store: Store, tr: TimeRange, model: str, version: str) -> list[AbuseRow]:
    """One row per abuse signal and column with points in the range (all traffic)."""
    rows: dict[tuple[str, str, str], AbuseRow] = {}
    for metric, title in TITLES.items():
        points = store.metric_points(
            MetricQuery(
                model=model, version=version, segment="*", metric=metric,
                window_size=tr.window_size, start=tr.start, end=tr.end, limit=100_000,
            )
        )  # fmt: skip
        for p in sorted(points, key=lambda p: p["window_start"]):
            key = (metric, str(p["column"]), str(p["method"]))
            row = rows.setdefault(key, AbuseRow(*key, title))
            row.windows += 1
            row.flagged_windows += p["value"] == 1.0
            row.last = float(p["window_start"])
            row.flagged_now = p["value"] == 1.0
            row.latest = _words(metric, point_details(p["details"]))
    return sorted(rows.values(), key=lambda r: (not r.flagged_now, -r.flagged_windows, r.title))


def _words(metric: str, d: dict[str, Any]) -> str:
    try:
        if metric == "abuse.burst":
            top = (d.get("top") or [{}])[0]
            return (
                f"largest burst {d.get('largest', 0)} requests ({d.get('share', 0):.1%}) "
                f"from client {top.get('client', '?')}"
            )
        if metric == "abuse.boundary_probing":
            return f"{d['share']:.1%} at the edges (expected {d['expected']:.1%})"
        return f"{d['share']:.1%} now vs {d['baseline']:.1%} in the previous windows"
    except (KeyError, TypeError, ValueError):
        return ""
