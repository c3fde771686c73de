"""The model page's sections for the signals of issue 16 and the window's other signals.

Quality from scores (ROC AUC, PR AUC; log loss, Brier, calibration error),
label drift, feedback (rate per kind, share per value, mean of ratings), KPIs
(mean per window) and the latest window's service and data signals that have
no chart of their own (shadow share, unknown features, outliers, schema
violations, the dataset drift verdict). Each element carries
``data-signal="<kind>"`` (driftline/signals.py), which the signal test reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from driftline.server.dashboard import charts, queries
from driftline.server.dashboard._sql import Scope, aggregate, metric_names, window_rows
from driftline.server.dashboard.timerange import TimeRange

SCORES = ("performance.roc_auc", "performance.pr_auc")
CALIBRATION = ("performance.log_loss", "performance.brier", "performance.ece")
FEEDBACK = ("feedback.rate", "feedback.share", "feedback.mean")
#: Latest-window signals listed in the "Other signals" table: metric -> (label, how shown).
OTHER = {
    "shadow_ratio": ("Shadow share of predictions", "pct"),
    "unknown_features": ("Feature names the schema lacks", "num"),
    "outlier_share": ("Outlier share (vs the reference)", "pct"),
    "schema_violations": ("Columns breaking the schema", "count"),
    "drift_detected": ("Dataset drift verdict", "verdict"),
    "missing_ratio": ("Largest missing share (no reference)", "max_pct"),
    "resource_cpu_seconds": ("CPU seconds of the model's processes", "num"),
    "resource_rss_bytes": ("Resident memory (MiB)", "mib"),
    "resource_gpu_seconds": ("GPU seconds", "num"),
    "review.candidates": ("Events kept for review (/ui/review)", "num"),
    "error_group": ("Error groups (type + stack)", "count"),
}


#: Signals whose flag is a statistical notice, not a fault of the model or its data: shown
#: amber ("flagged"), not red. Label shift is about the world; an outlier share above the
#: expected 1 % is a hint (the outlier_share_high preset alerts at 5 %).
NOTICES = frozenset({"label_drift", "outlier_share", "slices.significant"})


@dataclass
class Latest:
    metric: str
    label: str
    value: str
    status: str = "ok"
    detail: str = ""

    @property
    def badge(self) -> str:
        """The badge the page shows: the status, or ``flagged`` for a notice's flag."""
        if self.metric in NOTICES and self.status in ("drift", "fail"):
            return "flagged"
        return "drift" if self.status == "drift" else self.status


@dataclass
class Slices:
    """The worst slices of the latest window in the range with enough labels (or why none)."""

    window_start: float
    n: int
    count: int | None
    status: str
    details: dict[str, Any]

    @property
    def badge(self) -> str:
        return Latest("slices.significant", "", "", self.status).badge

    @property
    def rows(self) -> list[dict[str, Any]]:
        return list(self.details.get("slices") or [])


@dataclass
class Signals:
    figures: dict[str, Any] = field(default_factory=dict)
    label_drift: LabelDrift | None = None
    feedback: list[Latest] = field(default_factory=list)
    kpis: list[Latest] = field(default_factory=list)
    other: list[Latest] = field(default_factory=list)
    kpi_charts: list[str] = field(default_factory=list)
    slices: Slices | None = None


def _by_key(aggs: list[Any]) -> dict[tuple[str, str, str], queries.Series]:
    out: dict[tuple[str, str, str], queries.Series] = {}
    for a in aggs:
        out.setdefault((a.metric, a.column, a.method), queries.Series()).add(a.first, a.mean)
    return out


def model_signals(
    store: Any,
    tr: TimeRange,
    model: str,
    version: str,
    segment: str,
    span: tuple[float, float],
    last_window: int | None,
) -> Signals:
    """Charts over the range and the latest window's values of the signals above."""
    from driftline.server.dashboard import pct, score

    out = Signals()
    sc = queries.scope(tr, model, version, segment)
    kpis = metric_names(store, sc, ("kpi.",))
    wanted = (*SCORES, *CALIBRATION, "label_drift", *FEEDBACK, *kpis)
    bucket = queries.bucket_for(tr, queries.CHART_POINTS)
    series = _by_key(aggregate(store, sc, wanted, bucket=bucket))
    have = {k[0] for k in series}
    f = out.figures
    if have & set(SCORES):
        f["scores"] = charts.line(
            "Ranking quality from scores (labels)",
            [(m.split(".")[1].replace("_", " ").upper(), s) for (m, _, _), s in series.items()
             if m in SCORES],
            percent=True, zero=False, x_range=span,
        )  # fmt: skip
    if have & set(CALIBRATION):
        f["calibration"] = charts.line(
            "Calibration: log loss, Brier, ECE (lower is better)",
            [(m.split(".")[1].replace("_", " "), s) for (m, _, _), s in series.items()
             if m in CALIBRATION],
            x_range=span,
        )  # fmt: skip
    drift = [(f"{c} ({meth.replace('_', ' ')})", s) for (m, c, meth), s in series.items()
             if m == "label_drift"]  # fmt: skip
    if drift:
        f["label-drift"] = charts.line(
            "Label drift: the window's labels vs the reference's target", drift, x_range=span
        )
    rates = [(c, s) for (m, c, _), s in series.items() if m == "feedback.rate"]
    if rates:
        f["feedback"] = charts.line("Feedback per served prediction, by kind", rates, x_range=span)
    shares = [(f"{c}={v}", s) for (m, c, v), s in series.items() if m == "feedback.share"]
    means = [(f"{c} (mean)", s) for (m, c, _), s in series.items() if m == "feedback.mean"]
    if shares or means:
        f["feedback-values"] = charts.line(
            "Feedback values: share of each value, mean of ratings", shares + means,
            x_range=span,
        )  # fmt: skip
    for name in kpis:
        s = series.get((name, "", ""))
        if s is not None:
            out.kpi_charts.append("kpi-" + _slug(name))
            f["kpi-" + _slug(name)] = charts.line(
                f"KPI {name.removeprefix('kpi.')}: mean per window", [("mean", s)], zero=False,
                x_range=span,
            )  # fmt: skip
    if segment == "*":
        out.slices = latest_slices(store, sc)
    if drift:
        out.label_drift = latest_label_drift(store, sc)
    if last_window is None:
        return out
    rows = window_rows(store, sc, last_window)
    missing = [r.value for r in rows if r.metric == "missing_ratio" and r.value is not None]
    for r in rows:
        if r.metric.startswith("feedback."):
            what = {"feedback.rate": "per prediction", "feedback.share": f"= {r.method}",
                    "feedback.mean": "mean"}[r.metric]  # fmt: skip
            shown = pct(r.value) if r.metric == "feedback.share" else score(r.value)
            out.feedback.append(Latest(r.metric, f"{r.column} {what}", shown, detail=f"n={r.n}"))
        elif r.metric.startswith("kpi."):
            out.kpis.append(
                Latest(r.metric, r.metric.removeprefix("kpi."), score(r.value), detail=f"n={r.n}")
            )
        elif r.metric in OTHER and r.metric not in (
            "missing_ratio",
            "schema_violations",
            "error_group",
        ):
            label, how = OTHER[r.metric]
            if how == "verdict":
                value = {"drift": "drift", "ok": "no drift"}.get(r.status, r.status)
            else:
                value = pct(r.value) if how == "pct" else score(r.value)
                if how == "mib" and r.value is not None:  # as the service section shows it
                    value = f"{r.value / 2**20:.1f}"
            out.other.append(Latest(r.metric, label, value, r.status))
    broken = [r.column for r in rows if r.metric == "schema_violations" and r.status == "fail"]
    if any(r.metric == "schema_violations" for r in rows):
        out.other.append(
            Latest("schema_violations", OTHER["schema_violations"][0], str(len(broken)),
                   "fail" if broken else "ok", ", ".join(broken[:5]))
        )  # fmt: skip
    groups = [r for r in rows if r.metric == "error_group"]
    if groups:
        top = max(groups, key=lambda r: r.value or 0)
        out.other.append(
            Latest("error_group", OTHER["error_group"][0], str(len(groups)), "ok",
                   f"most: {top.method} ({top.value:.0f})" if top.value is not None else "")
        )  # fmt: skip
    if missing:
        out.other.append(Latest("missing_ratio", OTHER["missing_ratio"][0], pct(max(missing))))
    out.feedback.sort(key=lambda x: x.label)
    out.other.sort(key=lambda x: x.label)
    return out


def latest_slices(store: Any, sc: Scope) -> Slices | None:
    """The range's latest ``slices.significant`` point with a value, else its latest one."""
    import orjson

    from driftline.store.base import MetricQuery

    found = store.metric_points(
        MetricQuery(
            model=sc.model, version=sc.version, segment="*", metric="slices.significant",
            window_size=sc.window_size, start=sc.start, end=sc.end, limit=100_000,
        )
    )  # fmt: skip
    if not found:
        return None
    valued = [p for p in found if p["value"] is not None]
    p = (valued or found)[-1]
    details = orjson.loads(p["details"] or "{}")
    count = None if p["value"] is None else int(p["value"])
    return Slices(float(p["window_start"]), int(p["n"] or 0), count, str(p["status"]), details)


@dataclass
class LabelDrift:
    """The range's label drift as the page states it: the latest window with a verdict and,
    when a later window has labels but too few for one, that window and why.

    Labels arrive late, so the latest window seldom has a label_drift point at all; the
    page says which window it reads rather than leaving the sentence empty.
    """

    verdict: Latest | None
    verdict_start: float | None
    pending: str = ""  # the reason of a later window without a verdict
    pending_start: float | None = None


def latest_label_drift(store: Any, sc: Scope) -> LabelDrift | None:
    """The range's latest ``label_drift`` verdict (drift / ok) and any later point without one."""
    from driftline.server.dashboard import score
    from driftline.store.base import MetricQuery

    found = store.metric_points(
        MetricQuery(
            model=sc.model, version=sc.version, segment=sc.segment or "*", metric="label_drift",
            window_size=sc.window_size, start=sc.start, end=sc.end, limit=100_000,
        )
    )  # fmt: skip
    if not found:
        return None
    found.sort(key=lambda p: p["window_start"])
    decided = [p for p in found if p["status"] in ("drift", "ok")]
    out = LabelDrift(None, None)
    if decided:
        p = decided[-1]
        method = str(p["method"] or "").replace("_", " ")
        out.verdict = Latest(
            "label_drift", str(p["column"] or ""), score(p["value"]), str(p["status"]),
            f"{method} on {int(p['n'] or 0):,} labels",
        )  # fmt: skip
        out.verdict_start = float(p["window_start"])
    last = found[-1]
    if last["status"] not in ("drift", "ok"):
        why = queries.point_details(last["details"]).get("reason")
        out.pending = str(why or f"{int(last['n'] or 0):,} labels, too few for a verdict")
        out.pending_start = float(last["window_start"])
    return out


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name)
