"""The review page (``/ui/review``): the most anomalous events, and a reviewer's verdicts."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from driftline.errors import DriftlineError
from driftline.server import review
from driftline.server.dashboard._web import (
    MAX_FORM_BYTES,
    dashboard_of,
    safe_next,
    time_range,
    visible_models,
)
from driftline.server.dashboard.security import Visitor

LABELS = {"fine": "Fine", "bad_input": "Bad input", "attack": "Attack"}


def review_page(request: Request, visitor: Visitor) -> Response:
    dash = dashboard_of(request)
    tr = time_range(request)
    models = sorted(visible_models(dash, visitor, (m["model"] for m in dash.store.models())))
    only = request.query_params.get("model")
    if only:
        models = [m for m in models if m == only]
    items: list[dict[str, Any]] = []
    for m in models:
        for item in review.queue(
            dash.store, m, dash.settings.windows.base, tr.start, tr.end, limit=200
        ):
            items.append({**item, "model": m})
    items.sort(key=lambda i: (-i["window_start"], -i["score"]))
    may_judge = visitor.principal.allows("ingest")
    ctx = {
        "items": items[:200],
        "models": models,
        "only": only,
        "verdicts": LABELS,
        "may_judge": may_judge,
        "pending": sum(1 for i in items if i["verdict"] is None and not i["purged"]),
    }
    return dash.render(request, visitor, "review.html", ctx, tr=tr)


async def review_action(request: Request) -> Response:
    """POST ``/ui/review/{model}/{event_id}``: ingest scope, same origin, CSRF token."""
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
    if not visitor.principal.allows("ingest"):
        return dash.error(request, visitor, 403, "judging events needs a key with ingest scope")
    model = request.path_params["model"]
    if model not in visible_models(dash, visitor, [model]):
        return dash.error(request, visitor, 404, f"no model named {model!r}")
    collector = getattr(request.app.state, "collector", None)
    if collector is None:
        return dash.error(request, visitor, 422, "verdicts are recorded by a collector")
    label: Any = form.get("label", "").strip() or None
    try:
        await run_in_threadpool(
            review.record, collector, visitor.principal, model,
            request.path_params["event_id"], form.get("verdict", ""),
            label=label, note=form.get("note", "")[: review.MAX_NOTE],
            reviewer=visitor.principal.name,
        )  # fmt: skip
    except LookupError as exc:
        return dash.error(request, visitor, 404, str(exc))
    except DriftlineError as exc:
        return dash.error(request, visitor, 422, str(exc))
    return RedirectResponse(safe_next(dash.prefix, form.get("next")), 303)
