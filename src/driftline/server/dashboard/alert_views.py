"""The alert pages and the actions on alerts: acknowledge, outcome, silence, expire."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import Response

from driftline.errors import DriftlineError
from driftline.server.dashboard._web import alert_visible, dashboard_of, safe_next, time_range
from driftline.server.dashboard.security import Visitor
from driftline.server.dashboard.timerange import range_around
from driftline.store.base import DEFAULT_PROJECT

if TYPE_CHECKING:
    from driftline.server.dashboard import Dashboard


def explain_link(dash: Dashboard, labels: dict[str, str], since: float | None) -> str:
    """The view that explains an alert: the column for drift, the model page otherwise."""
    model, version = labels.get("model"), labels.get("version")
    if not model:
        job = labels.get("job")
        return f"{dash.prefix}/jobs#job-{quote(job, safe='')}" if job else f"{dash.prefix}/alerts"
    rng = range_around(since or dash.clock.time(), dash.settings.windows.sizes, dash.clock.time())
    extra = {"version": version} if version else {}
    seg = labels.get("segment")
    if seg and seg != "*":
        extra["segment"] = seg
    q = f"{rng}&{urlencode(extra)}" if extra else rng
    column = labels.get("column")
    if column:
        return f"{dash.prefix}/models/{quote(model, safe='')}/columns/{quote(column, safe='')}?{q}"
    anchor = {"p99_latency": "#operations", "error_rate": "#operations"}.get(
        labels.get("alertname", ""), "#performance"
    )
    return f"{dash.prefix}/models/{quote(model, safe='')}?{q}{anchor}"


#: Metrics shown as a share (0..1 -> %) and as a duration (seconds -> ms, like the charts).
_SHARES = ("accuracy", "error_rate", "label_coverage", "missing_ratio", "confidence_mean")


@dataclass(frozen=True)
class Measure:
    """An alert's value and threshold as the pages show them."""

    value: str
    threshold: str
    title: str


def measure(dash: Dashboard, alert: Any) -> Measure:
    """What an alert compared, in the units of the charts: a drift alert shows the column's
    drift score against its effect threshold (the 0/1 verdict says nothing), latency in
    ms, shares in %."""
    from driftline.server.dashboard import ms, pct, score

    metric = str(alert.context.get("metric") or "")
    value, threshold = _num(alert.value), _num(alert.threshold)
    if metric == "drift_detected" and alert.labels.get("column"):
        found = _drift_score(dash, alert)
        if found is not None:
            got, limit, method = found
            if not limit and _is_test(method):
                # a test with no effect threshold (an embedding's MMD): "0.005 / 0" said nothing
                return Measure(
                    score(got),
                    "— (test)",
                    f"drift score ({method}); a test with no effect threshold: it drifts on its "
                    "p-value alone",
                )
            return Measure(
                score(got),
                score(limit),
                f"drift score ({method}) vs its effect threshold, last breaching window",
            )
        verdict = "drifted" if value else "no drift"
        return Measure(verdict, "—", "the column's drift verdict in the last window")
    if "latency" in metric and metric.endswith("_seconds"):
        return Measure(ms(value), ms(threshold), f"{metric.replace('_', ' ')} (ms)")
    if metric in _SHARES or metric.startswith(("performance.", "estimated.")):
        return Measure(pct(value), pct(threshold), metric.replace("_", " "))
    return Measure(score(value), score(threshold), metric.replace("_", " "))


def _is_test(method: str) -> bool:
    from driftline.stats.drift.registry import DRIFT_METHODS

    meth = DRIFT_METHODS.get(method) if method in DRIFT_METHODS else None
    return meth is not None and meth.is_test


def _num(v: Any) -> float | None:
    return None if v is None or v != v else float(v)


def _drift_score(dash: Dashboard, alert: Any) -> tuple[float | None, float | None, str] | None:
    """(score, effect threshold, method) of the alert's column in its last breaching window."""
    from driftline.server.dashboard._sql import Scope, window_rows
    from driftline.server.dashboard.queries import point_details

    ctx, labels = alert.context, alert.labels
    try:
        start, end = float(ctx["window_start"]), float(ctx["window_end"])
    except (KeyError, TypeError, ValueError):
        return None
    sc = Scope(
        labels.get("model", ""),
        labels.get("version", ""),
        round(end - start),
        start,
        end,
        labels.get("segment") or "*",
    )
    for r in window_rows(dash.store, sc, int(start), metric="drift_score"):
        if r.column == labels["column"]:
            limit = point_details(r.details).get("threshold")
            return _num(r.value), _num(limit), r.method or "drift"
    return None


def resolved_recently(alert: Any, now: float) -> bool:
    """Resolved, or resolved within :data:`KEEP_RESOLVED` and quiet or pending since."""
    from driftline.alerts.engine import KEEP_RESOLVED

    if alert.state.value == "resolved":
        return True
    last = alert.last_resolved_at
    return alert.state.value != "firing" and last is not None and last >= now - KEEP_RESOLVED


def alerts_page(request: Request, visitor: Visitor) -> Response:
    dash = dashboard_of(request)
    everything = visitor.principal.reaches(DEFAULT_PROJECT)
    tr = time_range(request)
    engine = dash.alerts
    groups: dict[str, list[Any]] = {"firing": [], "pending": [], "resolved": []}
    silences: list[Any] = []
    muted: dict[str, str] = {}
    if engine is not None:
        now = dash.clock.time()
        for a in engine.alerts():
            if not alert_visible(dash, visitor, a.labels):
                continue
            if a.state.value in ("firing", "pending"):
                groups[a.state.value].append(a)
            if resolved_recently(a, now):  # a resolved alert pending again is in both lists
                groups["resolved"].append(a)
            why = engine.muted_by(a)
            if why:
                muted[a.fingerprint] = why
        silences = sorted(
            (
                s
                for s in engine.store.silences()
                if s.ends_at > now - 86400 and alert_visible(dash, visitor, _exact(s))
            ),
            key=lambda s: -s.starts_at,
        )
        groups["resolved"].sort(key=lambda a: -(a.resolved_at or a.last_resolved_at or 0))
    ctx = {
        "groups": groups,
        "silences": silences,
        "muted": muted,
        "explain": lambda a: explain_link(dash, a.labels, a.active_since),
        "measure": lambda a: measure(dash, a),
        # what the receivers got spans every project: keys of the default project only
        "inbox": dash.inbox_messages() if everything else [],
        "deliveries": dash.deliveries() if everything else [],
        "alerting": engine is not None,
        # rules span projects: their precision is for keys of the whole store
        "precision": engine.precision_report() if engine is not None and everything else [],
        "review_precision": engine.config.review_precision if engine is not None else 0.0,
        "review_min_rated": engine.config.review_min_rated if engine is not None else 0,
    }
    return dash.render(request, visitor, "alerts.html", ctx, tr=tr)


def alert_page(request: Request, visitor: Visitor) -> Response:
    dash = dashboard_of(request)
    engine = dash.alerts
    fp = request.path_params["fp"]
    if engine is None:
        return dash.error(request, visitor, 404, "alerting is not configured")
    try:
        alert = engine.alert(fp)
    except DriftlineError:
        alert = None
    if alert is None or not alert_visible(dash, visitor, alert.labels):
        return dash.error(
            request, visitor, 404, f"no alert {fp!r} (resolved alerts are kept 7 days)"
        )
    ctx = {
        "a": alert,
        "audit": list(reversed(engine.audit(fp)))[:50],
        "muted": engine.muted_by(alert),
        "explain": explain_link(dash, alert.labels, alert.active_since),
        "m": measure(dash, alert),
    }
    return dash.render(request, visitor, "alert.html", ctx, tr=time_range(request))


# -- actions -------------------------------------------------------------------------------------


def _engine(dash: Dashboard) -> Any:
    if dash.alerts is None:
        raise DriftlineError("alerting is not configured on this collector")
    dash.alerts.before_people()  # a replica that does not evaluate alerts reads the store
    return dash.alerts


def _back(dash: Dashboard, form: dict[str, str]) -> str:
    return safe_next(dash.prefix, form.get("next"))


def _visible_alert(dash: Dashboard, visitor: Visitor, fp: str) -> Any:
    """The alert ``fp`` if the visitor may act on it; else the same error as an unknown one."""
    alert = _engine(dash).alert(fp)
    if not alert_visible(dash, visitor, alert.labels):
        raise DriftlineError(f"no alert with fingerprint {fp!r}")
    return alert


def _exact(silence: Any) -> dict[str, str]:
    """A silence's equality matchers as labels (what decides who may see it)."""
    return {m.name: m.value for m in silence.matchers if m.op == "="}


def ack(dash: Dashboard, request: Request, visitor: Visitor, form: dict[str, str]) -> str:
    _visible_alert(dash, visitor, request.path_params["fp"])
    _engine(dash).acknowledge(
        request.path_params["fp"], visitor.principal.name, form.get("comment", "")
    )
    return _back(dash, form)


def outcome(dash: Dashboard, request: Request, visitor: Visitor, form: dict[str, str]) -> str:
    _visible_alert(dash, visitor, request.path_params["fp"])
    _engine(dash).set_outcome(
        request.path_params["fp"],
        form.get("outcome", ""),
        visitor.principal.name,
        form.get("comment", ""),
    )
    return _back(dash, form)


SILENCE_CHOICES = {"1h": 3600.0, "4h": 4 * 3600.0, "24h": 86400.0, "7d": 7 * 86400.0}


def silence(dash: Dashboard, request: Request, visitor: Visitor, form: dict[str, str]) -> str:
    engine = _engine(dash)
    alert = _visible_alert(dash, visitor, request.path_params["fp"])
    keys = ("alertname", "model", "version", "segment", "column", "job")
    matchers = {k: alert.labels[k] for k in keys if alert.labels.get(k)}
    seconds = SILENCE_CHOICES.get(form.get("duration", ""), 3600.0)
    comment = form.get("comment", "").strip() or "silenced from the dashboard"
    engine.add_silence(
        matchers, created_by=visitor.principal.name, comment=comment, duration=seconds
    )
    return _back(dash, form)


def expire(dash: Dashboard, request: Request, visitor: Visitor, form: dict[str, str]) -> str:
    engine = _engine(dash)
    sid = request.path_params["sid"]
    if not visitor.principal.is_global:
        found = [s for s in engine.store.silences() if s.id == sid]
        if not found or not alert_visible(dash, visitor, _exact(found[0])):
            raise DriftlineError(f"no silence {sid!r}")
    engine.expire_silence(sid, visitor.principal.name)
    return _back(dash, form)
