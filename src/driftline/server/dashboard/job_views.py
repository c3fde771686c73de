"""The Jobs page: is my pipeline healthy? One row per job, its numbers charted over time."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import Response

from driftline.server.dashboard import charts, queries
from driftline.server.dashboard._web import dashboard_of, time_range
from driftline.server.dashboard.security import Visitor
from driftline.server.jobs import job_health, run_metrics, run_status

#: Runs read for the page (newest first).
MAX_RUNS = 2000
#: Custom metrics charted (the rest are in the table).
MAX_CHARTS = 12


def jobs_page(request: Request, visitor: Visitor) -> Response:
    dash = dashboard_of(request)
    tr = time_range(request)
    who = visitor.principal
    project = None if who.is_global else who.project
    late_after = 300.0
    if dash.alerts is not None:
        from driftline._utils.durations import parse_duration

        late_after = parse_duration(dash.alerts.config.job_late_after)
    all_runs = dash.store.job_runs(None, MAX_RUNS, project)
    now = dash.clock.time()
    health = job_health(all_runs, now, late_after)
    runs = [r for r in all_runs if r["started_at"] >= tr.start]
    durations: dict[str, queries.Series] = {}
    lateness: dict[str, queries.Series] = {}
    numbers: dict[str, dict[str, queries.Series]] = {}
    for r in reversed(runs):
        job = r["job"]
        r["duration"] = max(r["finished_at"] - r["started_at"], 0.0)
        sched = r.get("scheduled_at")
        r["late"] = max(r["started_at"] - sched, 0.0) if sched is not None else None
        r["state"] = run_status(r, late_after)
        durations.setdefault(job, queries.Series()).add(r["started_at"], r["duration"])
        lateness.setdefault(job, queries.Series()).add(r["started_at"], r["late"])
        for name, value in run_metrics(r).items():
            if name == "duration_seconds":
                continue
            numbers.setdefault(name, {}).setdefault(job, queries.Series()).add(
                r["started_at"], value
            )
    runs.reverse()
    span = (tr.start, tr.end)
    figures: dict[str, Any] = {}
    if durations:
        names = sorted(durations)
        figures["durations"] = charts.line(
            "Run duration (s)", [(n, durations[n]) for n in names], x_range=span
        )
        figures["lateness"] = charts.line(
            "Start delay after schedule (s)", [(n, lateness[n]) for n in names], x_range=span
        )
    metric_charts = []
    for name in sorted(numbers)[:MAX_CHARTS]:
        per_job = numbers[name]
        key = "metric-" + "".join(c if c.isalnum() else "-" for c in name)
        metric_charts.append(
            (key, name, charts.line(name.replace("_", " "), sorted(per_job.items()), x_range=span))
        )
    # the stream consumers' lag per base window (stored by the feeder; collector-wide,
    # so shown to keys of every project only)
    lag_charts = None
    consumers: list[dict[str, Any]] = []
    if who.is_global:
        lag_charts, consumers = _stream_lag(dash, tr.start, tr.end, span)
    ctx = {
        "runs": runs[:200],
        "lag_chart": lag_charts,
        "consumers": consumers,
        "health": health,
        "figures": figures,
        "metric_charts": metric_charts,
        "late_after": late_after,
        "unhealthy": [h for h in health if h.verdict != "ok"],
    }
    return dash.render(request, visitor, "jobs.html", ctx, tr=tr)


def _stream_lag(dash: Any, start: float, end: float, span: tuple[float, float]) -> Any:
    """A chart of each stream consumer's largest lag per base window, and its latest window."""
    from driftline.server.stream import lag_points

    base = dash.settings.windows.base
    rows = lag_points(dash.store, base, start - base, end + 1)  # with the open window
    if not rows:
        return None, []
    series: dict[str, queries.Series] = {}
    latest: dict[str, dict[str, Any]] = {}
    for r in sorted(rows, key=lambda r: r["window_start"]):
        name = str(r["column"])
        series.setdefault(name, queries.Series()).add(r["window_start"], r["value"])
        latest[name] = r
    fig = charts.line(
        "Stream consumer lag (messages, largest per window)", sorted(series.items()), x_range=span
    )
    out = []
    for name in sorted(latest):
        r = dict(latest[name])
        try:
            r["last"] = orjson.loads(r["details"] or "{}").get("last")
        except (orjson.JSONDecodeError, AttributeError):
            r["last"] = None
        out.append(r)
    return fig, out
