"""The dashboard's routes: thin handlers that read :mod:`.queries` and render templates."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from driftline.server.dashboard import queries
from driftline.server.dashboard._web import (
    MAX_FORM_BYTES,
    action,
    dashboard_of,
    page,
    safe_next,
    time_range,
    visible_models,
)
from driftline.server.dashboard.alert_views import (
    ack,
    alert_page,
    alerts_page,
    expire,
    explain_link,
    outcome,
    silence,
)
from driftline.server.dashboard.embeddings import descriptors_of
from driftline.server.dashboard.job_views import jobs_page
from driftline.server.dashboard.model_views import column_page, compare_page, model_page
from driftline.server.dashboard.review_views import review_action, review_page
from driftline.server.dashboard.security import COOKIE, SESSION_SECONDS, Visitor, same_origin
from driftline.server.dashboard.timerange import RANGES

if TYPE_CHECKING:
    pass


def build_router(prefix: str) -> APIRouter:
    r = APIRouter(prefix=prefix, include_in_schema=False)

    @r.get("/static/{name}")
    def static(request: Request) -> Response:
        return dashboard_of(request).static(request.path_params["name"])

    @r.get("/login")
    def login_form(request: Request) -> Response:
        dash = dashboard_of(request)
        nxt = safe_next(prefix, request.query_params.get("next"))
        return dash.render(request, None, "login.html", {"next": nxt, "error": None})

    @r.post("/login")
    async def login(request: Request) -> Response:
        dash = dashboard_of(request)
        body = await request.body()
        form = dict(parse_qsl(body[:MAX_FORM_BYTES].decode("utf-8", "replace")))
        nxt = safe_next(prefix, form.get("next"))
        if not same_origin(request):
            return dash.error(request, None, 403, "cross-site sign-in refused")
        client = request.client.host if request.client is not None else "?"
        wait = dash.access.throttled(client)
        if wait is not None:
            ctx = {
                "next": nxt,
                "error": f"Too many failed sign-ins; try again in {wait:.0f} s "
                "(login_attempts_per_minute).",
            }
            resp = dash.render(request, None, "login.html", ctx, status=429)
            resp.headers["Retry-After"] = str(int(wait))
            return resp
        session = await run_in_threadpool(dash.access.session_for, form.get("key", "").strip())
        if session is None:
            dash.access.failed_login(client)
            ctx = {"next": nxt, "error": "That API key is not valid (or was revoked)."}
            return dash.render(request, None, "login.html", ctx, status=401)
        return _signed_in(request, session, nxt)

    @r.get("/login/{token}")
    def login_link(request: Request) -> Response:
        dash = dashboard_of(request)
        session = dash.access.redeem(request.path_params["token"])
        if session is None:
            ctx = {"next": prefix + "/", "error": "This sign-in link was used or has expired."}
            return dash.render(request, None, "login.html", ctx, status=401)
        return _signed_in(request, session, prefix + "/")

    @r.post("/logout")
    async def logout(request: Request) -> Response:
        dash = dashboard_of(request)
        visitor = dash.access.visitor(request)
        body = await request.body()
        form = dict(parse_qsl(body[:MAX_FORM_BYTES].decode("utf-8", "replace")))
        if visitor is not None and dash.access.check_post(request, visitor, form) is None:
            await run_in_threadpool(dash.access.end, visitor)
            resp = RedirectResponse(prefix + "/login", 303)
            resp.delete_cookie(COOKIE, path=prefix)
            return resp
        return dash.error(request, visitor, 403, "sign-out refused")

    r.add_api_route("/", page("read")(overview), methods=["GET"])
    r.add_api_route("/models/{model}", page("read")(model_page), methods=["GET"])
    r.add_api_route("/models/{model}/columns/{column}", page("read")(column_page), methods=["GET"])
    r.add_api_route("/models/{model}/compare", page("read")(compare_page), methods=["GET"])
    r.add_api_route("/alerts", page("read")(alerts_page), methods=["GET"])
    r.add_api_route("/alerts/{fp}", page("read")(alert_page), methods=["GET"])
    r.add_api_route("/jobs", page("read")(jobs_page), methods=["GET"])
    r.add_api_route("/review", page("read")(review_page), methods=["GET"])
    r.add_api_route("/review/{model}/{event_id}", review_action, methods=["POST"])
    r.add_api_route("/explain", page("read")(explain), methods=["GET"])
    r.add_api_route("/alerts/{fp}/ack", action(ack), methods=["POST"])
    r.add_api_route("/alerts/{fp}/outcome", action(outcome), methods=["POST"])
    r.add_api_route("/alerts/{fp}/silence", action(silence), methods=["POST"])
    r.add_api_route("/silences/{sid}/expire", action(expire), methods=["POST"])
    return r


def _signed_in(request: Request, session: str, nxt: str) -> Response:
    resp = RedirectResponse(nxt, 303)
    resp.set_cookie(
        COOKIE,
        session,
        max_age=SESSION_SECONDS,
        path=dashboard_of(request).prefix,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return resp


# -- pages -------------------------------------------------------------------------------------


SORTS = {
    "model": lambda h: (h.model, h.version),
    "traffic": lambda h: h.events,
    "p99": lambda h: h.p99 if h.p99 is not None else -1,
    "errors": lambda h: h.error_rate if h.error_rate is not None else -1,
    "drift": lambda h: h.drifted,
    "quality": lambda h: h.quality_failed,
    "performance": lambda h: h.accuracy if h.accuracy is not None else (h.estimated or -1),
    "alerts": lambda h: (h.firing, h.pending),
    "status": lambda h: ({"firing": 3, "warning": 2, "ok": 1}.get(h.status, 0), h.firing),
}


def explain(request: Request, visitor: Visitor) -> Response:
    """Where an alert's dashboard link lands: a redirect to the view that explains it.

    The link carries the alert's labels (``server/config.py`` EXPLAIN_LINK); empty ones
    are ignored, so a job alert (no model) goes to the Jobs page, not a broken model URL.
    """
    dash = dashboard_of(request)
    names = ("alertname", "model", "version", "segment", "column", "job")
    labels = {k: v for k in names if (v := request.query_params.get(k, ""))}
    model = labels.get("model")
    if (
        model
        and not visitor.principal.is_global
        and model not in visible_models(dash, visitor, [model])
    ):
        return dash.error(request, visitor, 404, f"no model named {model!r}")
    return RedirectResponse(explain_link(dash, labels, None), 303)


def overview(request: Request, visitor: Visitor) -> Response:
    dash = dashboard_of(request)
    tr = time_range(request)
    known = queries.versions(dash.store)
    if not visitor.principal.is_global:
        seen = visible_models(dash, visitor, (m for m, _ in known))
        known = [(m, v) for m, v in known if m in seen]
    # a text or image column counts once, its descriptors in it (as in the drift table)
    rows = queries.overview(dash.store, tr, known, descriptors_of(dash))
    for alert in dash.active_alerts():
        for h in rows:
            if alert.labels.get("model") == h.model and alert.labels.get("version") == h.version:
                if alert.state.value == "firing":
                    h.firing += 1
                else:
                    h.pending += 1
    sort = request.query_params.get("sort", "status")
    sort = sort if sort in SORTS else "status"
    desc = request.query_params.get("dir", "desc" if sort != "model" else "asc") == "desc"
    rows.sort(key=SORTS[sort], reverse=desc)
    ctx = {"rows": rows, "sort": sort, "desc": desc, "alerting": dash.alerts is not None}
    return dash.render(request, visitor, "overview.html", ctx, tr=tr)


__all__ = ["RANGES", "build_router", "explain_link"]
