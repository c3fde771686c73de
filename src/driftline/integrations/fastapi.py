"""FastAPI / Starlette: HTTP metrics by route template, ``/metrics``, request ids.

    app = FastAPI()
    mon = Monitor(model="credit_risk", version="v3", sink="http://127.0.0.1:8080")
    instrument(app, mon)

- A pure ASGI middleware (no ``BaseHTTPMiddleware``) counts
  ``driftline_http_requests_total{handler,method,status}`` and observes
  ``driftline_http_request_duration_seconds{handler,method}``; ``handler`` is
  the route template (``/items/{item_id}``), never the raw path, and
  ``unmatched`` for requests no route took; ``status`` is grouped (``2xx``).
  The request path only tallies into a dict; the event loop adds the tallies to
  the Prometheus children at most one second later and before every scrape.
- ``GET /metrics`` serves the exposition, merged across workers when
  ``PROMETHEUS_MULTIPROC_DIR`` is set.
- An incoming ``X-Request-ID`` (up to 128 characters of ``A-Z a-z 0-9 . _ : -``)
  is kept, otherwise one is made; it is echoed in the response and becomes the
  default ``prediction_id`` of every ``observe()`` inside the request.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram

from driftline._utils.metrics import shared_families
from driftline.errors import require
from driftline.sdk._ids import uuid7_hex
from driftline.sdk.context import request_id
from driftline.sdk.metrics import HistogramTally
from driftline.sdk.monitor import Monitor
from driftline.sdk.multiprocess import metrics_payload

require("starlette", "server")

from starlette.requests import Request  # noqa: E402
from starlette.responses import Response  # noqa: E402

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: prometheus_client's defaults, which match OpenTelemetry's advice for HTTP.
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
_VALID_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}
)
PUBLISH_INTERVAL = 1.0


class HTTPMetrics:
    """The HTTP metric families of one registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "driftline_http_requests", "HTTP requests by route template, method and status class.",
            ("handler", "method", "status"), registry=registry,
        )  # fmt: skip
        self.duration = Histogram(
            "driftline_http_request_duration_seconds", "HTTP request duration.",
            ("handler", "method"), buckets=HTTP_BUCKETS, registry=registry,
        )  # fmt: skip


class _Tally:
    __slots__ = ("count", "counter", "duration")

    def __init__(self, counter: Any, duration: HistogramTally) -> None:
        self.counter = counter
        self.duration = duration
        self.count = 0


class DriftlineMiddleware:
    """The ASGI middleware installed by :func:`instrument`."""

    def __init__(
        self,
        app: ASGIApp,
        registry: CollectorRegistry | None = None,
        request_id_header: str = "x-request-id",
        group_status: bool = True,
        holder: dict[str, DriftlineMiddleware] | None = None,
    ) -> None:
        self.app = app
        if holder is not None:
            holder["middleware"] = self
        reg = registry if registry is not None else REGISTRY
        self.metrics = shared_families(reg, "http", lambda: HTTPMetrics(reg))
        self.header = request_id_header.lower().encode("latin-1")
        self.group_status = group_status
        self._tallies: dict[tuple[str, str, int], _Tally] = {}
        self._durations: dict[tuple[str, str], HistogramTally] = {}
        self._dirty = False
        self._publish_scheduled = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        rid = None
        header = self.header
        for name, value in scope["headers"]:
            if name == header:
                candidate = value.decode("latin-1")
                if _VALID_ID.fullmatch(candidate):
                    rid = candidate
                break
        if rid is None:
            rid = uuid7_hex()
        rid_header = (header, rid.encode("latin-1"))
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), rid_header]
            await send(message)

        token = request_id.set(rid)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id.reset(token)
            route = scope.get("route")
            handler = getattr(route, "path", None) or "unmatched"
            method = scope["method"]
            if method not in _METHODS:
                method = "other"  # a client must not be able to create label values
            self._tally(handler, method, status, time.perf_counter() - start)

    def _tally(self, handler: str, method: str, status: int, duration: float) -> None:
        key = (handler, method, status)
        tally = self._tallies.get(key)
        if tally is None:
            tally = self._new_tally(handler, method, status)
        tally.count += 1
        tally.duration.add(duration)
        if not self._publish_scheduled:
            self._schedule_publish()

    def _new_tally(self, handler: str, method: str, status: int) -> _Tally:
        label = f"{status // 100}xx" if self.group_status else str(status)
        duration = self._durations.get((handler, method))
        if duration is None:
            child = self.metrics.duration.labels(handler, method)
            duration = self._durations[(handler, method)] = HistogramTally(child)
        tally = _Tally(self.metrics.requests.labels(handler, method, label), duration)
        self._tallies[(handler, method, status)] = tally
        return tally

    def _schedule_publish(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.publish()
            return
        self._publish_scheduled = True
        loop.call_later(PUBLISH_INTERVAL, self.publish)

    def publish(self) -> None:
        """Add the tallies to the Prometheus children (runs on the event loop)."""
        self._publish_scheduled = False
        for tally in self._tallies.values():
            if tally.count:
                tally.counter.inc(tally.count)
                tally.count = 0
        for duration in self._durations.values():
            duration.publish()


def instrument(
    app: Any,
    monitor: Monitor | None = None,
    *,
    registry: CollectorRegistry | None = None,
    metrics_path: str | None = "/metrics",
    request_id_header: str = "X-Request-ID",
    group_status: bool = True,
) -> None:
    """Add the middleware and the ``/metrics`` route to a FastAPI or Starlette ``app``.

    The registry is ``monitor``'s (or ``registry``, or the global one). Call it
    before the app starts serving. Starlette builds the middleware instance
    when the app starts (see :func:`middleware_of`).
    """
    reg = registry if registry is not None else (monitor.registry if monitor else REGISTRY)
    holder: dict[str, DriftlineMiddleware] = {}
    app.add_middleware(
        DriftlineMiddleware,
        registry=reg,
        request_id_header=request_id_header,
        group_status=group_status,
        holder=holder,
    )
    app.state.driftline_middleware = holder

    if metrics_path:

        async def metrics(request: Request) -> Response:
            mw = holder.get("middleware")
            if mw is not None:
                mw.publish()
            payload, content_type = await asyncio.to_thread(metrics_payload, reg)
            return Response(payload, media_type=content_type)

        app.add_route(metrics_path, metrics, methods=["GET"], include_in_schema=False)


def middleware_of(app: Any) -> DriftlineMiddleware | None:
    """The :class:`DriftlineMiddleware` built for ``app`` (None until the app has started)."""
    holder: dict[str, DriftlineMiddleware] = app.state.driftline_middleware
    return holder.get("middleware")
