"""Metric points: the rows the evaluator writes for one window (docs/collector.md).

Names: ``events``, ``error_ratio``, ``shadow_ratio``, ``latency_seconds``
(method p50/p90/p95/p99/mean), ``unknown_features``, ``drift_score`` (per column,
method = the deciding drift method), ``embedding_drift`` (all traffic, per embedding
column and vector method), ``drift_detected``, ``quality.<check>``,
``multivariate_score`` (all traffic; method = the multivariate method),
``outlier_share`` (events the outlier model flags),
``missing_ratio`` (versions without a reference), ``label_coverage_ratio``,
``performance.<metric>`` (realized, from labels; ROC AUC, PR AUC, log loss,
Brier and ECE when the events carry scores), ``label_drift`` (the window's
labels against the reference's target column) and ``estimated.<metric>``
(without labels: method ``cbpe`` for classifiers, ``dle`` for regression).

Points of statistics computed on a sample (performance, estimated, quality
shares) carry the sample size in ``n`` and their standard error in
``details["stderr"]`` (:mod:`driftline.stats.performance.uncertainty`), which
alert rules use to ignore windows too small to decide (docs/alerts.md).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from statistics import NormalDist
from typing import Any

import numpy as np
import orjson

from driftline.schema import Role
from driftline.stats.performance.uncertainty import proportion_se, standard_errors
from driftline.stats.quality import share_checks
from driftline.store.base import WindowKey
from driftline.windows.config import ALL
from driftline.windows.stats import WindowStats

_DETAILS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


class Points:
    """The metric points of one window, built up segment by segment."""

    def __init__(self, key: WindowKey, now: float) -> None:
        self.key = key
        self.now = now
        self.rows: list[dict[str, Any]] = []

    def add(
        self,
        segment: str,
        metric: str,
        value: Any,
        *,
        column: str = "",
        method: str = "",
        status: str = "ok",
        n: int = 0,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        v = None if value is None else float(value)
        if v is not None and not math.isfinite(v):
            v = None
        self.rows.append(
            {
                "model": self.key.model,
                "version": self.key.version,
                "segment": segment,
                "window_size": self.key.window_size,
                "window_start": self.key.window_start,
                "metric": metric,
                "column": column,
                "method": method,
                "value": v,
                "status": status,
                "n": int(n or 0),
                "details": orjson.dumps(details or {}, option=_DETAILS).decode(),
                "evaluated_at": self.now,
            }
        )

    def annotate(self, since: int, **extra: Any) -> None:
        """Add ``extra`` to the details of the points added from index ``since`` on."""
        for row in self.rows[since:]:
            details = {**orjson.loads(row["details"]), **extra}
            row["details"] = orjson.dumps(details, option=_DETAILS).decode()


def operational(points: Points, seg: str, st: WindowStats) -> None:
    n = st.n_events
    points.add(seg, "events", n, n=n)
    points.add(seg, "error_ratio", st.n_errors / n if n else None, n=n)
    points.add(seg, "shadow_ratio", st.n_shadow / n if n else None, n=n)
    if st.latency.n:
        qs = st.latency_q.quantiles(np.array([0.5, 0.9, 0.95, 0.99]))
        for q, v in zip(("p50", "p90", "p95", "p99"), qs.tolist(), strict=True):
            points.add(seg, "latency_seconds", v, method=q, n=st.latency.n)
        points.add(seg, "latency_seconds", st.latency.mean, method="mean", n=st.latency.n)
    top = dict(sorted(st.unknown.items(), key=lambda kv: -kv[1])[:20])
    points.add(seg, "unknown_features", len(st.unknown), n=sum(st.unknown.values()), details=top)


def drift_and_quality(points: Points, seg: str, report: Mapping[str, Any]) -> None:
    """Drift and quality points of a report (``build_report(...).to_dict()``).

    Target columns are left out: labels arrive on their own (``performance.*``),
    so a window's target column is always empty.
    """
    shares = share_checks()  # what each share check's value is a share of (the registry)
    for name, col in report["columns"].items():
        if col.get("role") == Role.TARGET.value:
            continue
        d = col["drift"]
        drifted = d.get("drifted")
        points.add(
            seg,
            "drift_score",
            d.get("statistic"),
            column=name,
            method=str(d.get("method") or ""),
            status="drift" if drifted else ("ok" if drifted is False else "unknown"),
            n=d.get("n_current") or 0,
            details={
                "p_value": d.get("p_value"),
                # what the verdict used: after the multiple-testing correction
                "p_value_adjusted": (d.get("details") or {}).get("p_value_adjusted"),
                "threshold": d.get("threshold"),
                "computed": d.get("computed"),
            },
        )
        if col.get("kind") == "embedding" and seg == ALL:
            embedding_points(points, seg, name, col.get("metrics") or {})
        current = (col.get("summary") or {}).get("current") or {}
        count = int(current.get("count") or 0)
        present = count - int(current.get("missing") or 0)
        for qc in col["quality"]:
            of = shares.get(qc["check"])
            _quality_point(points, seg, qc, name, count if of == "rows" else present, of)
    ds = report["dataset"]
    for qc in report["quality"]:
        of = shares.get(qc["check"])
        _quality_point(points, seg, qc, "", int(ds["n_current"]), of)
    short = ds.get("verdict") == "insufficient_data"  # too few events: no verdict, not "ok"
    points.add(
        seg,
        "drift_detected",
        None if short else (1.0 if ds["drifted"] else 0.0),
        status="insufficient_data" if short else ("drift" if ds["drifted"] else "ok"),
        n=ds["n_current"],
        details={
            "drifted_columns": ds["drifted_columns"],
            "drifted_descriptors": ds.get("drifted_descriptors") or {},
            "rule": ds["rule"],
            **({"reason": ds["reason"]} if short else {}),
        },
    )


def embedding_points(
    points: Points, seg: str, column: str, metrics: Mapping[str, Mapping[str, Any]]
) -> None:
    """``embedding_drift``: every vector drift method's result on an embedding column (the
    column's ``drift_score`` is the deciding method's; docs/embeddings.md, "Dashboard")."""
    for method, m in metrics.items():
        drifted = m.get("drifted")
        reason = (m.get("details") or {}).get("reason")
        # a distance past its threshold that its guard test does not find significant
        # (centroid_cosine's permutation test) stays ok: the page says so with this p
        guard = (m.get("details") or {}).get("guard_p_value")
        points.add(
            seg,
            "embedding_drift",
            m.get("statistic"),
            column=column,
            method=str(method),
            status="drift" if drifted else ("ok" if drifted is False else "unknown"),
            n=m.get("n_current") or 0,
            details={
                "p_value": m.get("p_value"),
                "threshold": m.get("threshold"),
                "computed": m.get("computed"),
                **({"reason": reason} if reason else {}),
                **({"guard_p_value": guard} if guard is not None else {}),
            },
        )


#: Share of reference rows the outlier model flags (OutlierModel's contamination).
OUTLIER_EXPECTED = 0.01
#: A window's outlier share drifts when the binomial test gives p below this and the
#: share is at least twice the expected one.
OUTLIER_ALPHA = 0.01


def outliers(points: Points, seg: str, st: WindowStats) -> None:
    """``outlier_share``: flagged / scored rows of the window (docs/collector.md).

    Written when the collector scored the window's events (the version has a
    reference and ``windows.outliers`` is on). Status ``drift`` when the share
    is significantly above the expected 1% (one-sided binomial test at
    :data:`OUTLIER_ALPHA`) and at least twice it.
    """
    if not st.n_scored:
        return
    from driftline.stats.outliers import outlier_share_test

    t = outlier_share_test(st.n_outliers, st.n_scored, OUTLIER_EXPECTED)
    share, p = t["share"], t["p_value"]
    drifted = p is not None and p < OUTLIER_ALPHA and share >= 2 * OUTLIER_EXPECTED
    points.add(
        seg,
        "outlier_share",
        share,
        status="drift" if drifted else "ok",
        n=st.n_scored,
        details={"outliers": st.n_outliers, "expected": OUTLIER_EXPECTED, "p_value": p},
    )


def multivariate(points: Points, seg: str, report: Mapping[str, Any]) -> None:
    """``multivariate_score`` per multivariate method (docs/drift.md, "Multivariate drift").

    The value is the method's statistic (reconstruction error, AUC, MMD², largest
    correlation change); status drift / ok / unknown (no decision: too few rows);
    details the threshold or band, the p-value and where to look.
    """
    mv = report.get("multivariate") or {}
    for name, r in (mv.get("methods") or {}).items():
        drifted = r.get("drifted")
        d = r.get("details") or {}
        details = {
            "p_value": r.get("p_value"),
            "threshold": r.get("threshold"),
            "computed": r.get("computed"),
            "n_reference": r.get("n_reference"),
        }
        for key in ("lower", "upper", "reason", "top_features"):
            if key in d:
                details[key] = d[key]
        if "top_pairs" in d:
            details["top_pairs"] = [
                {k: p[k] for k in ("columns", "reference", "current")} for p in d["top_pairs"][:3]
            ]
        points.add(
            seg,
            "multivariate_score",
            r.get("statistic"),
            method=name,
            status="drift" if drifted else ("ok" if drifted is False else "unknown"),
            n=r.get("n_current") or 0,
            details=details,
        )


#: z of the two-sided 95 % interval a failed share check must clear to stay "fail".
_Z95 = 1.959963984540054


def _quality_point(
    points: Points, seg: str, qc: Mapping[str, Any], column: str, n: int, share_of: str | None
) -> None:
    """One ``quality.<check>`` point; shares of rows carry ``n`` and a standard error.

    A share check that failed on too few rows to tell (the value minus 1.96
    standard errors is not above the threshold) is written as ``warn`` with
    ``details.reason`` saying so: 2 of 25 values outside the reference's
    1st-99th percentiles is what a healthy model shows now and then. One that
    could not decide (``insufficient``: the reference is too small) keeps its
    status and reason, with ``n`` 0 so that alert rules do not decide on it.
    """
    value, status = qc.get("value"), str(qc.get("status") or "ok")
    details: dict[str, Any] = {"threshold": qc.get("threshold")}
    check = str(qc["check"])
    if status == "insufficient":
        # the reference is too small to hold the window to (docs/quality.md): n = 0, so
        # no alert rule decides on it (min_samples), and the reason goes with it
        details["reason"] = (qc.get("details") or {}).get("reason")
        points.add(seg, f"quality.{check}", value, column=column, status=status, n=0,
                   details=details)  # fmt: skip
        return
    if share_of is not None and value is not None and n > 0:
        se = proportion_se(float(value) * n, n)
        details["stderr"] = se
        threshold = qc.get("threshold")
        if (
            status == "fail"
            and se is not None
            and isinstance(threshold, int | float)
            and float(value) - _Z95 * se <= float(threshold)
        ):
            status = "warn"
            details["reason"] = f"above the threshold but not significantly on {n} rows"
    else:
        n = 0
    points.add(seg, f"quality.{check}", value, column=column, status=status, n=n, details=details)


#: Fewer rows than this in a window say nothing about a column's presence or type.
SCHEMA_MIN_ROWS = 10
#: Share of a column's values of another kind (unparseable) that counts as a type change.
TYPE_CHANGE_SHARE = 0.5


def schema_violations(points: Points, seg: str, st: WindowStats) -> None:
    """``schema_violations`` per feature column: 1 when the window breaks the schema, else 0.

    The window's columns are the version's schema (its reference's columns), so a
    feature that no event sent is a column whose every value is missing; a type change
    is a column whose values mostly are of another kind (strings where numbers are
    expected: the profile's type errors); and a feature the schema lacks, sent by some
    events, is an unexpected column (``WindowStats.unknown``, at most 100 names a
    window). ``details.reason`` says which. Windows of fewer than
    :data:`SCHEMA_MIN_ROWS` rows give no point.
    """
    prof = st.profile
    if prof.n_rows < SCHEMA_MIN_ROWS:
        return
    for spec in prof.schema:
        if spec.role is not Role.FEATURE:
            continue
        col = prof.columns[spec.name]
        reason = ""
        if col.count and col.missing >= col.count:
            reason = "missing"
        elif col.count and col.type_errors >= TYPE_CHANGE_SHARE * col.count:
            reason = "type_change"
        points.add(
            seg,
            "schema_violations",
            1.0 if reason else 0.0,
            column=spec.name,
            status="fail" if reason else "ok",
            n=col.count,
            details={"reason": reason} if reason else None,
        )
    for name, count in sorted(st.unknown.items()):
        points.add(
            seg,
            "schema_violations",
            1.0,
            column=name,
            status="fail",
            n=count,
            details={"reason": "unexpected", "events": count},
        )


#: Metrics of the scores (not the predicted class): their ``n`` is the scored rows.
_SCORED = frozenset({"roc_auc", "pr_auc", "log_loss", "brier", "ece"})


def performance(points: Points, seg: str, results: Mapping[str, Any]) -> None:
    """``performance.<metric>`` points of realized metrics (labels joined to predictions).

    Score metrics (ROC AUC, PR AUC, log loss, Brier, ECE) count the rows that had
    scores in ``n``; ``details.excluded`` says how many labelled rows they left out.
    """
    n = int(results.get("n") or 0)
    n_scored = int(results.get("n_scored") or 0)
    excluded = {k: v for k, v in (results.get("excluded") or {}).items() if v}
    errors = standard_errors(results)
    for name, value in results.items():
        if name in ("n", "task", "computed", "excluded", "n_scored", "n_mape"):
            continue
        if name.endswith("_error_bound"):
            continue
        if isinstance(value, int | float) and not isinstance(value, bool):
            se = errors.get(name)
            details: dict[str, Any] = {"stderr": se} if se is not None else {}
            if name in _SCORED and excluded:
                details["excluded"] = excluded
            points.add(
                seg,
                f"performance.{name}",
                value,
                n=n_scored if name in _SCORED else n,
                details=details or None,
            )


def label_drift(points: Points, seg: str, result: Mapping[str, Any] | None) -> None:
    """``label_drift``: the window's labels against the reference's target column.

    Value: the deciding drift statistic (method in ``method``); status drift / ok
    / unknown (too few labels: ``details.reason``); ``n`` the window's labels.
    """
    if result is None:
        return
    drifted = result.get("drifted")
    details = result.get("details") or {}
    points.add(
        seg,
        "label_drift",
        result.get("statistic"),
        column=str(result.get("column") or ""),
        method=str(result.get("method") or ""),
        status="drift" if drifted else ("ok" if drifted is False else "unknown"),
        n=int(result.get("n_current") or 0),
        details={
            "p_value": result.get("p_value"),
            "threshold": result.get("threshold"),
            "computed": result.get("computed"),
            "n_reference": result.get("n_reference"),
            **({"reason": details["reason"]} if "reason" in details else {}),
        },
    )


def estimated(points: Points, seg: str, report: Mapping[str, Any]) -> None:
    """``estimated.<metric>`` points (CBPE / DLE against the reference, no labels needed)."""
    perf = report.get("performance") or {}
    est = perf.get("estimated") or {}
    info = perf.get("estimation") or {}
    method = str(info.get("method") or "")
    n = int(info.get("n") or 0)
    z = float(NormalDist().inv_cdf(0.5 + float(info.get("confidence") or 0.95) / 2))
    for name, band in sorted(est.items()):
        lower, upper = band.get("lower"), band.get("upper")
        se = (upper - lower) / (2 * z) if lower is not None and upper is not None else None
        points.add(
            seg,
            f"estimated.{name}",
            band.get("value"),
            method=method,
            n=n,
            details={
                "lower": lower,
                "upper": upper,
                "stderr": se,
                "computed": info.get("computed"),
                "n_reference": info.get("n_reference"),
                "calibrated": info.get("calibrated"),
            },
        )
