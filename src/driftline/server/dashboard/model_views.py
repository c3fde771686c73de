"""The model pages: one version's charts and drift table, one column, two versions side by side."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response

from driftline.server.dashboard import charts, queries
from driftline.server.dashboard._sql import has_reference
from driftline.server.dashboard._web import dashboard_of, time_range, version_of
from driftline.server.dashboard.absence import estimate_note, traffic_note
from driftline.server.dashboard.abuse import abuse_rows
from driftline.server.dashboard.embeddings import (
    descriptors_of,
    embedding_panel,
    group_descriptor_rows,
)
from driftline.server.dashboard.llm import llm_panel
from driftline.server.dashboard.multivariate import multivariate_rows, shared_reason
from driftline.server.dashboard.seasonal import drift_time
from driftline.server.dashboard.security import Visitor
from driftline.server.dashboard.service import service_panel
from driftline.server.dashboard.signals import model_signals
from driftline.server.dashboard.timerange import TimeRange


def _loads(text: str) -> dict[str, Any]:
    import orjson

    out = orjson.loads(text or "{}")
    return out if isinstance(out, dict) else {}


def model_page(request: Request, visitor: Visitor) -> Response:
    dash = dashboard_of(request)
    model = request.path_params["model"]
    version, names = version_of(request, visitor, model)
    if version is None:
        return dash.error(request, visitor, 404, f"no model named {model!r}")
    tr = time_range(request)
    segment = request.query_params.get("segment", "*")
    store = dash.store
    series = queries.charts(store, tr, model, version, segment)
    drift = queries.drift_table(store, tr, model, version, segment)
    # a text or image column is one row, its descriptors under it (shown on expanding it)
    drift = group_descriptor_rows(drift, dash.evaluator.reference(model, version))
    mv = multivariate_rows(store, tr, model, version) if segment == "*" else []
    over_time = drift_time(store, tr, model, version) if segment == "*" else None
    abuse = abuse_rows(store, tr, model, version) if segment == "*" else []
    checks = queries.quality(store, tr, model, version, series.last, segment)
    segs = queries.segments(store, tr, model, version)
    this = next((s for s in segs if s.segment == segment), None)
    span = _span(dash.store, tr, model, [version])
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
            [(q, lat[q]) for q in ("p50", "p90", "p95", "p99", "mean") if lat[q].x],
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
    signals = model_signals(store, tr, model, version, segment, span, series.last)
    figures.update(signals.figures)
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
        "multivariate": mv,
        "multivariate_reason": shared_reason(mv),
        "embeddings": embedding_panel(dash, tr, model, version, span) if segment == "*" else None,
        "drift_time": over_time,
        "abuse": abuse,
        "sparkline": queries.sparkline,
        "checks": checks,
        "failed_checks": [c for c in checks if c.status != "ok"],
        "checked_at": series.last,
        "figures": figures,
        "signals": signals,
        "estimate": est,
        "alerts": alerts,
        "has_reference": bool(drift) or has_reference(store, model, version),
        "llm": llm_panel(store, tr, model, version, segment, x_range=span),
        # why an empty part is empty (dashboard/absence.py)
        "traffic_note": traffic_note(dash, tr, model, version, dash.clock.time())
        if not segs
        else "",
        "estimate_note": ""
        if est.kind or (this is not None and this.estimate_kind)
        else estimate_note(dash, tr, model, version, segment, series.last),
        "service": service_panel(store, tr, model, version, segment, x_range=span),
        "trace_url": dash.settings.trace_url,
    }
    return dash.render(request, visitor, "model.html", ctx, tr=tr)


def _span(store: Any, tr: TimeRange, model: str, versions: list[str]) -> tuple[float, float]:
    """The charts' x range: the time range, starting no earlier than the first window of the
    oldest of ``versions`` (a 20-minute-old model is not squeezed into the right edge)."""
    born = [row["created_at"] for v in versions if (row := store.version(model, v)) is not None]
    first = min((float(b) for b in born if b is not None), default=tr.start)
    start = max(tr.start, first - first % tr.window_size)
    return (start, tr.end) if start < tr.end - tr.window_size else (tr.start, tr.end)


def _per_point(what: str, tr: TimeRange) -> str:
    """``what`` per window, or per bucket of several windows when the chart groups them."""
    per = queries.bucket_for(tr, queries.CHART_POINTS)
    if per == tr.window_size:
        return f"{what} per window"
    return f"{what} per {per // 3600} h" if per % 3600 == 0 else f"{what} per {per // 60} min"


def column_page(request: Request, visitor: Visitor) -> Response:
    dash = dashboard_of(request)
    model, column = request.path_params["model"], request.path_params["column"]
    version, names = version_of(request, visitor, model)
    if version is None:
        return dash.error(request, visitor, 404, f"no model named {model!r}")
    tr = time_range(request)
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
    span = _span(dash.store, tr, model, [version])
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
    dash = dashboard_of(request)
    model = request.path_params["model"]
    _, names = version_of(request, visitor, model)
    if not names:
        return dash.error(request, visitor, 404, f"no model named {model!r}")
    tr = time_range(request)
    qp = request.query_params
    a = qp.get("a") or ""
    b = qp.get("b") or ""
    rollouts = dash.evaluator.rollouts
    now = dash.clock.time()
    champion = rollouts.champion(model, now, now) if rollouts is not None else None
    a = a if a in names else (champion if champion in names else names[0])
    others = [v for v in names if v != a]
    b = b if b in names else (others[0] if others else a)
    pair = (a, b) if a != b else (a,)
    verdict = (
        rollouts.compare(model, a, b, None, min(tr.end, dash.clock.time()), now=dash.clock.time())
        if rollouts is not None and a != b
        else None
    )
    series = {v: queries.charts(dash.store, tr, model, v) for v in pair}
    # a text or image column counts once, its drifted descriptors named (as in the drift table)
    health = {
        v: queries.health(dash.store, tr, model, v, series[v], descriptors_of(dash)) for v in pair
    }
    total = sum(h.events for h in health.values())
    for h in health.values():
        h.share = h.events / total if total else None
    span = _span(dash.store, tr, model, list(pair))
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
        "drifted_descriptors": {v: health[v].drifted_descriptors for v in pair},
        "figures": figures,
        "diff": diff_meta(meta[a], meta[b]),
        "verdict": verdict,
        "champion": champion,
    }
    return dash.render(request, visitor, "compare.html", ctx, tr=tr)
