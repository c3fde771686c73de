"""The model page's multivariate drift panel: each method's latest window and its history."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from driftline.server.dashboard.queries import Series, point_details
from driftline.server.dashboard.timerange import TimeRange
from driftline.store.base import MetricQuery, Store

TITLES = {
    "pca_reconstruction": "PCA reconstruction error",
    "domain_classifier": "Domain classifier AUC",
    "mmd": "MMD²",
    "correlation": "Largest correlation change",
}


@dataclass
class MethodRow:
    method: str
    title: str
    value: float | None = None
    status: str = "unknown"
    threshold: str = ""
    p_value: float | None = None
    where: str = ""
    history: Series = field(default_factory=Series)
    drifted_windows: int = 0


def multivariate_rows(
    store: Store, tr: TimeRange, model: str, version: str, limit: int = 5000
) -> list[MethodRow]:
    """One row per method with ``multivariate_score`` points in the range (all traffic)."""
    points = store.metric_points(
        MetricQuery(
            model=model,
            version=version,
            segment="*",
            metric="multivariate_score",
            window_size=tr.window_size,
            start=tr.start,
            end=tr.end,
            limit=limit,
        )
    )
    rows: dict[str, MethodRow] = {}
    for p in sorted(points, key=lambda p: p["window_start"]):
        m = str(p["method"])
        row = rows.setdefault(m, MethodRow(m, TITLES.get(m, m)))
        row.history.add(float(p["window_start"]), p["value"])
        row.drifted_windows += p["status"] == "drift"
        row.value, row.status = p["value"], str(p["status"])
        _describe(row, point_details(p.get("details")))
    return [rows[m] for m in TITLES if m in rows] + [r for m, r in rows.items() if m not in TITLES]


def shared_reason(rows: list[MethodRow]) -> str | None:
    """The one reason every method gave for never deciding in the range (e.g. a text-only
    LLM service: "0 usable feature column(s)"), so the page says it once instead of a row of
    "unknown" per method; None when any method decided or the reasons differ."""
    if not rows or any(r.drifted_windows or any(v is not None for v in r.history.y) for r in rows):
        return None
    reasons = {r.where for r in rows}
    return reasons.pop() if len(reasons) == 1 and "" not in reasons else None


def _describe(row: MethodRow, d: dict[str, Any]) -> None:
    row.p_value = d.get("p_value")
    if d.get("lower") is not None and d.get("upper") is not None:
        row.threshold = f"{d['lower']:.3g} – {d['upper']:.3g}"
    elif row.method == "mmd" and d.get("threshold") is not None:
        row.threshold = f"p < {d['threshold']:.2g}"
    elif d.get("threshold") is not None:
        row.threshold = f"{d['threshold']:.3g}"
    if d.get("reason"):
        row.where = str(d["reason"])
    elif d.get("top_features"):
        row.where = "separating best: " + ", ".join(
            str(f.get("column")) for f in d["top_features"][:3]
        )
    elif d.get("top_pairs"):
        p = d["top_pairs"][0]
        a, b = p.get("columns") or ["?", "?"]
        row.where = f"{a} × {b}: {p.get('reference', 0):.2f} → {p.get('current', 0):.2f}"
    else:
        row.where = ""
