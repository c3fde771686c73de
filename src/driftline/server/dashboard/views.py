"""The dashboard's routes: thin handlers that read :mod:`.queries` and render templates."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from driftline.errors import DriftlineError
from driftline.server.dashboard import charts, queries
from driftline.server.dashboard.security import COOKIE, SESSION_SECONDS, Visitor, same_origin
from driftline.server.dashboard.timerange import RANGES, TimeRange, parse_range, range_around
from driftline.store.base import DEFAULT_PROJECT

if TYPE_CHECKING:
    from driftline.server.dashboard import Dashboard

Handler = Callable[[Request, Visitor], Response]
MAX_FORM_BYTES = 16_384


def _dash(request: Request) -> Dashboard:
    d: Dashboard = request.app.state.dashboard
    return d


def _visible(dash: Dashboard, visitor: Visitor, models: Iterable[str]) -> set[str]:
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


def _alert_visible(dash: Dashboard, visitor: Visitor, labels: Mapping[str, str]) -> bool:
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
    return model in _visible(dash, visitor, [model])


def page(scope: str) -> Callable[[Handler], Callable[[Request], Response]]:
    """A GET handler for visitors with ``scope``; others are sent to sign in (or get 403)."""

    def wrap(fn: Handler) -> Callable[[Request], Response]:
        def handler(request: Request) -> Response:
            dash = _dash(request)
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
        dash = _dash(request)
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


def _safe_next(prefix: str, value: str | None) -> str:
    if value and value.startswith(prefix + "/") and not value.startswith("//"):
        return value
    return prefix + "/"


def build_router(prefix: str) -> APIRouter:
    r = APIRouter(prefix=prefix, include_in_schema=False)

    @r.get("/static/{name}")
    def static(request: Request) -> Response:
        return _dash(request).static(request.path_params["name"])

    @r.get("/login")
    def login_form(request: Request) -> Response:
        dash = _dash(request)
        nxt = _safe_next(prefix, request.query_params.get("next"))
        return dash.render(request, None, "login.html", {"next": nxt, "error": None})

    @r.post("/login")
    async def login(request: Request) -> Response:
        dash = _dash(request)
        body = await request.body()
        form = dict(parse_qsl(body[:MAX_FORM_BYTES].decode("utf-8", "replace")))
        nxt = _safe_next(prefix, form.get("next"))
        if not same_origin(request):
            return dash.error(request, None, 403, "cross-site sign-in refused")
        session = await run_in_threadpool(dash.access.session_for, form.get("key", "").strip())
        if session is None:
            ctx = {"next": nxt, "error": "That API key is not valid (or was revoked)."}
            return dash.render(request, None, "login.html", ctx, status=401)
        return _signed_in(request, session, nxt)

    @r.get("/login/{token}")
    def login_link(request: Request) -> Response:
        dash = _dash(request)
        session = dash.access.redeem(request.path_params["token"])
        if session is None:
            ctx = {"next": prefix + "/", "error": "This sign-in link was used or has expired."}
            return dash.render(request, None, "login.html", ctx, status=401)
        return _signed_in(request, session, prefix + "/")

    @r.post("/logout")
    async def logout(request: Request) -> Response:
        dash = _dash(request)
        visitor = dash.access.visitor(request)
        body = await request.body()
        form = dict(parse_qsl(body[:MAX_FORM_BYTES].decode("utf-8", "replace")))
        if visitor is not None and dash.access.check_post(request, visitor, form) is None:
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
        path=_dash(request).prefix,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return resp


# -- pages -------------------------------------------------------------------------------------


def _range(request: Request) -> TimeRange:
    dash = _dash(request)
    return parse_range(request.query_params, dash.clock.time(), dash.settings.windows.sizes)


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


def overview(request: Request, visitor: Visitor) -> Response:
    dash = _dash(request)
    tr = _range(request)
    known = queries.versions(dash.store)
    if not visitor.principal.is_global:
        seen = _visible(dash, visitor, (m for m, _ in known))
        known = [(m, v) for m, v in known if m in seen]
    rows = queries.overview(dash.store, tr, known)
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


def _version_of(request: Request, visitor: Visitor, model: str) -> tuple[str | None, list[str]]:
    """The version asked for (else the first) and all versions of a model the visitor sees."""
    dash = _dash(request)
    if not _visible(dash, visitor, [model]):
        return None, []
    names = [v for m, v in queries.versions(dash.store) if m == model]
    want = request.query_params.get("version")
    if want in names:
        return want, names
    return (names[0] if names else None), names


def model_page(request: Request, visitor: Visitor) -> Response:
    dash = _dash(request)
    model = request.path_params["model"]
    version, names = _version_of(request, visitor, model)
    if version is None:
        return dash.error(request, visitor, 404, f"no model named {model!r}")
    tr = _range(request)
    segment = request.query_params.get("segment", "*")
    store = dash.store
    series = queries.charts(store, tr, model, version, segment)
    drift = queries.drift_table(store, tr, model, version, segment)
    checks = queries.quality(store, tr, model, version, series.last, segment)
    segs = queries.segments(store, tr, model, version)
    this = next((s for s in segs if s.segment == segment), None)
    span = (tr.start, tr.end)
    est = series.estimate
    perf_traces = [("realized (labels)", series.accuracy)]
    if est.kind:
        perf_traces.append((est.label, est.series))
    lat = series.latency
    figures = {
        "traffic": charts.line(
            _per_point("Predictions", tr),
            [("predictions", series.events)],
            bars=True,
            x_range=span,
            period=queries.bucket_for(tr, queries.CHART_POINTS),
        ),
        "latency": charts.line(
            "Latency (ms)" if not lat["mean"].x else "Mean latency (ms): no percentiles recorded",
            [(q, lat[q]) for q in ("p50", "p95", "p99", "mean") if lat[q].x],
            scale=1000.0,
            x_range=span,
        ),
        "errors": charts.line(
            "Error rate", [("errors", series.errors)], percent=True, x_range=span
        ),
        "performance": charts.line(
            "Accuracy: realized from labels"
            + (f" vs {est.label} without labels" if est.kind else ""),
            perf_traces,
            percent=True,
            zero=False,
            x_range=span,
        ),
        "coverage": charts.line(
            "Label coverage (labels arrive late: recent windows fill in)",
            [("labelled", series.coverage)],
            percent=True,
            x_range=span,
        ),
    }
    alerts = [
        a
        for a in dash.active_alerts()
        if a.labels.get("model") == model and a.labels.get("version") == version
    ]
    ctx = {
        "model": model,
        "version": version,
        "versions": names,
        "segment": segment,
        "segments": segs,
        "this": this,
        "performance_metrics": queries.PERFORMANCE,
        "estimate_labels": queries.ESTIMATE_LABELS,
        "drift": drift,
        "sparkline": queries.sparkline,
        "checks": checks,
        "failed_checks": [c for c in checks if c.status != "ok"],
        "checked_at": series.last,
        "figures": figures,
        "estimate": est,
        "alerts": alerts,
    }
    return dash.render(request, visitor, "model.html", ctx, tr=tr)


def _per_point(what: str, tr: TimeRange) -> str:
    """``what`` per window, or per bucket of several windows when the chart groups them."""
    per = queries.bucket_for(tr, queries.CHART_POINTS)
    if per == tr.window_size:
        return f"{what} per window"
    return f"{what} per {per // 3600} h" if per % 3600 == 0 else f"{what} per {per // 60} min"


def column_page(request: Request, visitor: Visitor) -> Response:
    dash = _dash(request)
    model, column = request.path_params["model"], request.path_params["column"]
    version, names = _version_of(request, visitor, model)
    if version is None:
        return dash.error(request, visitor, 404, f"no model named {model!r}")
    tr = _range(request)
    segment = request.query_params.get("segment", "*")
    drift = queries.drift_table(
        dash.store, tr, model, version, segment, column=column, points=queries.CHART_POINTS
    )
    info = drift[0] if drift else None
    at = request.query_params.get("at")
    window = None
    if at and at.isdigit():
        window = int(at)
    elif info is not None and info.windows:
        window = info.last
    dist = None
    if window is not None:
        dist = dash.distribution(model, version, segment, column, tr.window_size, window)
    span = (tr.start, tr.end)
    missing = queries.column_series(
        dash.store, tr, model, version, column, "quality.missing_ratio", segment
    )
    figures: dict[str, Any] = {}
    if info is not None:
        bucketed = queries.bucket_for(tr, queries.CHART_POINTS) > tr.window_size
        figures["history"] = charts.line(
            f"Drift score of {column} ({info.method})"
            + (" · largest per point" if bucketed else ""),
            [("score", info.history)],
            threshold=info.threshold,
            x_range=span,
        )
    if missing.x:
        figures["missing"] = charts.line(
            f"Missing values in {column}", [("missing", missing)], percent=True, x_range=span
        )
    if dist is not None:
        figures["distribution"] = charts.distribution(
            f"{column}: reference vs window of {charts.iso(window or 0).replace('T', ' ')} UTC",
            dist["bins"],
            dist["reference"],
            dist["current"],
        )
    ctx = {
        "model": model,
        "version": version,
        "versions": names,
        "column": column,
        "segment": segment,
        "info": info,
        "dist": dist,
        "window": window,
        "figures": figures,
    }
    return dash.render(request, visitor, "column.html", ctx, tr=tr)


def compare_page(request: Request, visitor: Visitor) -> Response:
    dash = _dash(request)
    model = request.path_params["model"]
    _, names = _version_of(request, visitor, model)
    if not names:
        return dash.error(request, visitor, 404, f"no model named {model!r}")
    tr = _range(request)
    qp = request.query_params
    a = qp.get("a") or ""
    b = qp.get("b") or ""
    a = a if a in names else names[0]
    b = b if b in names else (names[1] if len(names) > 1 else names[0])
    pair = (a, b) if a != b else (a,)
    series = {v: queries.charts(dash.store, tr, model, v) for v in pair}
    health = {v: queries.health(dash.store, tr, model, v, series[v]) for v in pair}
    total = sum(h.events for h in health.values())
    for h in health.values():
        h.share = h.events / total if total else None
    span = (tr.start, tr.end)
    q = "p99" if any(series[v].latency["p99"].x for v in pair) else "mean"
    kinds = {series[v].estimate.kind for v in pair} - {""}
    est_label = {"cbpe": "CBPE", "confidence": "mean confidence"}.get(
        kinds.pop() if len(kinds) == 1 else "", "CBPE or mean confidence"
    )
    figures = {
        "traffic": charts.line(
            _per_point("Predictions", tr), [(v, series[v].events) for v in pair], x_range=span
        ),
        "p99": charts.line(
            f"{q} latency (ms)" if q != "mean" else "Mean latency (ms): no percentiles recorded",
            [(v, series[v].latency[q]) for v in pair],
            scale=1000.0,
            x_range=span,
        ),
        "errors": charts.line(
            "Error rate", [(v, series[v].errors) for v in pair], percent=True, x_range=span
        ),
        "accuracy": charts.line(
            "Accuracy, realized from labels",
            [(v, series[v].accuracy) for v in pair],
            percent=True,
            zero=False,
            x_range=span,
        ),
        "estimated": charts.line(
            f"Accuracy estimated without labels ({est_label})",
            [(v, series[v].estimate.series) for v in pair],
            percent=True,
            zero=False,
            x_range=span,
        ),
        "coverage": charts.line(
            "Label coverage", [(v, series[v].coverage) for v in pair], percent=True, x_range=span
        ),
    }
    from driftline.server.routes_read import diff_meta

    meta = {}
    for v in pair:
        row = dash.store.version(model, v)
        meta[v] = _loads(row["meta"]) if row else {}
    ctx = {
        "model": model,
        "versions": names,
        "a": a,
        "b": b,
        "health": health,
        "drift": {v: health[v].drifted_columns for v in pair},
        "figures": figures,
        "diff": diff_meta(meta[a], meta[b]),
    }
    return dash.render(request, visitor, "compare.html", ctx, tr=tr)


def _loads(text: str) -> dict[str, Any]:
    import orjson

    out = orjson.loads(text or "{}")
    return out if isinstance(out, dict) else {}


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
    dash = _dash(request)
    everything = visitor.principal.reaches(DEFAULT_PROJECT)
    tr = _range(request)
    engine = dash.alerts
    groups: dict[str, list[Any]] = {"firing": [], "pending": [], "resolved": []}
    silences: list[Any] = []
    muted: dict[str, str] = {}
    if engine is not None:
        for a in engine.alerts():
            if a.state.value in groups and _alert_visible(dash, visitor, a.labels):
                groups[a.state.value].append(a)
                why = engine.muted_by(a)
                if why:
                    muted[a.fingerprint] = why
        now = dash.clock.time()
        silences = sorted(
            (
                s
                for s in engine.store.silences()
                if s.ends_at > now - 86400 and _alert_visible(dash, visitor, _exact(s))
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
    dash = _dash(request)
    engine = dash.alerts
    fp = request.path_params["fp"]
    if engine is None:
        return dash.error(request, visitor, 404, "alerting is not configured")
    try:
        alert = engine.alert(fp)
    except DriftlineError:
        alert = None
    if alert is None or not _alert_visible(dash, visitor, alert.labels):
        return dash.error(
            request, visitor, 404, f"no alert {fp!r} (resolved alerts are kept 7 days)"
        )
    ctx = {
        "a": alert,
        "audit": list(reversed(engine.audit(fp)))[:50],
        "muted": engine.muted_by(alert),
        "explain": explain_link(dash, alert.labels, alert.active_since),
    }
    return dash.render(request, visitor, "alert.html", ctx, tr=_range(request))


def jobs_page(request: Request, visitor: Visitor) -> Response:
    dash = _dash(request)
    tr = _range(request)
    who = visitor.principal
    project = None if who.is_global else who.project
    runs = [r for r in dash.store.job_runs(None, 500, project) if r["started_at"] >= tr.start]
    jobs: dict[str, dict[str, Any]] = {}
    for r in runs:
        r["duration"] = max(r["finished_at"] - r["started_at"], 0.0)
        sched = r.get("scheduled_at")
        r["late"] = max(r["started_at"] - sched, 0.0) if sched is not None else None
        j = jobs.setdefault(
            r["job"],
            {
                "job": r["job"],
                "runs": 0,
                "failed": 0,
                "last": None,
                "durations": queries.Series(),
                "lateness": queries.Series(),
            },
        )
        j["runs"] += 1
        j["failed"] += r["status"] not in ("success", "ok")
        if j["last"] is None:
            j["last"] = r
    for r in reversed(runs):
        j = jobs[r["job"]]
        j["durations"].add(r["started_at"], r["duration"])
        j["lateness"].add(r["started_at"], r["late"])
    span = (tr.start, tr.end)
    figures = {}
    if jobs:
        names = sorted(jobs)
        figures["durations"] = charts.line(
            "Run duration (s)", [(n, jobs[n]["durations"]) for n in names], x_range=span
        )
        figures["lateness"] = charts.line(
            "Start delay after schedule (s)",
            [(n, jobs[n]["lateness"]) for n in names],
            x_range=span,
        )
    ctx = {
        "runs": runs[:200],
        "jobs": sorted(jobs.values(), key=lambda j: j["job"]),
        "figures": figures,
    }
    return dash.render(request, visitor, "jobs.html", ctx, tr=tr)


# -- actions -------------------------------------------------------------------------------------


def _engine(dash: Dashboard) -> Any:
    if dash.alerts is None:
        raise DriftlineError("alerting is not configured on this collector")
    return dash.alerts


def _back(dash: Dashboard, form: dict[str, str]) -> str:
    return _safe_next(dash.prefix, form.get("next"))


def _visible_alert(dash: Dashboard, visitor: Visitor, fp: str) -> Any:
    """The alert ``fp`` if the visitor may act on it; else the same error as an unknown one."""
    alert = _engine(dash).alert(fp)
    if not _alert_visible(dash, visitor, alert.labels):
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
        if not found or not _alert_visible(dash, visitor, _exact(found[0])):
            raise DriftlineError(f"no silence {sid!r}")
    engine.expire_silence(sid, visitor.principal.name)
    return _back(dash, form)


__all__ = ["RANGES", "build_router", "explain_link"]
