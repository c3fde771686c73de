"""The Jobs page: is my pipeline healthy? One row per job, its numbers charted over time."""

from __future__ import annotations

from typing import Any

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
    ctx = {
        "runs": runs[:200],
        "health": health,
        "figures": figures,
        "metric_charts": metric_charts,
        "late_after": late_after,
        "unhealthy": [h for h in health if h.verdict != "ok"],
    }
    return dash.render(request, visitor, "jobs.html", ctx, tr=tr)
