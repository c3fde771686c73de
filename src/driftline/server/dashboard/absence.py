"""Why a part of the model page is empty: the sentence it shows instead of a bare "no".

A new user who reads "no traffic" or "no label-free estimate" cannot tell a
collector still waiting for its first window from a misconfigured reference.
These functions read what the store holds and say which condition holds:

- :func:`traffic_note`: no prediction received yet; predictions received whose
  window has not closed yet (and when it will be evaluated); a window that
  closed and waits for the evaluator; or traffic only outside the range.
- :func:`estimate_note`: why there is no CBPE/DLE estimate, in the order the
  evaluator checks (docs/collector.md, "Performance without labels"): estimation
  off, no reference, no target or prediction/score column in it, no labels in
  it, no score columns for a classifier, or the reason the estimator gave on
  the latest window.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from driftline.server.dashboard._sql import traffic
from driftline.server.dashboard.timerange import TimeRange
from driftline.store.base import WindowKey
from driftline.windows.config import window_start


def _when(ts: float, now: float) -> str:
    """``HH:MM UTC`` on the day of ``now``, else with the date."""
    at = datetime.fromtimestamp(ts, tz=timezone.utc)
    today = datetime.fromtimestamp(now, tz=timezone.utc).date() == at.date()
    return at.strftime("%H:%M UTC" if today else "%Y-%m-%d %H:%M UTC")


def _day(ts: float, now: float) -> str:
    """:func:`_when`, saying "(today)" when the date is left out."""
    out = _when(ts, now)
    return out if "-" in out else f"{out} (today)"


def traffic_note(dash: Any, tr: TimeRange, model: str, version: str, now: float) -> str:
    """Why the range has no evaluated window of the version ("" when it has one)."""
    size = tr.window_size
    t = traffic(dash.store, model, version, size)
    if t.latest_evaluated is not None and tr.start <= t.latest_evaluated < tr.end:
        return ""
    grace = dash.settings.windows.grace_seconds
    if t.first_pending is not None:
        start = window_start(t.first_pending, size)
        closes = start + size
        which = "first" if t.latest_evaluated is None else "next"
        got = f"{t.events:,} prediction{'s' if t.events != 1 else ''} received"
        if closes + grace > now:
            return (
                f"No traffic evaluated yet: {got}; the {which} window "
                f"({_when(start, now)} to {_when(closes, now)}) is evaluated once it closes, "
                f"at about {_when(closes + grace, now)} ({grace} s grace for late events)."
            )
        return (
            f"No traffic evaluated yet: {got}; the {which} window ({_when(start, now)} to "
            f"{_when(closes, now)}) has closed and waits for the evaluator (driftline serve "
            "evaluates closed windows every few seconds: is the collector running?)."
        )
    if t.latest_evaluated is not None:
        return (
            f"No traffic in this range: the latest evaluated window of {version} starts at "
            f"{_day(t.latest_evaluated, now)}; choose a range that includes it."
        )
    return (
        f"No traffic yet: no prediction of {model} {version} has reached the collector "
        "(send them with the SDK's Monitor, or POST /v1/events)."
    )


def estimate_note(
    dash: Any, tr: TimeRange, model: str, version: str, segment: str, last: float | None
) -> str:
    """Why the version has no label-free performance estimate in the range.

    ``last``: the latest evaluated window in the range (None: none)."""
    if last is None:
        return "no label-free estimate: no window evaluated in this range"
    if not dash.settings.evaluator.estimate:
        return "no label-free estimate: estimation is off in this collector's settings"
    ref = dash.evaluator.reference(model, version)
    if ref is None:
        return (
            "no label-free estimate: the version has no reference (CBPE and DLE are fitted "
            "on a reference with labels and predictions or scores)"
        )
    part = ref.performance
    if part is None:
        from driftline.schema import Role

        has_target = bool(ref.schema.with_role(Role.TARGET))
        has_pred = bool(ref.schema.with_role(Role.PREDICTION) or ref.schema.with_role(Role.SCORE))
        missing = [
            *([] if has_target else ["target (label)"]),
            *([] if has_pred else ["prediction or score"]),
        ] or ["single target and prediction"]
        return f"no label-free estimate: the reference has no {' and no '.join(missing)} column"
    spec = part.spec
    if part.n_labelled == 0:
        return (
            f"no label-free estimate: the reference's target column {spec.target!r} has no labels"
        )
    if spec.task == "classification" and not spec.scores:
        return (
            "no label-free estimate: the reference has no score columns (class probabilities), "
            "which CBPE needs"
        )
    from driftline.report.performance import estimate

    stats = dash.evaluator.collect(WindowKey(model, version, tr.window_size, int(last)))
    cur = stats.get(segment) or stats.get("*")
    if cur is None:
        return "no label-free estimate: the latest window's profile is gone (past retention)"
    cur.fold()
    metrics, details = estimate(ref, cur.profile, spec)
    if not metrics and details.get("reason"):
        return f"no label-free estimate: {details['reason']}"
    return "no label-free estimate in this range"
