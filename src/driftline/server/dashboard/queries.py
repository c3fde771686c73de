"""What the pages show, read from the store's metric points (no HTML here).

Every function reads one time range at the range's window size (see
:mod:`.timerange`) through :mod:`._sql`: the database groups the points into
time buckets (a chart gets at most :data:`CHART_POINTS` points, a sparkline
:data:`SPARK_POINTS`), so a page costs a few indexed queries whatever the
range and the traffic were.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from driftline.server.dashboard._sql import (
    Agg,
    PointRow,
    Scope,
    aggregate,
    combine,
    window_rows,
)
from driftline.server.dashboard.timerange import TimeRange
from driftline.store.base import Store

ALL = "*"
#: Realized accuracy from labels (the evaluator).
ACCURACY = "performance.accuracy"
#: Accuracy estimated without labels by CBPE (the evaluator, method ``cbpe``).
CBPE = "estimated.accuracy"
#: The mean top-class probability, the older label-free stand-in (bridge.py writes it);
#: shown only when there is no CBPE estimate.
ESTIMATE = "performance.estimated_accuracy"
#: Latency: the evaluator's ``latency_seconds`` per method, or older per-quantile names.
LATENCY = "latency_seconds"
LATENCY_NAMES = {f"latency_{q}_seconds": q for q in ("p50", "p90", "p95", "p99")}
#: Performance metrics shown realized (``performance.X``) next to estimated (``estimated.X``).
PERFORMANCE = (
    "accuracy", "roc_auc", "pr_auc", "f1", "precision", "recall", "log_loss", "brier", "ece",
    "mae", "rmse",
)  # fmt: skip
CHART_POINTS = 400
SPARK_POINTS = 120


def _num(v: Any) -> float | None:
    if v is None:
        return None
    f = float(v)
    return f if math.isfinite(f) else None


def point_details(raw: Any) -> dict[str, Any]:
    """A metric point's ``details`` as a dict: JSON text, or a mapping already parsed;
    ``{}`` when there are none, or they are not a JSON object (never an exception on a page)."""
    if isinstance(raw, Mapping):
        return dict(raw)
    try:
        out = orjson.loads(raw or "{}")
    except orjson.JSONDecodeError:
        return {}
    return out if isinstance(out, dict) else {}


def scope(tr: TimeRange, model: str, version: str, segment: str | None = ALL) -> Scope:
    return Scope(model, version, tr.window_size, tr.start, tr.end, segment)


def bucket_for(tr: TimeRange, points: int) -> int:
    """Seconds per plotted point: the window size, or a multiple giving at most ``points``."""
    windows = math.ceil(tr.seconds / tr.window_size)
    return tr.window_size * max(1, math.ceil(windows / points))


@dataclass
class Series:
    """A time series: bucket starts (epoch seconds) and values (None for gaps)."""

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


def _series(aggs: Iterable[Agg], how: str) -> Series:
    out = Series()
    for a in aggs:
        out.add(a.first, a.total if how == "sum" else (a.top if how == "max" else a.mean))
    return out


def _latency_of(a: Agg) -> str | None:
    if a.metric == LATENCY:
        return a.method if a.method in ("p50", "p90", "p95", "p99", "mean") else None
    return LATENCY_NAMES.get(a.metric)


def _latency(aggs: Sequence[Agg]) -> dict[str, Series]:
    """p50/p90/p95/p99 (and the mean when no percentile exists) per bucket, the evaluator's
    ``latency_seconds`` points first, the older per-quantile names otherwise."""
    fresh: dict[str, list[Agg]] = defaultdict(list)
    older: dict[str, list[Agg]] = defaultdict(list)
    for a in aggs:
        q = _latency_of(a)
        if q is not None:
            (fresh if a.metric == LATENCY else older)[q].append(a)
    out = {}
    for q in ("p50", "p90", "p95", "p99", "mean"):
        out[q] = _series(fresh.get(q) or older.get(q) or [], "max")
    if out["p99"].x or out["p95"].x or out["p50"].x:
        out["mean"] = Series()
    return out


@dataclass
class Estimate:
    """Label-free performance: CBPE when the evaluator wrote it, else mean confidence."""

    series: Series
    kind: str  # the evaluator's method ("cbpe"), "confidence" or "" (none)

    @property
    def label(self) -> str:
        return ESTIMATE_LABELS.get(self.kind, "")


#: How the pages name each kind of label-free estimate (the evaluator's ``method``).
ESTIMATE_LABELS = {
    "cbpe": "estimated (CBPE)",
    "dle": "estimated (DLE)",
    "confidence": "mean confidence",
}


def _estimate(by_metric: dict[str, list[Agg]]) -> Estimate:
    if by_metric.get(CBPE):
        return Estimate(_series(by_metric[CBPE], "mean"), by_metric[CBPE][0].method or "cbpe")
    if by_metric.get(ESTIMATE):
        return Estimate(_series(by_metric[ESTIMATE], "mean"), "confidence")
    return Estimate(Series(), "")


def _by_metric(aggs: Iterable[Agg]) -> dict[str, list[Agg]]:
    out: dict[str, list[Agg]] = defaultdict(list)
    for a in aggs:
        out[a.metric].append(a)
    return out


def _latency_now(rows: Iterable[PointRow]) -> tuple[float | None, float | None]:
    """(p99, mean) latency of one window's points."""
    fresh = older = mean = None
    for r in rows:
        if r.metric == LATENCY and r.method == "p99":
            fresh = _num(r.value)
        elif r.metric == LATENCY and r.method == "mean":
            mean = _num(r.value)
        elif r.metric == "latency_p99_seconds":
            older = _num(r.value)
    return (fresh if fresh is not None else older), mean


# -- overview ---------------------------------------------------------------------------------


@dataclass
class VersionHealth:
    model: str
    version: str
    events: int = 0
    windows: int = 0
    last_window: float | None = None
    p99: float | None = None
    latency_mean: float | None = None
    error_rate: float | None = None
    #: columns of the latest window: a text or image column counts once, its descriptors
    #: (``question.words``, ...) in it; drifted when it or one of its descriptors drifted
    drifted: int = 0
    drifted_columns: list[str] = field(default_factory=list)
    #: a drifted text or image column -> its descriptors that drifted (full names)
    drifted_descriptors: dict[str, list[str]] = field(default_factory=dict)
    columns: int = 0
    quality_failed: int = 0
    quality_checks: int = 0
    accuracy: float | None = None
    estimated: float | None = None
    estimate_kind: str = ""
    label_coverage: float | None = None
    firing: int = 0
    pending: int = 0
    share: float | None = None

    def drift_summary(self, limit: int = 0) -> str:
        """The drifted columns, each text or image column with its drifted descriptors:
        ``x, question (words, non letter share)``; past ``limit`` columns (0: none)
        ``... and 4 more``."""
        cols = self.drifted_columns
        shown = cols[:limit] if limit else cols
        out = []
        for c in shown:
            ds = [d[len(c) + 1 :].replace("_", " ") for d in self.drifted_descriptors.get(c, [])]
            out.append(f"{c} ({', '.join(ds)})" if ds else c)
        more = f" and {len(cols) - len(shown)} more" if len(cols) > len(shown) else ""
        return ", ".join(out) + more

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


OVERVIEW = ("events", "error_ratio", "label_coverage_ratio", ACCURACY, CBPE, ESTIMATE)


#: ``(model, version) -> {descriptor column: its text or image column}`` (from the
#: version's reference: ``embeddings.descriptor_parents``)
DescriptorsOf = Callable[[str, str], Mapping[str, str]]


def health(
    store: Store,
    tr: TimeRange,
    model: str,
    version: str,
    charts: Charts | None = None,
    descriptors_of: DescriptorsOf | None = None,
) -> VersionHealth:
    """One version over the range (the latest window for latency, drift and quality):
    one grouped query (none when the version's ``charts`` were read) and one read of the
    latest window. With ``descriptors_of``, a text or image column and its descriptors
    count as one column, as in the model page's drift table (read only when the window
    has a column named ``column.something``)."""
    h = VersionHealth(model, version)
    by: dict[str, list[Agg]]
    if charts is None:
        by = _by_metric(aggregate(store, scope(tr, model, version), OVERVIEW, by_column=False))
    else:  # the chart buckets summed up
        by = {m: [combine(v)] for m, v in _by_metric(charts.aggs).items() if m in OVERVIEW}
    for a in by.get("events", []):
        h.events += int(a.total or 0)
        h.windows += a.windows
        h.last_window = max(h.last_window or a.last, a.last)
    if by.get("error_ratio"):
        h.error_rate = by["error_ratio"][0].mean
    labelled = sum(a.weight or 0 for a in by.get("label_coverage_ratio", []))
    if h.events and by.get("label_coverage_ratio"):
        h.label_coverage = labelled / h.events
    if by.get(ACCURACY):
        h.accuracy = by[ACCURACY][0].mean
    est = _estimate(by)
    h.estimated, h.estimate_kind = est.series.last, est.kind
    if h.last_window is not None:
        latest = window_rows(store, scope(tr, model, version), int(h.last_window))
        h.p99, h.latency_mean = _latency_now(latest)
        scores = [r for r in latest if r.metric == "drift_score"]
        parents: Mapping[str, str] = {}
        if descriptors_of is not None and any("." in r.column for r in scores):
            parents = descriptors_of(model, version)
        drifted: dict[str, bool] = {}  # column (a descriptor's: its text column) -> drifted
        for r in scores:
            parent = parents.get(r.column)
            name = parent or r.column
            drifted[name] = drifted.get(name, False) or r.status == "drift"
            if parent is not None and r.status == "drift":
                h.drifted_descriptors.setdefault(parent, []).append(r.column)
        h.columns = len(drifted)
        h.drifted_columns = sorted(c for c, d in drifted.items() if d)
        h.drifted = len(h.drifted_columns)
        for ds in h.drifted_descriptors.values():
            ds.sort()
        for r in latest:
            if r.metric.startswith("quality."):
                h.quality_checks += 1
                h.quality_failed += r.status == "fail"
    return h


def overview(
    store: Store,
    tr: TimeRange,
    known: Iterable[tuple[str, str]],
    descriptors_of: DescriptorsOf | None = None,
) -> list[VersionHealth]:
    """Health of every model version over the range, with its share of its model's traffic."""
    rows = [
        health(store, tr, model, version, descriptors_of=descriptors_of) for model, version in known
    ]
    totals: dict[str, int] = defaultdict(int)
    for h in rows:
        totals[h.model] += h.events
    for h in rows:
        h.share = h.events / totals[h.model] if totals[h.model] else None
    return rows


# -- one model version -----------------------------------------------------------------------


CHARTS = ("events", "error_ratio", LATENCY, *LATENCY_NAMES, ACCURACY, CBPE, ESTIMATE)
CHARTS += ("label_coverage_ratio",)


@dataclass
class Charts:
    """The time series of a model page, ``CHART_POINTS`` at most each."""

    events: Series
    errors: Series
    latency: dict[str, Series]
    accuracy: Series
    estimate: Estimate
    coverage: Series
    last: int | None  # the start of the latest window with traffic
    aggs: list[Agg]  # what they were made of


def charts(store: Store, tr: TimeRange, model: str, version: str, segment: str = ALL) -> Charts:
    """Traffic (summed per bucket), error rate, accuracy, estimate and coverage (weighted
    means) and latency (the worst window of each bucket) in one grouped query."""
    aggs = aggregate(
        store,
        scope(tr, model, version, segment),
        CHARTS,
        bucket=bucket_for(tr, CHART_POINTS),
        by_column=False,
    )
    by = _by_metric(aggs)
    return Charts(
        events=_series(by.get("events", []), "sum"),
        errors=_series(by.get("error_ratio", []), "mean"),
        latency=_latency(aggs),
        accuracy=_series(by.get(ACCURACY, []), "mean"),
        estimate=_estimate(by),
        coverage=_series(by.get("label_coverage_ratio", []), "mean"),
        last=max((a.last for a in by.get("events", [])), default=None),
        aggs=aggs,
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
    windows: int = 0
    last: int = 0
    n: int = 0  # rows of the latest window
    p_adjusted: float | None = None  # the p-value the verdict used (multiple testing)
    #: spike or shift of the latest window (windows/persistence.py): kind and run length
    persistence: str = ""
    run: int = 0
    #: a text or image column: its kind and its descriptors' rows, shown under it
    kind: str = ""
    descriptors: list[ColumnDrift] = field(default_factory=list)

    @property
    def descriptors_drifted(self) -> int:
        return sum(d.status == "drift" for d in self.descriptors)

    @property
    def test_only(self) -> bool:
        """A test with no effect threshold (an embedding column's MMD: 0): it drifts on its
        p-value alone, and the table shows no threshold rather than a bare 0."""
        from driftline.stats.drift.registry import DRIFT_METHODS

        meth = DRIFT_METHODS.get(self.method) if self.method in DRIFT_METHODS else None
        return meth is not None and meth.is_test and not self.threshold

    @property
    def not_significant(self) -> bool:
        """The score is at or above the effect threshold but the test did not reject:
        too few rows to tell the shift from chance (why the status is still ok)."""
        return (
            self.status == "ok"
            and self.score is not None
            and self.threshold is not None
            and self.score >= self.threshold
        )

    @property
    def severity(self) -> float:
        if self.score is None:
            return -1.0
        if self.threshold:
            return self.score / self.threshold
        return self.score


def drift_table(
    store: Store,
    tr: TimeRange,
    model: str,
    version: str,
    segment: str = ALL,
    *,
    column: str | None = None,
    points: int = SPARK_POINTS,
) -> list[ColumnDrift]:
    """Drift per column, most severe first: drifted now, then drifted most often in the
    range, then by latest score over threshold. ``history`` holds the largest score of each
    of at most ``points`` buckets."""
    sc = scope(tr, model, version, segment)
    cols: dict[str, ColumnDrift] = {}
    for a in aggregate(
        store, sc, ("drift_score",), bucket=bucket_for(tr, points), column=column, by_method=False
    ):
        c = cols.setdefault(a.column, ColumnDrift(a.column))
        c.history.add(a.first, a.top)
        c.drifted_windows += a.drifted
        c.windows += a.windows
        c.last = max(c.last, a.last)
    for ws in {c.last for c in cols.values()}:  # scores, thresholds, p-values: latest points
        for r in window_rows(store, sc, ws, metric="drift_score"):
            c2 = cols.get(r.column)
            if c2 is None or c2.last != ws:
                continue
            details = point_details(r.details)
            c2.method, c2.score, c2.status, c2.n = r.method, _num(r.value), r.status, r.n
            c2.threshold = _num(details.get("threshold"))
            c2.p_value = _num(details.get("p_value"))
            c2.p_adjusted = _num(details.get("p_value_adjusted"))
            pers = details.get("persistence")
            if isinstance(pers, dict):
                c2.persistence = str(pers.get("kind") or "")
                c2.run = int(pers.get("run") or pers.get("previous_run") or 0)
    return sorted(
        cols.values(),
        key=lambda c: (c.status != "drift", -c.drifted_windows, -c.severity, c.column),
    )


def column_series(
    store: Store, tr: TimeRange, model: str, version: str, column: str, metric: str, segment: str
) -> Series:
    """One column's ``metric`` (e.g. ``quality.missing_ratio``), the largest per bucket."""
    sc = scope(tr, model, version, segment)
    aggs = aggregate(
        store, sc, (metric,), bucket=bucket_for(tr, CHART_POINTS), column=column, by_method=False
    )
    return _series(aggs, "max")


@dataclass
class Check:
    check: str
    column: str
    value: float | None
    threshold: float | None
    status: str


def quality(
    store: Store, tr: TimeRange, model: str, version: str, last: float | None, segment: str = ALL
) -> list[Check]:
    """Quality checks of the window starting at ``last``, failures first."""
    if last is None:
        return []
    out = []
    for r in window_rows(store, scope(tr, model, version, segment), int(last)):
        if r.metric.startswith("quality.") or r.metric == "missing_ratio":
            name = r.metric.removeprefix("quality.")
            threshold = _num(point_details(r.details).get("threshold"))
            out.append(Check(name, r.column, _num(r.value), threshold, r.status))
    rank = {"fail": 0, "warn": 1}
    out.sort(key=lambda c: (rank.get(c.status, 2), c.check, c.column))
    return out


@dataclass
class SegmentRow:
    segment: str
    events: int = 0
    errors: float = 0.0
    last: int | None = None
    realized: dict[str, float | None] = field(default_factory=dict)
    estimated: dict[str, float | None] = field(default_factory=dict)
    estimate_kind: str = ""

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.events if self.events else None

    @property
    def accuracy(self) -> float | None:
        return self.realized.get("accuracy")


SEGMENTS: tuple[str, ...] = ("events", "error_ratio", ESTIMATE)
SEGMENTS += tuple(f"{k}.{m}" for k in ("performance", "estimated") for m in PERFORMANCE)


def segments(store: Store, tr: TimeRange, model: str, version: str) -> list[SegmentRow]:
    """Per segment over the range: traffic, error rate, and each performance metric
    realized (weighted by labelled predictions) and estimated."""
    rows: dict[str, SegmentRow] = {}
    for a in aggregate(store, scope(tr, model, version, None), SEGMENTS, by_column=False):
        r = rows.setdefault(a.segment, SegmentRow(a.segment))
        if a.metric == "events":
            r.events += int(a.total or 0)
            r.last = a.last
        elif a.metric == "error_ratio":
            r.errors += a.weighted or 0.0
        elif a.metric.startswith("performance."):
            if a.metric == ESTIMATE:
                if "accuracy" not in r.estimated:
                    r.estimated["accuracy"], r.estimate_kind = a.mean, "confidence"
            else:
                r.realized[a.metric.removeprefix("performance.")] = a.mean
        else:
            r.estimated[a.metric.removeprefix("estimated.")] = a.mean
            r.estimate_kind = a.method or "cbpe"
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
