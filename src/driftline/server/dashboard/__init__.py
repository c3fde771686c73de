"""The dashboard: server-rendered pages served by the collector (docs/dashboard.md).

``mount_dashboard(app, store, settings, clock)`` adds the pages under ``/ui``
to a collector app. Pages are Jinja2 templates with a little vanilla
JavaScript; charts use Plotly's JavaScript from the installed ``plotly``
package, served by the collector itself (no CDN: it works offline).
"""

from __future__ import annotations

import functools
import hashlib
import math
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from importlib import resources
from typing import Any

import jinja2
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from driftline.alerts import AlertEngine
from driftline.server.auth import KeyChecker
from driftline.server.dashboard import views
from driftline.server.dashboard.bridge import AlertBridge
from driftline.server.dashboard.security import Access, Visitor
from driftline.server.dashboard.timerange import RANGES, TimeRange
from driftline.server.settings import Settings
from driftline.stats.drift.rules import evaluate_column
from driftline.store.base import Store, WindowKey
from driftline.windows import Clock, Evaluator

PREFIX = "/ui"
#: How often a page whose range ends now fetches fresh data (0: never).
REFRESH_SECONDS = 15.0
#: Messages a local receiver got, newest first: dicts with ``at``, ``status``, ``summary``.
Inbox = Callable[[], Sequence[dict[str, Any]]]


class Dashboard:
    """What the pages need: the store, settings, clock, access checks and the alert engine."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        clock: Clock,
        *,
        alerts: AlertEngine | None = None,
        inbox: Inbox | None = None,
        prefix: str = PREFIX,
        keys: KeyChecker | None = None,
        refresh_seconds: float = REFRESH_SECONDS,
    ) -> None:
        self.store = store
        self.refresh_seconds = refresh_seconds
        self.settings = settings
        self.clock = clock
        self.alerts = alerts
        self.inbox = inbox
        self.prefix = prefix
        keys = keys or KeyChecker(store, clock, settings.key_cache_seconds)
        self.access = Access(
            store, keys, login_attempts_per_minute=settings.login_attempts_per_minute
        )
        self.evaluator = Evaluator(store, settings.windows, clock, settings.evaluator)
        self.env = jinja2.Environment(
            loader=jinja2.PackageLoader("driftline.server.dashboard", "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )
        self.env.filters.update(
            pct=pct,
            ms=ms,
            num=num,
            ts=ts,
            dur=dur,
            score=score,
            money=money,
            metric_name=metric_name,
        )
        self.env.globals["chart_json"] = _chart_json
        self._static: dict[str, tuple[bytes, str, str]] = {}

    # -- rendering -----------------------------------------------------------------------
    def render(
        self,
        request: Request,
        visitor: Visitor | None,
        template: str,
        ctx: dict[str, Any],
        *,
        tr: TimeRange | None = None,
        status: int = 200,
    ) -> HTMLResponse:
        t0 = time.perf_counter()
        base = {
            "prefix": self.prefix,
            "request": request,
            "visitor": visitor,
            "csrf": self.access.csrf_token(visitor) if visitor else "",
            "tr": tr,
            "ranges": list(RANGES),
            "now": self.clock.time(),
            "here": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
            "asset": self.asset_url,
            "q": functools.partial(_query, request),
            "alert_count": self._alert_count() if visitor else 0,
            "refresh": f"{self.refresh_seconds:g}",
        }
        html = self.env.get_template(template).render(**base, **ctx)
        resp = HTMLResponse(html, status_code=status)
        resp.headers["Server-Timing"] = f"render;dur={(time.perf_counter() - t0) * 1000:.1f}"
        resp.headers["X-Frame-Options"] = "DENY"
        resp.headers["Referrer-Policy"] = "same-origin"
        resp.headers["Cache-Control"] = "no-store"
        return resp

    def error(
        self, request: Request, visitor: Visitor | None, status: int, message: str
    ) -> HTMLResponse:
        return self.render(
            request, visitor, "error.html", {"status": status, "message": message}, status=status
        )

    def _alert_count(self) -> int:
        return sum(1 for a in self.active_alerts() if a.state.value == "firing")

    def active_alerts(self) -> list[Any]:
        if self.alerts is None:
            return []
        return [a for a in self.alerts.alerts() if a.active]

    def inbox_messages(self) -> list[dict[str, Any]]:
        return list(self.inbox())[:50] if self.inbox is not None else []

    def deliveries(self) -> list[Any]:
        if self.alerts is None:
            return []
        out = self.alerts.store.deliveries()
        return sorted(out, key=lambda d: -d.created_at)[:20]

    # -- static files ----------------------------------------------------------------------
    def _load_static(self, name: str) -> tuple[bytes, str, str] | None:
        hit = self._static.get(name)
        if hit is not None:
            return hit
        if name == "plotly.min.js":
            from plotly.offline import get_plotlyjs

            body = get_plotlyjs().encode()
        elif name in ("app.js", "app.css"):
            body = (
                resources.files("driftline.server.dashboard").joinpath("static", name).read_bytes()
            )
        else:
            return None
        kind = "text/css" if name.endswith(".css") else "text/javascript"
        digest = hashlib.sha256(body).hexdigest()[:12]
        self._static[name] = (body, f"{kind}; charset=utf-8", digest)
        return self._static[name]

    def asset_url(self, name: str) -> str:
        hit = self._load_static(name)
        return f"{self.prefix}/static/{name}?v={hit[2] if hit else '0'}"

    def static(self, name: str) -> Response:
        hit = self._load_static(name)
        if hit is None:
            return Response("not found", status_code=404, media_type="text/plain")
        body, kind, _ = hit
        return Response(
            body, media_type=kind, headers={"Cache-Control": "public, max-age=31536000, immutable"}
        )

    # -- distributions ---------------------------------------------------------------------------
    def distribution(
        self, model: str, version: str, segment: str, column: str, size: int, start: int
    ) -> dict[str, Any] | None:
        """Reference vs the window at ``start`` for one column (bins as shares)."""
        from driftline.report._html_data import top_bins

        ref = self.evaluator.reference(model, version)
        if ref is None or column not in ref.columns:
            return None
        stats = self.evaluator.collect(WindowKey(model, version, size, start))
        cur = stats.get(segment)
        if cur is None:
            return None
        cur.fold()
        if column not in cur.profile.columns:
            return None
        r, c = ref.columns[column], cur.profile.columns[column]
        if r.kind is not c.kind:
            return None
        d = evaluate_column(r, c, self.settings.evaluator.drift)
        if d.bins is None or not len(d.bins.labels):
            return None
        rt, ct = max(float(d.bins.reference.sum()), 1.0), max(float(d.bins.current.sum()), 1.0)
        dist = {
            "bins": list(d.bins.labels),
            "edges": None if d.bins.edges is None else [float(x) for x in d.bins.edges],
            "reference": [float(x) / rt for x in d.bins.reference],
            "current": [float(x) / ct for x in d.bins.current],
        }
        out = top_bins(dist)
        out.update(
            n_reference=int(rt),
            n_current=int(ct),
            decision=d.decision.to_dict(),
        )
        return out


def mount_dashboard(
    app: FastAPI,
    store: Store,
    settings: Settings,
    clock: Clock,
    *,
    alerts: AlertEngine | None = None,
    inbox: Inbox | None = None,
    prefix: str = PREFIX,
    refresh_seconds: float = REFRESH_SECONDS,
) -> Dashboard:
    """Add the dashboard pages under ``prefix`` to ``app`` (and ``/`` redirecting to them).

    Pages whose time range ends now refresh themselves every ``refresh_seconds``.
    """
    collector = getattr(app.state, "collector", None)
    keys = getattr(collector, "keys", None)
    dash = Dashboard(
        store,
        settings,
        clock,
        alerts=alerts,
        inbox=inbox,
        prefix=prefix,
        keys=keys,
        refresh_seconds=refresh_seconds,
    )
    app.state.dashboard = dash
    health = getattr(collector, "metrics", None)
    if health is not None:  # refused sign-ins are counted with the collector's other limits
        dash.access.on_throttled = health.limit_rejects.labels("login_attempts_per_minute").inc
    app.include_router(views.build_router(prefix))
    if not any(getattr(r, "path", None) == "/" for r in app.router.routes):

        @app.get("/", include_in_schema=False)
        def home() -> RedirectResponse:
            return RedirectResponse(prefix + "/", 307)

    return dash


# -- template filters -----------------------------------------------------------------------------


def pct(v: float | None, digits: int = 1) -> str:
    return "—" if v is None else f"{v * 100:.{digits}f}%"


def ms(v: float | None) -> str:
    """Seconds shown in milliseconds, the unit of the latency charts."""
    if v is None:
        return "—"
    return f"{v * 1000:.1f} ms" if v < 0.01 else f"{v * 1000:,.0f} ms"


def num(v: float | None) -> str:
    if v is None:
        return "—"
    if abs(v) >= 1e6:
        return f"{v / 1e6:.1f}M"
    if abs(v) >= 1e4:
        return f"{v / 1e3:.1f}k"
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.2f}"


def score(v: float | None) -> str:
    return "—" if v is None else f"{v:.3g}"


#: how a metric's name reads in a table (acronyms as they are written)
_METRIC_NAMES = {
    "roc_auc": "ROC AUC", "pr_auc": "PR AUC", "auc": "ROC AUC", "mae": "MAE", "rmse": "RMSE",
    "ece": "ECE", "f1": "F1", "r2": "R²", "log_loss": "log loss", "brier": "Brier score",
}  # fmt: skip


def metric_name(name: str | None) -> str:
    """``roc_auc`` -> "ROC AUC", ``pr_auc`` -> "PR AUC", other names with spaces."""
    if not name:
        return "—"
    return _METRIC_NAMES.get(name, name.replace("_", " "))


def money(v: float | None) -> str:
    """An amount in fixed notation: two decimals from 1 up, four significant digits below
    (0.00008233, never 8.233e-05: a price reads as a number of cents, not as an exponent)."""
    if v is None or not math.isfinite(v):
        return "—"
    a = abs(float(v))
    if a == 0 or a >= 1:
        return f"{v:,.2f}"
    decimals = min(12, 3 - math.floor(math.log10(a)))
    return f"{v:.{decimals}f}"


def ts(v: float | None, seconds: bool = False) -> str:
    if v is None:
        return "—"
    fmt = "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
    return datetime.fromtimestamp(v, tz=timezone.utc).strftime(fmt) + " UTC"


def dur(v: float | None) -> str:
    if v is None:
        return "—"
    v = float(v)
    if v < 60:
        return f"{v:.1f} s" if v < 10 else f"{v:.0f} s"
    if v < 3600:
        return f"{v / 60:.0f} min"
    if v < 86400:
        return f"{v / 3600:.1f} h"
    return f"{v / 86400:.1f} d"


def _query(request: Request, **changes: str | None) -> str:
    """The current query string with ``changes`` applied (``None`` removes a key)."""
    from urllib.parse import urlencode

    params = dict(request.query_params)
    for k, v in changes.items():
        if v is None:
            params.pop(k, None)
        else:
            params[k] = str(v)
    return "?" + urlencode(params) if params else "?"


def _chart_json(fig: Any) -> str:
    """``fig`` as JSON safe inside a ``<script>`` element: ``<``, ``>``, ``&`` as ``\\u`` escapes.

    Escaping only ``</`` is not enough: a value holding ``<!--<script>`` puts the
    HTML parser in its "double escaped" state, where ``</script>`` no longer ends
    the element and the page's scripts break.
    """
    import orjson

    return script_safe_json(orjson.dumps(fig).decode())


def script_safe_json(text: str) -> str:
    """JSON text that cannot end or confuse the ``<script>`` element it sits in."""
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


__all__ = ["PREFIX", "AlertBridge", "Dashboard", "mount_dashboard"]
