"""Metric points of the service side of a window (docs/collector.md, "Inside the service").

Stages (per stage name in ``column``): ``stage_latency_seconds`` (method
p50/p95/p99/mean), ``stage_error_ratio``, ``stage_time_share`` (the stage's
summed time over the window's summed prediction latency; nested stages are
inside their parent's share too), ``stage_unclosed``.

Resources (all traffic): ``resource_cpu_seconds``, ``resource_gpu_seconds``,
``resource_rss_bytes`` (the latest RSS of each process, summed),
``resource_rss_growth_bytes_per_hour``, ``resource_gpu_utilization_ratio``,
``resource_gpu_memory_bytes``.

Input checks (all traffic): ``input_checks`` (calls), ``input_violation_ratio``
(calls with a violation / calls) and ``input_violations`` per kind in
``column``.

Errors: ``error_group`` per fingerprint in ``column`` (value: count; details:
type, first/last seen, message, frames, trace id) and ``error_groups_other``.

Cost (when the ``prices:`` section is configured): ``cost`` (method ``compute``,
``tokens``, ``total``; status ``incomplete`` with ``details.unpriced`` when a
price is missing), ``cost_per_1k_predictions`` and ``cost_burn_rate`` (the
window's cost per day over the daily budget; 1 spends the budget exactly).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from driftline.windows.service import ServiceStats

if TYPE_CHECKING:
    from driftline._utils.llm import PriceTable
    from driftline.windows.points import Points
    from driftline.windows.stats import WindowStats

#: A process must be seen this long in a window for its memory growth to count.
GROWTH_MIN_SECONDS = 60.0


def service_points(
    points: Points, seg: str, st: WindowStats, all_traffic: bool, prices: PriceTable | None
) -> None:
    sv = st.service
    stages(points, seg, sv, st)
    errors(points, seg, sv)
    if all_traffic:
        resources(points, seg, sv)
        checks(points, seg, sv)
        if prices is not None:
            cost(points, seg, sv, st.n_events, prices)


def stages(points: Points, seg: str, sv: ServiceStats, st: WindowStats) -> None:
    if not sv.stages:
        return
    total = st.latency.mean * st.latency.n if st.latency.n else 0.0
    unclosed = 0
    for name, s in sorted(sv.stages.items()):
        unclosed += s.unclosed
        if s.latency.n:
            qs = s.latency_q.quantiles(np.array([0.5, 0.95, 0.99])).tolist()
            for q, v in zip(("p50", "p95", "p99"), qs, strict=True):
                points.add(seg, "stage_latency_seconds", v, column=name, method=q, n=s.n)
            points.add(
                seg, "stage_latency_seconds", s.latency.mean, column=name, method="mean", n=s.n
            )
        points.add(seg, "stage_error_ratio", s.errors / s.n if s.n else None, column=name, n=s.n)
        spent = s.latency.mean * s.latency.n if s.latency.n else 0.0
        points.add(
            seg,
            "stage_time_share",
            spent / total if total > 0 else None,
            column=name,
            n=s.n,
            details={"seconds": spent, "unclosed": s.unclosed, "errors": s.errors},
        )
    points.add(seg, "stage_unclosed", unclosed, n=sv.staged_events)


def errors(points: Points, seg: str, sv: ServiceStats) -> None:
    for fp, g in sorted(sv.groups.items(), key=lambda kv: -kv[1]["count"]):
        points.add(
            seg,
            "error_group",
            g["count"],
            column=fp,
            method=str(g["type"])[:128],
            n=int(g["count"]),
            details={
                "type": g["type"],
                "first_seen": g["first_seen"],
                "last_seen": g["last_seen"],
                "message": g["message"],
                "frames": g["frames"],
                "trace_id": g.get("trace_id"),
            },
        )
    if sv.errors_other:
        points.add(seg, "error_groups_other", sv.errors_other, n=sv.errors_other)


def resources(points: Points, seg: str, sv: ServiceStats) -> None:
    if not sv.instances:
        return
    n = sum(int(i["samples"]) for i in sv.instances.values())
    info = {"processes": len(sv.instances), "gpu_status": sv.gpu_status()}
    points.add(seg, "resource_cpu_seconds", sv.cpu_seconds, n=n, details=info)
    rss = sv.rss_bytes()
    if rss is not None:
        points.add(seg, "resource_rss_bytes", rss, n=n, details=info)
    growth = sv.rss_growth()
    if growth is not None and growth[1] >= GROWTH_MIN_SECONDS:
        grew, span = growth
        points.add(
            seg,
            "resource_rss_growth_bytes_per_hour",
            grew / span * 3600.0,
            n=n,
            details={"bytes": grew, "seconds": span},
        )
    held = sv.gpu_seconds
    status = sv.gpu_status()
    if held > 0 or status.get("ok"):
        points.add(seg, "resource_gpu_seconds", held, n=n, details=info)
        points.add(seg, "resource_gpu_utilization_ratio", sv.gpu_utilization(), n=n, details=info)
        mem = [i["gpu_memory_max"] for i in sv.instances.values() if i["gpu_memory_max"]]
        if mem:
            points.add(seg, "resource_gpu_memory_bytes", float(sum(mem)), n=n, details=info)


def checks(points: Points, seg: str, sv: ServiceStats) -> None:
    c = sv.checks
    calls = int(c["calls"])
    if not calls:
        return
    bad = dict(c["violations"])
    points.add(seg, "input_checks", calls, n=calls)
    points.add(
        seg,
        "input_violation_ratio",
        c["violating"] / calls,
        n=calls,
        details={"violating": c["violating"], "violations": bad},
    )
    for kind, count in sorted(bad.items()):
        points.add(seg, "input_violations", count, column=kind, n=calls)


def window_cost(
    prices: PriceTable, model: str, sv: ServiceStats
) -> tuple[float, float, dict[str, float]]:
    """(compute cost, token cost, what could not be priced) of one window of ``model``.

    A missing price is never taken as zero: CPU or GPU seconds without an hourly
    price and the tokens of an LLM the table does not list are left out of the
    sums and named (``cpu_seconds``, ``gpu_seconds``, ``tokens:<llm>``)."""
    cpu_hour, gpu_hour = prices.compute_prices(model)
    compute, tokens = 0.0, 0.0
    unpriced: dict[str, float] = {}
    for name, seconds, hourly in (
        ("cpu_seconds", sv.cpu_seconds, cpu_hour),
        ("gpu_seconds", sv.gpu_seconds, gpu_hour),
    ):
        if seconds > 0:
            if hourly is None:
                unpriced[name] = seconds
            else:
                compute += seconds / 3600.0 * hourly
    for llm, (_, tin, tout) in sorted(sv.tokens.items()):
        c = prices.cost(llm, tin, tout)
        if c is None:
            if tin or tout:
                unpriced[f"tokens:{llm}"] = float(tin + tout)
        else:
            tokens += c
    return compute, tokens, unpriced


def cost(points: Points, seg: str, sv: ServiceStats, events: int, prices: PriceTable) -> None:
    if not sv.instances and not sv.tokens:
        return
    key = points.key
    compute, tokens, unpriced = window_cost(prices, key.model, sv)
    total = compute + tokens
    details: dict[str, Any] = {
        "currency": prices.currency,
        "compute": compute,
        "tokens": tokens,
        "unpriced": unpriced,
        "tokens_by_model": {m: {"input": t[1], "output": t[2]} for m, t in sv.tokens.items()},
    }
    status = "incomplete" if unpriced else "ok"
    for part, value in (("compute", compute), ("tokens", tokens), ("total", total)):
        points.add(seg, "cost", value, method=part, status=status, n=events, details=details)
    if events:
        points.add(
            seg,
            "cost_per_1k_predictions",
            total / events * 1000.0,
            status=status,
            n=events,
            details=details,
        )
    budget = prices.budget(key.model)
    if budget is not None:
        per_day = total * 86400.0 / key.window_size
        points.add(
            seg,
            "cost_burn_rate",
            per_day / budget,
            status=status,
            n=events,
            details={**details, "daily_budget": budget, "cost_per_day": per_day},
        )
