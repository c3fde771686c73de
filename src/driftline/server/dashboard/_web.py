"""What every dashboard handler shares: the request's dashboard, who may see which model,
the time range, and the decorators that check scopes (GET pages) and CSRF (POST actions)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from driftline.errors import DriftlineError
from driftline.server.dashboard import queries
from driftline.server.dashboard._sql import first_seen
from driftline.server.dashboard.security import Visitor
from driftline.server.dashboard.timerange import (
    DEFAULT_RANGE,
    TimeRange,
    fitting_range,
    parse_range,
)
from driftline.store.base import DEFAULT_PROJECT

if TYPE_CHECKING:
    from driftline.server.dashboard import Dashboard

Handler = Callable[[Request, Visitor], Response]
MAX_FORM_BYTES = 16_384


def dashboard_of(request: Request) -> Dashboard:
    d: Dashboard = request.app.state.dashboard
    return d


def visible_models(dash: Dashboard, visitor: Visitor, models: Iterable[str]) -> set[str]:
    """The models of ``models`` in the visitor's project (all of them for global admin keys).

    A key of a project sees only that project's models, their alerts and its job runs,
    as on the HTTP API; other models look as if they did not exist (404, not 403).
    """
    names = set(models)
    who = visitor.principal
    if who.is_global:
        return names
    projects = dash.store.model_projects(names)
    return {m for m in names if who.reaches(projects.get(m, DEFAULT_PROJECT))}


def alert_visible(dash: Dashboard, visitor: Visitor, labels: Mapping[str, str]) -> bool:
    """Whether the visitor may see (and, with admin scope, act on) an alert or silence.

    Alerts about a model follow the model's project; the rest (jobs, the collector)
    belong to the default project.
    """
    who = visitor.principal
    if who.is_global:
        return True
    model = labels.get("model")
    if not model:
        return who.reaches(DEFAULT_PROJECT)
    return model in visible_models(dash, visitor, [model])


def page(scope: str) -> Callable[[Handler], Callable[[Request], Response]]:
    """A GET handler for visitors with ``scope``; others are sent to sign in (or get 403)."""

    def wrap(fn: Handler) -> Callable[[Request], Response]:
        def handler(request: Request) -> Response:
            dash = dashboard_of(request)
            visitor = dash.access.visitor(request)
            if visitor is None:
                nxt = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"{dash.prefix}/login?{urlencode({'next': nxt})}", 303)
            if not visitor.principal.allows(scope):
                return dash.error(request, visitor, 403, f"this API key lacks the {scope!r} scope")
            return fn(request, visitor)

        handler.__name__ = fn.__name__
        return handler

    return wrap


ActionFn = Callable[["Dashboard", Request, Visitor, dict[str, str]], str]


def action(fn: ActionFn) -> Callable[[Request], Awaitable[Response]]:
    """A POST handler: admin scope, same origin, CSRF token; redirects back on success."""

    async def handler(request: Request) -> Response:
        dash = dashboard_of(request)
        visitor = dash.access.visitor(request)
        if visitor is None:
            return dash.error(request, None, 401, "sign in first")
        body = await request.body()
        if len(body) > MAX_FORM_BYTES:
            return dash.error(request, visitor, 413, "form too large")
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        refused = dash.access.check_post(request, visitor, form)
        if refused:
            return dash.error(request, visitor, 403, refused)
        if not visitor.principal.allows("admin"):
            return dash.error(
                request, visitor, 403, "this action needs an API key with admin scope"
            )
        try:
            target = await run_in_threadpool(fn, dash, request, visitor, form)
        except DriftlineError as exc:
            return dash.error(request, visitor, 422, str(exc))
        return RedirectResponse(target, 303)

    handler.__name__ = fn.__name__
    return handler


def time_range(request: Request) -> TimeRange:
    """The URL's ``?range=``; without one, the smallest range that fits the data (up to 6 h)."""
    dash = dashboard_of(request)
    now = dash.clock.time()
    default = DEFAULT_RANGE
    if "range" not in request.query_params:
        default = fitting_range(now, first_seen(dash.store))
    return parse_range(request.query_params, now, dash.settings.windows.sizes, default)


def version_of(request: Request, visitor: Visitor, model: str) -> tuple[str | None, list[str]]:
    """The version asked for (else the first) and all versions of a model the visitor sees."""
    dash = dashboard_of(request)
    if not visible_models(dash, visitor, [model]):
        return None, []
    names = [v for m, v in queries.versions(dash.store) if m == model]
    want = request.query_params.get("version")
    if want in names:
        return want, names
    return (names[0] if names else None), names


def safe_next(prefix: str, value: str | None) -> str:
    if value and value.startswith(prefix + "/") and not value.startswith("//"):
        return value
    return prefix + "/"
