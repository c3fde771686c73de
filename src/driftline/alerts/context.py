"""What every alert carries: what fired, where, value vs threshold, since when, why, links.

:func:`build_context` makes a JSON-ready dict kept on the alert and sent by
every notifier; :func:`render_annotations` turns it into the summary / description /
runbook_url / dashboard_url annotations Alertmanager-style receivers show.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from driftline._utils.durations import format_duration, rfc3339
from driftline.alerts.points import MetricPoint
from driftline.alerts.rules import Rule
from driftline.alerts.templates import render_template

#: For an alert on the left metric, columns are ranked by the right one.
RANK_BY = {"drift_detected": "drift_score", "drift_score": "drift_score"}
TOP_N = 5


def top_columns(
    rule: Rule, window_points: Iterable[MetricPoint], n: int = TOP_N
) -> list[dict[str, Any]]:
    """The columns of the same window that contribute most, e.g. the most drifted features."""
    metric = RANK_BY.get(rule.metric, rule.metric)
    values = [
        (p.column, p.value)
        for p in window_points
        if p.metric == metric and p.column and not math.isnan(p.value)
    ]
    reverse = rule.op not in ("<", "<=")
    values.sort(key=lambda cv: (-cv[1] if reverse else cv[1], cv[0]))
    return [{"column": c, metric: round(v, 6)} for c, v in values[:n]]


def build_context(
    rule: Rule,
    point: MetricPoint,
    labels: Mapping[str, str],
    *,
    value: float,
    since: float,
    window_points: Iterable[MetricPoint] = (),
    dashboard_url: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The context of ``rule`` firing on ``point`` (``value`` is what was compared)."""
    ctx: dict[str, Any] = {
        "rule": rule.name,
        "condition": rule.condition,
        "metric": rule.metric,
        "model": point.model,
        "version": point.version,
        "segment": point.segment,
        "column": point.column,
        "value": _num(value),
        "observed": _num(point.value),
        "threshold": rule.threshold,
        "since": since,
        "since_rfc3339": rfc3339(since),
        "window": format_duration(point.window_seconds),
        "window_start": point.window_start,
        "window_end": point.window_end,
        "top_columns": top_columns(rule, window_points),
        "runbook_url": render_template(
            rule.annotations.get("runbook_url", ""), labels, value, rule.threshold
        ),
        "dashboard_url": render_template(dashboard_url, labels, value, rule.threshold)
        if dashboard_url
        else "",
    }
    if extra:
        ctx.update(extra)
    return ctx


def render_annotations(
    rule: Rule, labels: Mapping[str, str], ctx: Mapping[str, Any]
) -> dict[str, str]:
    """The rule's annotations rendered, plus a generated description and the links."""
    value, threshold = float(ctx["value"]), rule.threshold
    out = {k: render_template(v, labels, value, threshold) for k, v in rule.annotations.items()}
    where = f"{ctx['model']} {ctx['version']}"
    if ctx["segment"] not in ("", "*"):
        where += f" segment {ctx['segment']}"
    if ctx["column"]:
        where += f" column {ctx['column']}"
    out.setdefault("summary", f"{rule.name}: {rule.condition} on {where}")
    text = (
        f"{rule.condition} on {where}: value {value:.4g} vs threshold {threshold:g} "
        f"({ctx['window']} windows) since {ctx['since_rfc3339']}"
    )
    if ctx["top_columns"]:
        metric = next(k for k in ctx["top_columns"][0] if k != "column")
        tops = ", ".join(f"{t['column']} ({t[metric]:.3g})" for t in ctx["top_columns"])
        text += f"; top columns by {metric}: {tops}"
    if "slo" in ctx:
        slo = ctx["slo"]
        burns = ", ".join(f"{w} {b:.3g}x" for w, b in slo["burn_rates"].items() if b is not None)
        text += f"; burn rates {burns}; error budget left {slo['budget_remaining']:.1%}"
    changes = ctx.get("changes") or []
    if changes:
        text += "; recent changes: " + ", ".join(
            f"{c['text']} ({c['at_rfc3339']})" for c in changes[:5]
        )
    out.setdefault("description", text)
    if ctx["runbook_url"]:
        out["runbook_url"] = str(ctx["runbook_url"])
    if ctx["dashboard_url"]:
        out["dashboard_url"] = str(ctx["dashboard_url"])
    return out


def _num(x: float) -> float | None:
    return None if math.isnan(x) else x
