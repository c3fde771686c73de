"""``create_app(settings, store, clock)``: the collector's ASGI application.

No module-level state: everything hangs off ``app.state.collector``. The
background loop (flush, evaluate, purge every ``tick_seconds``) runs in the
app's lifespan, and the live partials are saved on shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from driftline.errors import DriftlineError
from driftline.server.collector import Collector, one_blas_thread, tune_gc
from driftline.server.metrics import ROUTES
from driftline.server.routes_ingest import router as ingest_router
from driftline.server.routes_read import router as read_router
from driftline.server.routes_review import router as review_router
from driftline.server.routes_versions import router as versions_router
from driftline.server.settings import Settings
from driftline.store.base import Store
from driftline.windows import Clock

if TYPE_CHECKING:
    from driftline.alerts import AlertsConfig
    from driftline.server.config import StreamSection

log = logging.getLogger("driftline.server")
#: The store cannot take the request now: 503 with Retry-After (the SQLite ingest path
#: calls the driver directly, so its errors arrive unwrapped).
STORE_ERRORS = (OperationalError, DBAPIError, PoolTimeout, sqlite3.OperationalError)


def create_app(
    settings: Settings,
    store: Store,
    clock: Clock,
    *,
    background: bool = True,
    dashboard: bool = True,
    alerts: AlertsConfig | None = None,
    env: Mapping[str, str] | None = None,
    stream: StreamSection | None = None,
) -> FastAPI:
    """The collector app over ``store``; ``background=False`` leaves ticking to the caller.

    With ``dashboard=True`` the dashboard pages are served under ``/ui``
    (docs/dashboard.md); a caller that mounts its own (the live demo, with an
    alert engine) passes ``dashboard=False``. With ``alerts`` the collector runs
    the alert engine in its background tick (server/alerting.py), reading
    notifier secrets from ``env`` (default: the environment), and the
    dashboard's alert pages act on it. With ``stream`` (``collector.stream``) the collector
    also reads events from that NATS JetStream subject (server/stream.py), in the background.
    """
    collector = Collector(settings, store, clock, alerts=alerts, env=env)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if background:  # a serving process (not a test driving the app): see tune_gc
            tune_gc()
            one_blas_thread()
            if collector.alerts is not None:  # notifications leave off the evaluation path
                collector.alerts.start_delivery()
            if collector.raw_parquet is not None:  # raw events as Parquet, off the ingest path
                collector.raw_parquet.start()
        task = asyncio.create_task(_loop(collector)) if background else None
        feeding = None
        if background and stream is not None:
            from driftline.server.stream import feed_from_nats

            feeding = asyncio.create_task(feed_from_nats(collector, stream))
        try:
            yield
        finally:
            if feeding is not None:
                feeding.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await feeding
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await run_in_threadpool(collector.close)
            if background:
                gc.unfreeze()  # so the interpreter's final collection sees every object

    app = FastAPI(
        title="driftline collector",
        version="1",
        summary="Ingest prediction events and labels; read monitoring results.",
        lifespan=lifespan,
        openapi_url=None,  # served below, behind a key like every other route
        docs_url=None,
        redoc_url=None,
    )
    app.state.collector = collector
    app.include_router(ingest_router)
    app.include_router(versions_router)
    app.include_router(read_router)
    app.include_router(review_router)
    if dashboard:
        from driftline.server.dashboard import mount_dashboard

        engine = collector.alerts.engine if collector.alerts is not None else None
        mount_dashboard(app, store, settings, clock, alerts=engine)

    async def store_unavailable(request: Request, exc: Exception) -> JSONResponse:
        collector.metrics.overload.labels("store_unavailable").inc()
        collector.note_store_error(exc)
        log.warning("driftline collector: store unavailable (%s)", type(exc).__name__)
        return JSONResponse(
            {"detail": "the store is unavailable; retry later"},
            status_code=503,
            headers={"Retry-After": str(settings.unavailable_retry_after_seconds)},
        )

    async def bad_input(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    async def validation(request: Request, exc: Exception) -> JSONResponse:
        errors = exc.errors() if isinstance(exc, RequestValidationError) else []
        detail = [
            {"loc": [str(x) for x in e.get("loc", ())], "msg": str(e.get("msg", ""))}
            for e in errors
        ]
        return JSONResponse({"detail": detail}, status_code=422)

    for err in STORE_ERRORS:
        app.add_exception_handler(err, store_unavailable)
    app.add_exception_handler(DriftlineError, bad_input)
    app.add_exception_handler(RequestValidationError, validation)
    app.add_middleware(_Timing, collector=collector)
    _document_limits(app, settings)
    _serve_docs(app)
    return app


def _serve_docs(app: FastAPI) -> None:
    """``/openapi.json`` and ``/docs`` for a ``read`` key (or a dashboard session)."""
    from fastapi.openapi.docs import get_swagger_ui_html

    def reader(request: Request) -> None:
        collector: Collector = request.app.state.collector
        header = request.headers.get("authorization")
        who = collector.keys.check(header) if header else None
        dash = getattr(request.app.state, "dashboard", None)
        if who is None and not header and dash is not None:
            visitor = dash.access.visitor(request)
            who = visitor.principal if visitor is not None else None
        if who is None:
            raise HTTPException(
                401, "missing or invalid API key", headers={"WWW-Authenticate": "Bearer"}
            )
        if not who.allows("read"):
            raise HTTPException(403, "this API key lacks the 'read' scope")

    @app.get("/openapi.json", include_in_schema=False)
    def openapi_document(request: Request) -> JSONResponse:
        reader(request)
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    def swagger(request: Request) -> HTMLResponse:
        reader(request)
        return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{app.title} - API")


def _document_limits(app: FastAPI, settings: Settings) -> None:
    """Publish the configured batch limit (``maxItems``) and the bearer key scheme."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        doc = build()
        schemes = doc.setdefault("components", {}).setdefault("securitySchemes", {})
        schemes["apiKey"] = {"type": "http", "scheme": "bearer", "description": "API key"}
        doc["security"] = [{"apiKey": []}]
        for path in ("/v1/events", "/v1/labels", "/v1/feedback", "/v1/jobs"):
            body = doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]
            body["schema"]["maxItems"] = settings.max_batch_events
        return doc

    app.openapi = openapi  # type: ignore[method-assign]


async def _loop(collector: Collector) -> None:
    while True:
        await asyncio.sleep(collector.settings.tick_seconds)
        try:
            await run_in_threadpool(collector.tick)
        except Exception:  # tick guards its tasks; this is the last line of defence
            log.exception("driftline collector: tick failed")


class _Timing:
    """Request latency by route template (never raw paths), as a pure ASGI middleware."""

    def __init__(self, app: ASGIApp, collector: Collector) -> None:
        self.app = app
        self.hist = collector.metrics.latency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None)
            name = path if path in ROUTES else "other"
            self.hist.labels(name, scope.get("method", "GET")).observe(time.perf_counter() - t0)


__all__ = ["create_app"]
