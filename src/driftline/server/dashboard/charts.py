"""Plotly figures as plain dicts; the page embeds them as JSON and ``app.js`` draws them.

Times go out as epoch milliseconds (what a Plotly date axis reads from numbers):
shorter JSON than ISO strings, and no per-point formatting on the server; values
with four significant digits, more than a 230-pixel chart can show.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from driftline.server.dashboard.queries import Series

COLORS = ["#2563eb", "#f97316", "#16a34a", "#9333ea", "#dc2626", "#0891b2"]
GRID = "#e5e7eb"


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def _layout(title: str, *, y_title: str = "", percent: bool = False, **kw: Any) -> dict[str, Any]:
    yaxis: dict[str, Any] = {"title": {"text": y_title}, "gridcolor": GRID, "rangemode": "tozero"}
    if percent:
        yaxis["tickformat"] = ".0%"
    layout: dict[str, Any] = {
        "title": {"text": title, "font": {"size": 14}, "x": 0, "xanchor": "left"},
        "margin": {"l": 50, "r": 10, "t": 34, "b": 30},
        "height": 230,
        "xaxis": {"type": "date", "gridcolor": GRID},
        "yaxis": yaxis,
        "legend": {"orientation": "h", "y": -0.2},
        "plot_bgcolor": "#ffffff",
        "paper_bgcolor": "#ffffff",
        "font": {"family": "system-ui, sans-serif", "size": 11},
        "hovermode": "x unified",
        "uirevision": "keep",  # a refresh keeps the visitor's zoom and hidden traces
    }
    layout.update(kw)
    return layout


def line(
    title: str,
    traces: Sequence[tuple[str, Series]],
    *,
    y_title: str = "",
    percent: bool = False,
    threshold: float | None = None,
    bars: bool = False,
    zero: bool = True,
    scale: float = 1.0,
    x_range: tuple[float, float] | None = None,
    period: float | None = None,
) -> dict[str, Any]:
    data: list[dict[str, Any]] = []
    for i, (name, s) in enumerate(traces):
        trace: dict[str, Any] = {
            "name": name,
            "x": [int(x * 1000) for x in s.x],
            "y": [None if v is None else float(f"{v * scale:.4g}") for v in s.y],
            "marker": {"color": COLORS[i % len(COLORS)]},
        }
        if bars:
            trace["type"] = "bar"
            if period:  # each bar spans its window instead of straddling the window's start
                trace.update(xperiod=int(period * 1000), xperiodalignment="middle")
        else:
            trace.update(
                type="scatter",
                mode="lines+markers",
                marker={"size": 4, "color": COLORS[i % len(COLORS)]},
                line={"width": 2, "color": COLORS[i % len(COLORS)]},
                connectgaps=False,
            )
        data.append(trace)
    layout = _layout(title, y_title=y_title, percent=percent, showlegend=len(traces) > 1)
    if percent:  # rates near zero should look near zero, not fill the chart
        vals = [v for _, s in traces for v in s.y if v is not None]
        top, low = max(vals, default=0.0), min(vals, default=0.0)
        bottom = 0.0 if zero else max(0.0, math.floor((low - 0.05) * 10) / 10)
        layout["yaxis"]["range"] = [bottom, max(top * 1.15, 0.05) if top < 0.9 else 1.02]
    if x_range is not None:
        layout["xaxis"]["range"] = [int(x_range[0] * 1000), int(x_range[1] * 1000)]
    if threshold is not None:
        layout["shapes"] = [
            {
                "type": "line",
                "xref": "paper",
                "x0": 0,
                "x1": 1,
                "y0": threshold * scale,
                "y1": threshold * scale,
                "line": {"color": "#dc2626", "dash": "dash", "width": 1},
            }
        ]
        layout["annotations"] = [
            {
                "xref": "paper",
                "x": 1,
                "y": threshold * scale,
                "text": "threshold",
                "showarrow": False,
                "xanchor": "right",
                "yanchor": "bottom",
                "font": {"color": "#dc2626", "size": 10},
            }
        ]
    return {"data": data, "layout": layout}


def distribution(
    title: str, bins: Sequence[str], reference: Sequence[float], current: Sequence[float]
) -> dict[str, Any]:
    data = [
        {
            "type": "bar",
            "name": "reference",
            "x": list(bins),
            "y": list(reference),
            "marker": {"color": "#94a3b8"},
        },
        {
            "type": "bar",
            "name": "current",
            "x": list(bins),
            "y": list(current),
            "marker": {"color": COLORS[0]},
        },
    ]
    layout = _layout(title, y_title="share of values", percent=True, barmode="group", height=300)
    layout["xaxis"] = {"type": "category", "gridcolor": GRID, "tickangle": -30, "automargin": True}
    layout["hovermode"] = "x"
    return {"data": data, "layout": layout}
