"""Adapter from the collector's metric points to the alert engine (until the collector has one).

The evaluator writes points under its own names (``error_ratio``,
``latency_seconds`` with ``method=p99``, ``performance.accuracy``, ...); the
alert engine's rules use the names of :data:`driftline.alerts.METRICS`
(``error_rate``, ``latency_p99_seconds``, ``accuracy``, ...).
:class:`AlertBridge` reads the points evaluated since its last run, renames
them, feeds the engine and ticks it. It also writes a label-free estimate of
accuracy per window, the mean top-class probability of the window's
predictions (what CBPE reduces to for accuracy under calibrated scores), as
``performance.estimated_accuracy`` so the dashboard can show estimated
performance while labels are late; and the window's latency percentiles as
``latency_p50_seconds`` / ``latency_p95_seconds`` / ``latency_p99_seconds``
from the raw events (the store keys points without their ``method``, so the
evaluator's p50/p95/p99/mean ``latency_seconds`` points overwrite each other).
Both come from at most :data:`SAMPLE` raw events of the window.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import orjson

from driftline.alerts import AlertEngine, MetricPoint
from driftline.server.dashboard.queries import ESTIMATE
from driftline.store.base import MetricQuery, Store

_RENAME = {
    "events": "request_count",
    "error_ratio": "error_rate",
    "performance.accuracy": "accuracy",
    "label_coverage_ratio": "label_coverage",
    "missing_ratio": "missing_ratio",
    "quality.missing_ratio": "missing_ratio",
    "drift_score": "drift_score",
    ESTIMATE: "confidence_mean",
}
SAMPLE = 5000
LATENCY = {"latency_p50_seconds": 0.5, "latency_p95_seconds": 0.95, "latency_p99_seconds": 0.99}
_KEY = ("model", "version", "segment", "window_size", "window_start", "metric", "column")


def alert_points(row: Mapping[str, Any]) -> list[MetricPoint]:
    """The alert engine's points for one stored metric point (none, one or two)."""
    metric, value = row["metric"], row["value"]
    v = math.nan if value is None else float(value)
    ws, we = float(row["window_start"]), float(row["window_start"] + row["window_size"])
    base = (row["model"], row["version"], row["segment"])
    out = []
    if metric == "latency_p99_seconds":
        out.append(MetricPoint(*base, "latency_p99_seconds", "", ws, we, v))
        return out
    name = _RENAME.get(metric)
    if name is None:
        return out
    labels = {"method": row["method"]} if metric == "drift_score" and row["method"] else {}
    out.append(MetricPoint(*base, name, row["column"], ws, we, v, labels))
    if metric == "drift_score" and row["column"]:
        flag = {"drift": 1.0, "ok": 0.0}.get(row["status"], math.nan)
        out.append(MetricPoint(*base, "drift_detected", row["column"], ws, we, flag))
    if metric == "error_ratio" and value is not None:
        out.append(MetricPoint(*base, "error_count", "", ws, we, v * row["n"]))
    return out


def top_confidence(scores: Any) -> float | None:
    """The top-class probability of one prediction's ``scores`` (a dict, list or number)."""
    if isinstance(scores, dict):
        vals = [float(x) for x in scores.values() if isinstance(x, int | float)]
    elif isinstance(scores, list):
        vals = [float(x) for x in scores if isinstance(x, int | float)]
    elif isinstance(scores, int | float) and not isinstance(scores, bool):
        vals = [float(scores), 1.0 - float(scores)]
    else:
        return None
    return max(vals) if vals else None


class AlertBridge:
    """Feeds newly evaluated metric points of the base window to an :class:`AlertEngine`."""

    def __init__(
        self,
        store: Store,
        engine: AlertEngine | None,
        window_size: int,
        *,
        lookback_windows: int = 30,
        estimate: bool = True,
    ) -> None:
        self.store = store
        self.engine = engine
        self.window_size = window_size
        self.lookback = lookback_windows * window_size
        self.estimate = estimate
        self._seen: dict[tuple[Any, ...], float] = {}
        self._cursor: float | None = None

    def run(self) -> int:
        """Process new points; return how many were fed to the engine."""
        start = None if self._cursor is None else self._cursor - self.lookback
        rows = self.store.metric_points(
            MetricQuery(window_size=self.window_size, start=start, limit=1_000_000)
        )
        fresh = []
        for r in rows:
            key = tuple(r[k] for k in _KEY)
            if self._seen.get(key) != r["evaluated_at"]:
                self._seen[key] = r["evaluated_at"]
                fresh.append(r)
        if rows:
            self._cursor = max(r["window_start"] for r in rows)
            floor = self._cursor - 2 * self.lookback
            self._seen = {k: v for k, v in self._seen.items() if k[4] >= floor}
        if self.estimate:
            fresh += self._derived(fresh)
        points = [p for r in fresh for p in alert_points(r)]
        if self.engine is not None:
            self.engine.ingest(points)
            self.engine.tick()
        return len(points)

    def _derived(self, fresh: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Estimated accuracy and latency percentiles of each newly evaluated window."""
        out = []
        for r in fresh:
            if r["metric"] != "events" or r["segment"] != "*" or not r["value"]:
                continue
            start = r["window_start"]
            payloads = self.store.sample_events(
                r["model"], r["version"], start, start + self.window_size, SAMPLE
            )
            tops, lat = [], []
            for text in payloads:
                e = orjson.loads(text)
                if e.get("shadow"):
                    continue
                if isinstance(e.get("latency_ms"), int | float):
                    lat.append(float(e["latency_ms"]) / 1000.0)
                top = top_confidence(e.get("scores")) if e.get("status") == "ok" else None
                if top is not None:
                    tops.append(top)

            def row(
                metric: str, method: str, value: float, n: int, basis: str, r: Any = r
            ) -> dict[str, Any]:
                return {
                    **{k: r[k] for k in _KEY},
                    "metric": metric,
                    "column": "",
                    "method": method,
                    "value": value,
                    "status": "ok",
                    "n": n,
                    "details": orjson.dumps({"basis": basis}).decode(),
                    "evaluated_at": r["evaluated_at"],
                }

            if tops:
                out.append(
                    row(
                        ESTIMATE,
                        "mean_confidence",
                        sum(tops) / len(tops),
                        len(tops),
                        "mean top-class probability",
                    )
                )
            if lat:
                lat.sort()
                for name, q in LATENCY.items():
                    value = lat[min(len(lat) - 1, math.ceil(q * len(lat)) - 1)]
                    out.append(
                        row(name, "raw_events", value, len(lat), f"quantile {q} of raw latencies")
                    )
        if out:
            self.store.upsert_metric_points(out)
            for x in out:
                self._seen[tuple(x[k] for k in _KEY)] = x["evaluated_at"]
        return out
