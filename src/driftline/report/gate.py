"""The CI gate: a report dict -> a list of pass/fail/skip checks (``driftline check``).

Three suites, each enabled by ``fail_on``:

* ``drift``: one check per column; it fails when the column drifted, is
  skipped when there was no verdict (too little data, or an id/timestamp
  column), passes otherwise. A text or image column's descriptors are part of
  its check: it fails when its own values or any descriptor drifted.
* ``quality``: one check per data-quality result; ``fail`` fails, ``warn``
  and ``ok`` pass (a warning is kept in the message); ``insufficient`` (a
  reference too small to hold the current data to) cannot decide: it is
  treated as too little data (below).
* ``performance``: one check per configured bound ``{metric: {min, max}}``
  against the report's ``performance`` section (realized value when labels
  were given, else the estimated one); skipped when the report has none. A
  realized metric is decided by its 95 % interval (:func:`realized_interval`):
  it fails when the whole interval is beyond the bound, passes when it is
  within, and cannot decide (too few labels) when the interval reaches the
  bound; one without a known interval decides nothing below ``FEW_LABELS``.
  An estimated metric (CBPE/DLE) is decided the same way by its band.

Whatever the suites, too little data for a verdict (the report's
``dataset.verdict`` is ``insufficient_data``: fewer rows than ``min_samples``,
or no column could be compared) adds a ``data`` check that is never a pass.
That check, and every quality or performance check that cannot decide, has
by ``on_insufficient`` the status ``error`` (the default; ``driftline
check`` exits with its own code, 3), ``fail`` (exit 1, like any failed check)
or ``warn`` (exit 0, with the warning shown).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

SUITES = ("drift", "quality", "performance")
ON_INSUFFICIENT = ("error", "fail", "warn")


@dataclass(frozen=True)
class Check:
    suite: str
    name: str
    status: str  # "pass" | "fail" | "skip" | "error" (too little data) | "warn"
    message: str
    value: float | None = None
    threshold: float | None = None

    @property
    def failed(self) -> bool:
        return self.status == "fail"


def evaluate(
    report: Mapping[str, Any],
    fail_on: Iterable[str] = SUITES,
    performance_bounds: Mapping[str, Mapping[str, float | None]] | None = None,
    on_insufficient: str = "error",
) -> list[Check]:
    """Every check of the enabled suites, in report order (module docstring)."""
    if on_insufficient not in ON_INSUFFICIENT:
        raise ValueError(f"on_insufficient: allowed values are {', '.join(ON_INSUFFICIENT)}")
    suites = set(fail_on)
    out: list[Check] = []
    ds = report.get("dataset", {})
    if ds.get("verdict") == "insufficient_data":
        why = f"insufficient data: {ds.get('reason', 'too few rows')}"
        out.append(Check("data", "sample size", on_insufficient, why, ds.get("n_current")))
    if "drift" in suites:
        out.extend(_drift(report))
    if "quality" in suites:
        out.extend(_quality(report, on_insufficient))
    if "performance" in suites:
        out.extend(_performance(report, performance_bounds or {}, on_insufficient))
    return out


def fmt(x: Any) -> str:
    """A number for people: 4 significant digits, tiny p-values in scientific notation."""
    if x is None:
        return "-"
    if isinstance(x, bool) or not isinstance(x, int | float):
        return str(x)
    if isinstance(x, int):
        return f"{x:,}"
    if not math.isfinite(x):
        return str(x)
    if x == 0:
        return "0"
    if abs(x) < 1e-3 or abs(x) >= 1e6:
        return f"{x:.2e}"
    return f"{x:.4g}"


def _drift(report: Mapping[str, Any]) -> list[Check]:
    """One check per column; a text or image column's descriptors are part of its check (it
    fails when its own values or a descriptor drifted, naming them), as the verdict counts it
    once (docs/drift.md)."""
    out = []
    columns = report.get("columns", {})
    for name, col in columns.items():
        if col.get("descriptor_of") in columns:
            continue
        d = col["drift"]
        value, thr = d.get("statistic"), d.get("threshold")
        kids = [(k, columns[k]["drift"]) for k in col.get("descriptors", []) if k in columns]
        drifted_kids = [(k, kd) for k, kd in kids if kd.get("drifted")]
        if drifted_kids:
            own = f"{name}: {_drift_message(d)}; " if d.get("drifted") else ""
            msg = own + "; ".join(f"{k}: {_drift_message(kd)}" for k, kd in drifted_kids)
            out.append(Check("drift", name, "fail", msg, value, thr))
            continue
        if d.get("drifted") is None and not any(kd.get("drifted") is False for _, kd in kids):
            reason = d.get("details", {}).get("reason", d.get("computed", "no verdict"))
            out.append(Check("drift", name, "skip", f"no verdict: {reason}", value, thr))
            continue
        msg = _drift_message(d) if d.get("drifted") is not None else "no verdict on its values"
        if kids:
            n_ok = sum(1 for _, kd in kids if kd.get("drifted") is False)
            none = f" ({len(kids) - n_ok} more without a verdict)" if n_ok < len(kids) else ""
            msg += f"; its {n_ok} descriptors did not drift{none}"
        out.append(Check("drift", name, "fail" if d["drifted"] else "pass", msg, value, thr))
    return out + _multivariate(report)


def _drift_message(d: Mapping[str, Any]) -> str:
    value, thr = d.get("statistic"), d.get("threshold")
    details = d.get("details", {})
    p = details.get("p_value_adjusted", d.get("p_value"))
    shown_p = "< 1e-300" if p == 0 else fmt(p)
    # a text or image column's member: its p-value is adjusted within the column's family
    how = "within its column" if "p_value_column" in details else "after Benjamini-Hochberg"
    test = f"; p={shown_p} {how}" if p is not None else ""
    rel = ">=" if d["drifted"] else "<"
    if d["drifted"] is False and p is not None and value is not None and thr is not None:
        rel = ">=" if value >= thr else "<"
        test += " (not significant)" if value >= thr else ""
    return f"{d['method']} {fmt(value)} {rel} threshold {fmt(thr)}{test}"


def _multivariate(report: Mapping[str, Any]) -> list[Check]:
    """One drift check per multivariate method (docs/drift.md, "Multivariate drift")."""
    out = []
    methods = (report.get("multivariate") or {}).get("methods") or {}
    for name, r in methods.items():
        value, thr, d = r.get("statistic"), r.get("threshold"), r.get("details") or {}
        where = f"multivariate: {name}"
        if r.get("drifted") is None:
            reason = d.get("reason", r.get("computed"))
            out.append(Check("drift", where, "skip", f"no verdict: {reason}", value, thr))
            continue
        msg = f"{name} {fmt(value)}"
        if r.get("p_value") is not None:
            msg += f", p={fmt(r['p_value'])} (alpha {fmt(d.get('alpha', thr))})"
        if d.get("upper") is not None:
            msg += f", reference band {fmt(d['lower'])} – {fmt(d['upper'])}"
        elif name != "mmd":
            msg += f", threshold {fmt(thr)}"
        out.append(Check("drift", where, "fail" if r["drifted"] else "pass", msg, value, thr))
    return out


def undecided(checks: Iterable[Check]) -> list[Check]:
    """The checks that could not decide (status ``error``, or ``warn`` by ``on_insufficient``)."""
    return [c for c in checks if c.status in ("error", "warn")]


def _quality(report: Mapping[str, Any], on_insufficient: str = "error") -> list[Check]:
    results = list(report.get("quality", []))
    for col in report.get("columns", {}).values():
        results.extend(col.get("quality", []))
    out = []
    for q in results:
        name = q["check"] if not q.get("column") else f"{q['column']}: {q['check']}"
        status = {
            "fail": "fail",
            "warn": "pass",
            "ok": "pass",
            "insufficient": on_insufficient,
        }.get(q["status"], "pass")
        msg = f"{q['status']}: {q['check']} {fmt(q.get('value'))} (threshold {fmt(q['threshold'])})"
        cols = q.get("details", {}).get("columns")
        if cols:
            msg += f"; columns: {', '.join(map(str, cols))}"
        if q["status"] != "ok" and q.get("details", {}).get("reason"):
            msg += f"; {q['details']['reason']}"
        out.append(Check("quality", name, status, msg, q.get("value"), q.get("threshold")))
    return out


def _performance(
    report: Mapping[str, Any],
    bounds: Mapping[str, Mapping[str, float | None]],
    on_insufficient: str = "error",
) -> list[Check]:
    perf = report.get("performance")
    if not perf:
        why = "the report has no performance section (needs --target and --prediction)"
        return [Check("performance", "performance", "skip", why)] if bounds else []
    out = []
    n = int(perf.get("n") or perf.get("n_labelled") or 0)
    for metric, bound in bounds.items():
        value, how = _metric_value(perf, metric)
        if value is None:
            out.append(Check("performance", metric, "skip", f"{metric} is not in the report"))
            continue
        lo, hi = bound.get("min"), bound.get("max")
        if how == "realized":
            out.append(_realized(perf, metric, value, n, lo, hi, on_insufficient))
        else:
            out.append(_estimated(perf, metric, value, lo, hi, on_insufficient))
    return out


#: Below this many labelled rows a realized metric without a known interval (log loss,
#: R², MAPE, ...) decides no bound (report/performance.py warns at the same count).
FEW_LABELS = 30
#: z of the two-sided 95 % interval a realized metric is held to its bounds with.
Z95 = 1.959963984540054


def realized_interval(
    perf: Mapping[str, Any], metric: str, value: float, n: int
) -> tuple[float, float, str] | None:
    """The 95 % interval of a realized metric on ``n`` labelled rows and how it was made:
    Wilson for accuracy, value ± 1.96 standard errors for the metrics with a known error
    (driftline.stats.performance.uncertainty: precision, recall, F1, ROC AUC, MAE, RMSE,
    bias); None for the others."""
    if n <= 0:
        return None
    if metric == "accuracy" and perf.get("task") != "regression":
        from driftline.report.performance import wilson_interval

        lo, hi = wilson_interval(round(value * n), n)
        return lo, hi, "Wilson"
    from driftline.stats.performance.uncertainty import auc_interval, standard_errors

    details = perf.get("details") or {}
    if metric == "roc_auc" and perf.get("task") == "binary":
        sides = _positives_negatives(details)
        band = auc_interval(value, *sides) if sides else None
        if band is not None:
            return band[0], band[1], "score interval, Hanley-McNeil variance"
    results = {**(perf.get("realized") or {}), **details}
    results.update(task=perf.get("task"), n=n)
    se = standard_errors(results).get(metric)
    if se is None or not math.isfinite(se):
        return None
    low, high = value - Z95 * se, value + Z95 * se
    if perf.get("task") != "regression":  # a classification metric lies in [0, 1]
        low, high = max(low, 0.0), min(high, 1.0)
    return low, high, "±1.96 standard errors"


def _positives_negatives(details: Mapping[str, Any]) -> tuple[int, int] | None:
    """The labelled positives and negatives of a binary result's confusion matrix."""
    cm, classes = details.get("confusion_matrix"), list(details.get("classes") or [])
    positive = details.get("positive_class")
    if not cm or positive not in classes:
        return None
    support = [int(sum(row)) for row in cm]
    n_pos = support[classes.index(positive)]
    return n_pos, sum(support) - n_pos


def _realized(
    perf: Mapping[str, Any],
    metric: str,
    value: float,
    n: int,
    lo: float | None,
    hi: float | None,
    on_insufficient: str,
) -> Check:
    """A realized metric against its bounds, decided by its 95 % interval: it fails when the
    whole interval is beyond a bound, passes when the whole interval is within, and cannot
    decide when the interval reaches a bound (too few labels to tell)."""
    rows = f"{n:,} labelled row{'s' if n != 1 else ''}"
    interval = realized_interval(perf, metric, value, n)
    if interval is None:
        if n < FEW_LABELS:
            why = (f"realized {fmt(value)} on only {rows}: no interval is known for {metric}, "
                   f"and below {FEW_LABELS} labelled rows its value decides no bound")  # fmt: skip
            return Check(
                "performance", metric, on_insufficient, why, value, lo if lo is not None else hi
            )
        low = high = value
        shown = f"realized {fmt(value)} ({rows}; no interval known for {metric})"
    else:
        low, high, how = interval
        shown = f"realized {fmt(value)}, 95% interval {fmt(low)} to {fmt(high)} ({how}, {rows})"
    return _held(metric, value, (low, high), shown, (lo, hi), on_insufficient,
                 "too few labelled rows to decide")  # fmt: skip


def _estimated(
    perf: Mapping[str, Any],
    metric: str,
    value: float,
    lo: float | None,
    hi: float | None,
    on_insufficient: str,
) -> Check:
    """An estimated metric (CBPE/DLE, no labels) against its bounds, decided by its band like
    a realized metric by its interval: the band is the estimator's interval for the realized
    metric of these rows (label noise and the estimator's own uncertainty), so a bound inside
    it is one the estimate cannot decide. A band the report lacks decides nothing."""
    est = (perf.get("estimated") or {}).get(metric) or {}
    info = perf.get("estimation") or {}
    method = str(info.get("method") or "estimator").upper()
    rows = int(info.get("n") or 0)
    on = f"{method}, {rows:,} row{'s' if rows != 1 else ''}" if rows else method
    low, high = est.get("lower"), est.get("upper")
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        why = f"estimated {fmt(value)} ({on}) has no band: its value alone decides no bound"
        return Check("performance", metric, on_insufficient, why, value,
                     lo if lo is not None else hi)  # fmt: skip
    conf = info.get("confidence")
    level = f"{conf:.0%} band" if isinstance(conf, int | float) else "band"
    shown = f"estimated {fmt(value)}, {level} {fmt(low)} to {fmt(high)} ({on})"
    return _held(metric, value, (float(low), float(high)), shown, (lo, hi), on_insufficient,
                 "the estimate is too uncertain to decide")  # fmt: skip


def _held(
    metric: str,
    value: float,
    interval: tuple[float, float],
    shown: str,
    bounds: tuple[float | None, float | None],
    on_insufficient: str,
    undecided: str,
) -> Check:
    """A metric held to its bounds by an interval: the whole interval beyond a bound fails,
    within all bounds passes, reaching a bound cannot decide (``on_insufficient``)."""
    (low, high), (lo, hi) = interval, bounds
    if lo is not None and high < lo:
        return Check("performance", metric, "fail", f"{shown} < min {fmt(lo)}", value, lo)
    if hi is not None and low > hi:
        return Check("performance", metric, "fail", f"{shown} > max {fmt(hi)}", value, hi)
    reaches = []
    if lo is not None and low < lo:
        reaches.append(f"min {fmt(lo)}")
    if hi is not None and high > hi:
        reaches.append(f"max {fmt(hi)}")
    thr = lo if lo is not None else hi
    if reaches:
        why = f"{shown} reaches {' and '.join(reaches)}: {undecided}"
        return Check("performance", metric, on_insufficient, why, value, thr)
    return Check("performance", metric, "pass", shown, value, thr)


def _metric_value(perf: Mapping[str, Any], metric: str) -> tuple[float | None, str]:
    realized = perf.get("realized") or {}
    if realized.get(metric) is not None:
        return float(realized[metric]), "realized"
    est = (perf.get("estimated") or {}).get(metric)
    if isinstance(est, Mapping) and est.get("value") is not None:
        return float(est["value"]), "estimated"
    return None, ""
