"""The alert pages and the actions on alerts: acknowledge, outcome, silence, expire."""

from __future__ import annotations

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
        return f"{dash.prefix}/jobs" if labels.get("job") else f"{dash.prefix}/"
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


def alerts_page(request: Request, visitor: Visitor) -> Response:
    dash = dashboard_of(request)
    everything = visitor.principal.reaches(DEFAULT_PROJECT)
    tr = time_range(request)
    engine = dash.alerts
    groups: dict[str, list[Any]] = {"firing": [], "pending": [], "resolved": []}
    silences: list[Any] = []
    muted: dict[str, str] = {}
    if engine is not None:
        for a in engine.alerts():
            if a.state.value in groups and alert_visible(dash, visitor, a.labels):
                groups[a.state.value].append(a)
                why = engine.muted_by(a)
                if why:
                    muted[a.fingerprint] = why
        now = dash.clock.time()
        silences = sorted(
            (
                s
                for s in engine.store.silences()
                if s.ends_at > now - 86400 and alert_visible(dash, visitor, _exact(s))
            ),
            key=lambda s: -s.starts_at,
        )
        groups["resolved"].sort(key=lambda a: -(a.resolved_at or 0))
    ctx = {
        "groups": groups,
        "silences": silences,
        "muted": muted,
        "explain": lambda a: explain_link(dash, a.labels, a.active_since),
        # what the receivers got spans every project: keys of the default project only
        "inbox": dash.inbox_messages() if everything else [],
        "deliveries": dash.deliveries() if everything else [],
        "alerting": engine is not None,
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
    }
    return dash.render(request, visitor, "alert.html", ctx, tr=time_range(request))


# -- actions -------------------------------------------------------------------------------------


def _engine(dash: Dashboard) -> Any:
    if dash.alerts is None:
        raise DriftlineError("alerting is not configured on this collector")
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
