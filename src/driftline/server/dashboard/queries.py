"""What the pages show, read from the store's metric points (no HTML here).

Every function reads the points of one time range at the range's window
size (see :mod:`.timerange`), so a page costs a few indexed queries whatever
the traffic was.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from driftline.server.dashboard._light import Light, light_points
from driftline.server.dashboard.timerange import TimeRange
from driftline.store.base import MetricQuery, Store

ALL = "*"
#: The dashboard's name of the label-free performance estimate (see bridge.py).
ESTIMATE = "performance.estimated_accuracy"
ACCURACY = "performance.accuracy"
LIMIT = 500_000
SPARK_POINTS = 120


def points(
    store: Store,
    tr: TimeRange,
    metric: str | None,
    *,
    model: str | None = None,
    version: str | None = None,
    column: str | None = None,
    segment: str | None = ALL,
    start: float | None = None,
) -> list[dict[str, Any]]:
    q = MetricQuery(
        model=model,
        version=version,
        segment=segment,
        metric=metric,
        column=column,
        window_size=tr.window_size,
        start=tr.start if start is None else start,
        end=tr.end,
        limit=LIMIT,
    )
    return store.metric_points(q)


def light(
    store: Store,
    tr: TimeRange,
    metric: str,
    model: str,
    version: str,
    *,
    segment: str | None = ALL,
    column: str | None = None,
) -> list[Light]:
    return light_points(
        store, model=model, version=version, metric=metric, window_size=tr.window_size,
        start=tr.start, end=tr.end, segment=segment, column=column,
    )  # fmt: skip


def _details(p: dict[str, Any]) -> dict[str, Any]:
    raw = p.get("details")
    if isinstance(raw, dict):
        return raw
    try:
        out = orjson.loads(raw or "{}")
    except orjson.JSONDecodeError:
        return {}
    return out if isinstance(out, dict) else {}


def _num(v: Any) -> float | None:
    if v is None:
        return None
    f = float(v)
    return f if math.isfinite(f) else None


# -- overview ---------------------------------------------------------------------------------


@dataclass
class VersionHealth:
    model: str
    version: str
    events: int = 0
    windows: int = 0
    last_window: float | None = None
    p99: float | None = None
    error_rate: float | None = None
    drifted: int = 0
    columns: int = 0
    quality_failed: int = 0
    quality_checks: int = 0
    accuracy: float | None = None
    estimated: float | None = None
    label_coverage: float | None = None
    firing: int = 0
    pending: int = 0
    share: float | None = None

    @property
    def status(self) -> str:
        if self.firing:
            return "firing"
        if self.events == 0:
            return "no data"
        if self.drifted or self.quality_failed or self.pending:
            return "warning"
        return "ok"


def versions(store: Store) -> list[tuple[str, str]]:
    return [(m["model"], v["version"]) for m in store.models() for v in m["versions"]]


def overview(store: Store, tr: TimeRange, known: Iterable[tuple[str, str]]) -> list[VersionHealth]:
    """Health of every model version over the range (latest window for drift and quality)."""
    rows = {mv: VersionHealth(*mv) for mv in known}
    latest: dict[tuple[str, str], float] = {}
    errors: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    labelled: dict[tuple[str, str], int] = defaultdict(int)
    sums: dict[tuple[str, str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for key in list(rows):  # per version: the (model, metric, window) index serves each query
        model, version = key
        h = rows[key]
        for lp in light(store, tr, "events", model, version):
            h.events += int(lp.value or 0)
            h.windows += 1
            latest[key] = max(latest.get(key, -math.inf), lp.window_start)
        for lp in light(store, tr, "error_ratio", model, version):
            errors[key][0] += (lp.value or 0.0) * lp.n
            errors[key][1] += lp.n
        for lp in light(store, tr, "label_coverage_ratio", model, version):
            labelled[key] += int(lp.n or 0)
        for metric, attr in ((ACCURACY, "accuracy"), (ESTIMATE, "estimated")):
            for lp in light(store, tr, metric, model, version):
                if lp.value is not None and lp.n:  # weighted by the values behind each
                    sums[(model, version, attr)][0] += lp.value * lp.n
                    sums[(model, version, attr)][1] += lp.n
    for key, (bad, n) in errors.items():
        if n:
            rows[key].error_rate = bad / n
    for key, n in labelled.items():
        if rows[key].events:
            rows[key].label_coverage = n / rows[key].events
    for (model, version, attr), (total, n) in sums.items():
        setattr(rows[(model, version)], attr, total / n)
    for key, ws in latest.items():
        h = rows[key]
        h.last_window = ws
        latest_tr = TimeRange(tr.name, ws, ws + 1, tr.window_size, tr.pinned)
        for p in points(store, latest_tr, None, model=key[0], version=key[1]):
            if p["window_start"] != ws:
                continue
            metric = p["metric"]
            if metric == "latency_p99_seconds":
                h.p99 = _num(p["value"])
            elif metric == "drift_score":
                h.columns += 1
                h.drifted += p["status"] == "drift"
            elif metric.startswith("quality."):
                h.quality_checks += 1
                h.quality_failed += p["status"] == "fail"
    totals: dict[str, int] = defaultdict(int)
    for h in rows.values():
        totals[h.model] += h.events
    for h in rows.values():
        h.share = h.events / totals[h.model] if totals[h.model] else None
    return list(rows.values())


# -- one model version -----------------------------------------------------------------------


@dataclass
class Series:
    """A time series: window starts (epoch seconds) and values (None for gaps)."""

    x: list[float] = field(default_factory=list)
    y: list[float | None] = field(default_factory=list)

    def add(self, x: float, y: Any) -> None:
        self.x.append(x)
        self.y.append(_num(y))

    @property
    def last(self) -> float | None:
        for v in reversed(self.y):
            if v is not None:
                return v
        return None


def series(
    store: Store,
    tr: TimeRange,
    metric: str,
    model: str,
    version: str,
    *,
    segment: str = ALL,
    column: str | None = None,
    method: str | None = None,
) -> Series:
    out = Series()
    for p in points(
        store, tr, metric, model=model, version=version, column=column, segment=segment
    ):
        if method is None or p["method"] == method:
            out.add(p["window_start"], p["value"])
    return out


def operational(
    store: Store, tr: TimeRange, model: str, version: str, segment: str = ALL
) -> dict[str, Series]:
    names = {"events": "events", "error_ratio": "error_ratio"}
    names.update({f"latency_{q}_seconds": q for q in ("p50", "p95", "p99")})
    names["latency_seconds"] = "mean"  # read only when there are no percentiles
    out = {name: Series() for name in names.values()}
    for metric, name in names.items():
        if name == "mean" and out["p99"].x:
            continue
        for lp in light(store, tr, metric, model, version, segment=segment):
            out[name].add(lp.window_start, lp.value)
    return out


def drifted_now(store: Store, tr: TimeRange, model: str, version: str) -> list[str]:
    """Columns drifted in the latest window of the range."""
    ws = latest_window(store, tr, model, version)
    if ws is None:
        return []
    one = TimeRange(tr.name, ws, ws + 1, tr.window_size, tr.pinned)
    return sorted(
        lp.column for lp in light(store, one, "drift_score", model, version) if lp.status == "drift"
    )


@dataclass
class ColumnDrift:
    column: str
    method: str = ""
    score: float | None = None
    threshold: float | None = None
    p_value: float | None = None
    status: str = "unknown"
    history: Series = field(default_factory=Series)
    drifted_windows: int = 0

    @property
    def severity(self) -> float:
        if self.score is None:
            return -1.0
        if self.threshold:
            return self.score / self.threshold
        return self.score


def drift_table(
    store: Store, tr: TimeRange, model: str, version: str, segment: str = ALL
) -> list[ColumnDrift]:
    """Drift per column, most severe first: drifted now, then drifted most often in the
    range, then by latest score over threshold."""
    cols: dict[str, ColumnDrift] = {}
    last: dict[str, int] = {}
    for lp in light(store, tr, "drift_score", model, version, segment=segment):
        c = cols.setdefault(lp.column, ColumnDrift(lp.column))
        c.history.add(lp.window_start, lp.value)
        c.method = lp.method
        c.score = _num(lp.value)
        c.status = lp.status
        c.drifted_windows += lp.status == "drift"
        last[lp.column] = lp.window_start
    for ws in set(last.values()):  # thresholds and p-values of the latest points only
        one = TimeRange(tr.name, ws, ws + 1, tr.window_size, tr.pinned)
        for p in points(store, one, "drift_score", model=model, version=version, segment=segment):
            if last.get(p["column"]) == ws:
                details = _details(p)
                cols[p["column"]].threshold = _num(details.get("threshold"))
                cols[p["column"]].p_value = _num(details.get("p_value"))
    return sorted(
        cols.values(),
        key=lambda c: (c.status != "drift", -c.drifted_windows, -c.severity, c.column),
    )


@dataclass
class Check:
    check: str
    column: str
    value: float | None
    threshold: float | None
    status: str


def latest_window(store: Store, tr: TimeRange, model: str, version: str) -> float | None:
    ev = light(store, tr, "events", model, version)
    return ev[-1].window_start if ev else None


def quality(
    store: Store, tr: TimeRange, model: str, version: str, segment: str = ALL
) -> tuple[list[Check], float | None]:
    """Quality checks of the latest window, failures first."""
    ws = latest_window(store, tr, model, version)
    if ws is None:
        return [], None
    out = []
    latest_tr = TimeRange(tr.name, ws, ws + 1, tr.window_size, tr.pinned)
    for p in points(store, latest_tr, None, model=model, version=version, segment=segment):
        m = p["metric"]
        if m.startswith("quality.") or m == "missing_ratio":
            name = m.removeprefix("quality.")
            threshold = _num(_details(p).get("threshold"))
            out.append(Check(name, p["column"], _num(p["value"]), threshold, p["status"]))
    rank = {"fail": 0, "warn": 1}
    out.sort(key=lambda c: (rank.get(c.status, 2), c.check, c.column))
    return out, ws


def performance(
    store: Store, tr: TimeRange, model: str, version: str, segment: str = ALL
) -> dict[str, Series]:
    return {
        "accuracy": series(store, tr, ACCURACY, model, version, segment=segment),
        "estimated": series(store, tr, ESTIMATE, model, version, segment=segment),
        "coverage": series(store, tr, "label_coverage_ratio", model, version, segment=segment),
    }


@dataclass
class SegmentRow:
    segment: str
    events: int = 0
    errors: float = 0.0
    correct: float = 0.0
    labelled: int = 0

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.events if self.events else None

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.labelled if self.labelled else None


def segments(store: Store, tr: TimeRange, model: str, version: str) -> list[SegmentRow]:
    rows: dict[str, SegmentRow] = {}
    for metric in ("events", "error_ratio", ACCURACY):
        for lp in light(store, tr, metric, model, version, segment=None):
            r = rows.setdefault(lp.segment, SegmentRow(lp.segment))
            v = lp.value or 0.0
            if metric == "events":
                r.events += int(v)
            elif metric == "error_ratio":
                r.errors += v * lp.n
            else:
                r.correct += v * lp.n
                r.labelled += lp.n
    return sorted(rows.values(), key=lambda r: (r.segment != ALL, -r.events, r.segment))


def sparkline(values: Sequence[float | None], *, threshold: float | None = None) -> str:
    """An inline SVG polyline of ``values`` (gaps skipped), with a dashed threshold line."""
    w, h, pad = 120.0, 26.0, 2.0
    if len(values) > SPARK_POINTS:  # one point per pixel or so: the max of each bucket
        step = len(values) / SPARK_POINTS
        buckets = [values[int(i * step) : int((i + 1) * step)] for i in range(SPARK_POINTS)]
        values = [max((v for v in b if v is not None), default=None) for b in buckets]
    vals = [v for v in values if v is not None]
    if not vals:
        return ""
    top = max([*vals, threshold or 0.0]) or 1.0
    n = max(len(values) - 1, 1)

    def y(v: float) -> float:
        return h - pad - (h - 2 * pad) * (v / top if top else 0.0)

    pts = " ".join(
        f"{pad + (w - 2 * pad) * i / n:.1f},{y(v):.1f}"
        for i, v in enumerate(values)
        if v is not None
    )
    line = ""
    if threshold is not None and threshold <= top:
        ty = y(threshold)
        line = f'<line x1="0" x2="{w:.0f}" y1="{ty:.1f}" y2="{ty:.1f}" class="spark-threshold"/>'
    return (
        f'<svg class="spark" viewBox="0 0 {w:.0f} {h:.0f}" width="{w:.0f}" height="{h:.0f}" '
        f'role="img" aria-label="history">{line}<polyline points="{pts}"/></svg>'
    )
