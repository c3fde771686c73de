"""The model page's "Inside the service" section: stages, resources, cost, error groups.

Shown when the version has stage, resource, cost, error-group or input-check
points in the range (docs/service.md). The stage table answers "which stage
made p99 worse" (:func:`judge_stage`): each stage's p99 in the latest window
against its own baseline, the earlier windows of the range with at least
``MIN_RUNS`` runs each (at least ``MIN_BASELINE`` of them). A stage made p99
worse when its latest p99 is more than ``GROWTH`` (20 %) above the baseline's
median and more than ``SPREAD`` (3) robust standard deviations (1.4826 x the
median absolute deviation) above it, so beyond the stage's own
window-to-window spread; the median and MAD ignore a regression that has
lasted a few windows already, so a lasting one stays named. The largest
increase is named. Too few runs or baseline windows: "insufficient data", and
why.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from driftline.server.dashboard import charts
from driftline.server.dashboard.queries import Series, point_details
from driftline.server.dashboard.timerange import TimeRange
from driftline.store.base import MetricQuery, Store

METRICS = (
    "stage_latency_seconds",
    "stage_error_ratio",
    "stage_time_share",
    "stage_unclosed",
    "latency_seconds",
    "resource_cpu_seconds",
    "resource_rss_bytes",
    "resource_rss_growth_bytes_per_hour",
    "resource_gpu_utilization_ratio",
    "cost",
    "cost_per_1k_predictions",
    "error_group",
    "input_violation_ratio",
)


#: runs a window's stage p99 needs to be compared (below 100 it is close to the maximum)
MIN_RUNS = 20
#: earlier windows with MIN_RUNS runs that make a stage's baseline
MIN_BASELINE = 3
#: growth over the baseline median that counts as worse
GROWTH = 0.2
#: robust standard deviations of the baseline windows' p99 the latest must exceed
SPREAD = 3.0


@dataclass
class StageRow:
    name: str
    p50: float | None
    p99: float | None
    p99_before: float | None
    share: float | None
    error_ratio: float | None
    runs: int
    history: list[float | None]
    #: "worse", "ok" or "insufficient_data" (:func:`judge_stage`), with the reason
    verdict: str = "ok"
    reason: str | None = None

    @property
    def delta(self) -> float | None:
        if self.p99 is None or self.p99_before is None:
            return None
        return self.p99 - self.p99_before


@dataclass
class ErrorGroup:
    fingerprint: str
    type: str
    count: int
    first_seen: float
    last_seen: float
    message: str | None
    where: str
    trace_id: str | None


@dataclass
class ServicePanel:
    stages: list[StageRow] = field(default_factory=list)
    worst: StageRow | None = None
    #: stages whose p99 cannot be judged (too few runs or baseline windows)
    undecided: list[StageRow] = field(default_factory=list)
    p99: float | None = None
    p99_before: float | None = None
    resources: dict[str, Any] = field(default_factory=dict)
    cost: dict[str, Any] = field(default_factory=dict)
    errors: list[ErrorGroup] = field(default_factory=list)
    checks: dict[str, Any] = field(default_factory=dict)
    #: stages left open (an exception, a missing end()) over the range, closed by the SDK
    unclosed: int = 0
    figures: dict[str, dict[str, Any]] = field(default_factory=dict)


def _details(row: dict[str, Any]) -> dict[str, Any]:
    return point_details(row.get("details"))


def service_panel(
    store: Store,
    tr: TimeRange,
    model: str,
    version: str,
    segment: str,
    x_range: tuple[float, float] | None = None,
    limit: int = 20_000,
) -> ServicePanel | None:
    """The section's tables and charts; None when the range has none of its points."""
    rows: dict[str, list[dict[str, Any]]] = {}
    for metric in METRICS:
        seg = segment if metric.startswith(("stage_", "latency", "error_group")) else "*"
        found = store.metric_points(
            MetricQuery(
                model=model, version=version, segment=seg, metric=metric,
                window_size=tr.window_size, start=tr.start, end=tr.end, limit=limit,
            )
        )  # fmt: skip
        rows[metric] = sorted(found, key=lambda r: r["window_start"])
    if not any(rows[m] for m in METRICS if m != "latency_seconds"):
        return None
    panel = ServicePanel()
    panel.unclosed = int(sum(r["value"] or 0 for r in rows["stage_unclosed"]))
    _stages(panel, rows, x_range)
    _resources(panel, rows, x_range)
    _cost(panel, rows, tr, x_range)
    _errors(panel, rows)
    checks = rows["input_violation_ratio"]
    if checks:
        last = checks[-1]
        panel.checks = {
            "ratio": last["value"],
            "calls": int(last["n"]),
            "violations": _details(last).get("violations") or {},
        }
    return panel


def _split(values: list[tuple[int, float | None]]) -> tuple[float | None, float | None]:
    """(the latest window's value, the median of the earlier windows' values)."""
    if not values:
        return None, None
    last_ws, last = values[-1]
    earlier = [v for ws, v in values if ws < last_ws and v is not None]
    return last, (statistics.median(earlier) if earlier else None)


def judge_stage(
    windows: list[tuple[int, float | None, int]],
) -> tuple[float | None, float | None, str, str | None]:
    """(latest p99, baseline median, verdict, reason) of one stage from its windows'
    ``(window start, p99, runs)`` in time order (module documentation)."""
    if not windows:
        return None, None, "insufficient_data", "no window with this stage"
    last_ws, last, runs = windows[-1]
    base = [v for ws, v, n in windows[:-1] if ws < last_ws and v is not None and n >= MIN_RUNS]
    before = statistics.median(base) if base else None
    if last is None or runs < MIN_RUNS:
        return (
            last,
            before,
            "insufficient_data",
            (f"{runs} runs in the latest window; its p99 is compared from {MIN_RUNS}"),
        )
    if len(base) < MIN_BASELINE:
        return (
            last,
            before,
            "insufficient_data",
            (
                f"{len(base)} earlier window(s) with {MIN_RUNS}+ runs; the baseline needs "
                f"{MIN_BASELINE}"
            ),
        )
    assert before is not None
    mad = statistics.median(abs(v - before) for v in base)
    if last > (1 + GROWTH) * before and last > before + SPREAD * 1.4826 * mad:
        return last, before, "worse", None
    return last, before, "ok", None


def _stages(panel: ServicePanel, rows: dict[str, list[dict[str, Any]]], x_range: Any) -> None:
    p99 = [(int(r["window_start"]), r["value"]) for r in rows["latency_seconds"]
           if r["method"] == "p99" and r["column"] == ""]  # fmt: skip
    panel.p99, panel.p99_before = _split(p99)
    names = sorted({str(r["column"]) for r in rows["stage_latency_seconds"]})
    series: dict[str, Series] = {}
    for name in names:
        mine = [r for r in rows["stage_latency_seconds"] if r["column"] == name]
        q99 = [(int(r["window_start"]), r["value"], int(r["n"] or 0))
               for r in mine if r["method"] == "p99"]  # fmt: skip
        q50 = [r["value"] for r in mine if r["method"] == "p50"]
        last, before, verdict, reason = judge_stage(q99)
        share = [r for r in rows["stage_time_share"] if r["column"] == name]
        errs = [r for r in rows["stage_error_ratio"] if r["column"] == name]
        s = Series()
        for ws, v, _ in q99:
            s.add(float(ws), v)
        series[name] = s
        panel.stages.append(
            StageRow(
                name=name,
                p50=q50[-1] if q50 else None,
                p99=last,
                p99_before=before,
                share=share[-1]["value"] if share else None,
                error_ratio=errs[-1]["value"] if errs else None,
                runs=int(errs[-1]["n"]) if errs else 0,
                history=list(s.y),
                verdict=verdict,
                reason=reason,
            )
        )
    grew = [s for s in panel.stages if s.verdict == "worse"]
    panel.worst = max(grew, key=lambda s: s.delta or 0.0) if grew else None
    panel.undecided = [s for s in panel.stages if s.verdict == "insufficient_data"]
    if names:
        panel.figures["stages"] = charts.line(
            "p99 latency per stage (ms)",
            [(n, series[n]) for n in names],
            scale=1000.0,
            x_range=x_range,
        )


def _series(rows: list[dict[str, Any]], method: str | None = None) -> Series:
    s = Series()
    for r in rows:
        if method is None or r["method"] == method:
            s.add(float(r["window_start"]), r["value"])
    return s


def _resources(panel: ServicePanel, rows: dict[str, list[dict[str, Any]]], x_range: Any) -> None:
    rss, cpu = rows["resource_rss_bytes"], rows["resource_cpu_seconds"]
    if not (rss or cpu):
        return
    last_cpu = cpu[-1] if cpu else None
    info = _details(last_cpu) if last_cpu else {}
    status = info.get("gpu_status") or {}
    gpu = rows["resource_gpu_utilization_ratio"]
    panel.resources = {
        "cpu_seconds": last_cpu["value"] if last_cpu else None,
        "window": int(last_cpu["window_size"]) if last_cpu else None,
        "rss_bytes": rss[-1]["value"] if rss else None,
        "growth": (rows["resource_rss_growth_bytes_per_hour"] or [{}])[-1].get("value"),
        "processes": info.get("processes"),
        "gpu": gpu[-1]["value"] if gpu else None,
        "gpu_status": (
            "ok" if status.get("ok")
            else "error: NVML failed (driftline_sdk_resource_errors_total)" if status.get("error")
            else "no GPU seen (NVML absent or no device)"
        ),
    }  # fmt: skip
    panel.figures["memory"] = charts.line(
        "Resident memory (MiB)", [("RSS", _series(rss))], scale=1 / 2**20, x_range=x_range
    )
    panel.figures["cpu"] = charts.line(
        "CPU seconds per window", [("CPU", _series(cpu))], x_range=x_range
    )


def _cost(
    panel: ServicePanel, rows: dict[str, list[dict[str, Any]]], tr: TimeRange, x_range: Any
) -> None:
    total = [r for r in rows["cost"] if r["method"] == "total"]
    if not total:
        return
    d = _details(total[-1])
    spent = sum(float(r["value"] or 0.0) for r in total)
    covered = len(total) * tr.window_size
    incomplete = any(r["status"] == "incomplete" for r in total)
    unpriced: dict[str, float] = {}
    for r in total:
        for k, v in (_details(r).get("unpriced") or {}).items():
            unpriced[k] = unpriced.get(k, 0.0) + float(v)
    per_1k = rows["cost_per_1k_predictions"]
    panel.cost = {
        "currency": d.get("currency") or "",
        "per_1k": per_1k[-1]["value"] if per_1k else None,
        "per_day": spent * 86400.0 / covered if covered else None,
        "in_range": spent,
        "incomplete": incomplete,
        "unpriced": unpriced,
    }
    panel.figures["cost"] = charts.line(
        f"Cost per 1,000 predictions ({panel.cost['currency']})",
        [("per 1k", _series(per_1k))],
        x_range=x_range,
    )


def _errors(panel: ServicePanel, rows: dict[str, list[dict[str, Any]]]) -> None:
    groups: dict[str, ErrorGroup] = {}
    for r in rows["error_group"]:
        d = _details(r)
        fp = str(r["column"])
        frames = d.get("frames") or []
        top = frames[-1] if frames else {}
        where = f"{top.get('module', '')}.{top.get('function', '')}:{top.get('line', '')}"
        g = groups.get(fp)
        count = int(r["value"] or 0)
        first, last = float(d.get("first_seen") or 0.0), float(d.get("last_seen") or 0.0)
        if g is None:
            groups[fp] = ErrorGroup(
                fp, str(d.get("type") or r["method"]), count, first, last,
                d.get("message"), where if frames else "", d.get("trace_id"),
            )  # fmt: skip
            continue
        g.count += count
        g.first_seen = min(g.first_seen, first)
        if last >= g.last_seen:
            g.last_seen, g.message = last, d.get("message")
            g.trace_id = d.get("trace_id") or g.trace_id
    panel.errors = sorted(groups.values(), key=lambda g: (-g.count, -g.last_seen))[:20]
