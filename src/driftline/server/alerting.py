"""The collector's alerting: evaluated windows -> metric points -> the alert engine -> notifiers.

When ``driftline serve`` has an ``alerts:`` section, the collector's
background tick calls :meth:`CollectorAlerts.run` after evaluating windows.
:class:`PointFeed` reads the metric points of the base windows evaluated since
its last read (``window_state.evaluated_at``, so it sees what every replica
evaluated, and late labels that re-evaluate an old window), renames them to the
engine's names (:func:`alert_points`), and adds what the evaluator does not
write yet: the window's latency percentiles and latency histogram buckets, and
a label-free estimate of accuracy (the mean top-class probability, what CBPE
reduces to for accuracy under calibrated scores), all from at most
:data:`SAMPLE` raw events of the window; and, when a rule uses it,
``job_status`` from the job runs received since the last read. The feed's cursor lives in the alert
store, so a restarted collector goes on where it stopped, and the engine
ignores windows it has already evaluated.

Several replicas: each has the ``alerts:`` section, and only the holder of the
store's ``alerting`` lease (renewed every tick, taken over by another replica
``alerting_lease_seconds`` after its holder stopped renewing it) evaluates rules
and sends notifications; people's actions (ack, outcome, silences) work on any
replica, through the store. In a serving process notifications are sent by a
:class:`~driftline.alerts.notifiers.worker.DeliveryWorker` (one thread per
receiver, each bounded by the receiver's ``retry.timeout``), never inside the
tick: a slow or hanging receiver cannot delay the evaluation of windows.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from driftline.alerts import (
    AlertEngine,
    AlertsConfig,
    AlertStore,
    Dispatcher,
    MetricPoint,
    SQLAlertStore,
)
from driftline.alerts.notifiers.worker import DeliveryWorker
from driftline.server.jobs import JOB_OK, job_health, run_metrics
from driftline.server.stream import LAG_METRIC, LAG_SAVE_SECONDS, lag_points
from driftline.stats.performance.uncertainty import proportion_se
from driftline.store.base import MetricQuery, Store
from driftline.windows.persistence import SIGNALS as PERSISTENT

log = logging.getLogger("driftline.server")

#: The evaluator's metric names -> the alert engine's (docs/alerts.md, "Metric points").
#: Every other stored metric reaches the engine under its own name (``performance.f1``, ...).
RENAME: Mapping[str, str] = {
    "events": "request_count",
    "error_ratio": "error_rate",
    "performance.accuracy": "accuracy",
    "label_coverage_ratio": "label_coverage",
    "quality.missing_ratio": "missing_ratio",
    "performance.estimated_accuracy": "confidence_mean",
}
#: The label-free estimate this module writes (the dashboard shows it as estimated accuracy).
ESTIMATE = "performance.estimated_accuracy"
LATENCY = {
    "latency_p50_seconds": 0.5,
    "latency_p90_seconds": 0.9,
    "latency_p95_seconds": 0.95,
    "latency_p99_seconds": 0.99,
}
#: Service metrics whose method makes the engine's name (docs/alerts.md, "Inside the service").
SERVICE_METHODS: Mapping[str, Mapping[str, str]] = {
    "stage_latency_seconds": {q: f"stage_latency_{q}_seconds" for q in ("p50", "p95", "p99")},
    "cost": {p: f"cost_{p}" for p in ("compute", "tokens", "total")},
}
#: The engine's metrics of job runs (a rule on any of them switches the job feed on).
JOB_METRICS = (
    "job_status",
    "job_metric",
    "job_since_success_intervals",
    "job_freshness_seconds",
)
#: Raw events read per window for the derived points.
SAMPLE = 5000


#: Stored metrics that are statistics of a sample: their points carry ``n`` and ``stderr``.
SAMPLED_PREFIXES = (
    "performance.", "estimated.", "quality.", "rag.", "llm.", "judge.score", "feedback.", "kpi.",
)  # fmt: skip


def _sampling(metric: str, row: Mapping[str, Any]) -> dict[str, Any]:
    """``n`` and ``stderr`` of a stored point of a sampled metric (else nothing)."""
    if metric == "error_ratio":
        # a share of the window's predictions: compared with its interval (one error in
        # 48 predictions is not a 2% error rate), but not held to min_samples, so a
        # quiet service's errors still alert
        n, value = max(int(row.get("n") or 0), 0), row.get("value")
        return {"stderr": proportion_se(float(value) * n, n) if value is not None else None}
    if not metric.startswith(SAMPLED_PREFIXES):
        return {}
    details = row.get("details") or "{}"
    try:
        parsed = orjson.loads(details) if isinstance(details, str | bytes) else dict(details)
    except orjson.JSONDecodeError:
        parsed = {}
    se = parsed.get("stderr") if isinstance(parsed, dict) else None
    if not isinstance(se, int | float) or isinstance(se, bool) or not math.isfinite(se) or se < 0:
        se = None
    return {"n": max(int(row.get("n") or 0), 0), "stderr": None if se is None else float(se)}


def alert_points(row: Mapping[str, Any]) -> list[MetricPoint]:
    """The engine's points for one stored metric point (none, one or two)."""
    metric, value = str(row["metric"]), row["value"]
    v = math.nan if value is None else float(value)
    ws = float(row["window_start"])
    we = ws + float(row["window_size"])
    base = (str(row["model"]), str(row["version"]), str(row["segment"]))
    column = str(row["column"] or "")
    method = str(row.get("method") or "")
    if metric == LAG_METRIC:  # the collector's stream consumer (model ""): by consumer
        return [MetricPoint(*base, metric, "", ws, we, v, {"consumer": column})]
    if metric == "latency_seconds":  # p50 / p90 / p95 / p99 / mean, when the store keeps the method
        name = f"latency_{method}_seconds"
        return [MetricPoint(*base, name, "", ws, we, v)] if name in LATENCY else []
    if metric == "latency_bucket":
        return [MetricPoint(*base, metric, "", ws, we, v, {"le": method})]
    if metric in SERVICE_METHODS:  # stage latency per quantile, cost per part
        renamed = SERVICE_METHODS[metric].get(method)
        return [MetricPoint(*base, renamed, column, ws, we, v)] if renamed else []
    if metric == "drift_detected" and not column:
        metric = "dataset_drift_detected"  # the dataset verdict, not a column's
    name = RENAME.get(metric, metric)
    scored = metric in ("drift_score", "multivariate_score", "label_drift", "embedding_drift")
    labels = {"method": method} if scored and method else {}
    if metric == "feedback.share" and method:
        labels = {"value": method}
    out = [MetricPoint(*base, name, column, ws, we, v, labels, **_sampling(metric, row))]
    if metric == "multivariate_score":
        flag = {"drift": 1.0, "ok": 0.0}.get(str(row["status"]), math.nan)
        out.append(MetricPoint(*base, "multivariate_drift_detected", "", ws, we, flag, labels))
    if metric == "label_drift":
        flag = {"drift": 1.0, "ok": 0.0}.get(str(row["status"]), math.nan)
        out.append(MetricPoint(*base, "label_drift_detected", column, ws, we, flag, labels))
    if metric == "drift_score" and column:
        flag = {"drift": 1.0, "ok": 0.0}.get(str(row["status"]), math.nan)
        out.append(MetricPoint(*base, "drift_detected", column, ws, we, flag))
    if metric == "error_ratio" and value is not None:
        out.append(MetricPoint(*base, "error_count", "", ws, we, v * float(row["n"])))
    stored = str(row["metric"])
    if stored in PERSISTENT:
        out += _persistence(row, base, column, method, ws, we, PERSISTENT[stored])
    return out


def _persistence(
    row: Mapping[str, Any],
    base: tuple[str, str, str],
    column: str,
    method: str,
    ws: float,
    we: float,
    signal: str,
) -> list[MetricPoint]:
    """``drift_shift`` and ``drift_spike`` (0 or 1) of a drift point with a persistence.

    ``drift_shift`` is 1 while the drift has lasted ``shift_windows`` windows or more;
    ``drift_spike`` is 1 in the window where a shorter drift ended (windows/persistence.py).
    ``labels['signal']`` names the drift flag (``dataset_drift_detected``, ...).
    """
    details = row.get("details") or "{}"
    try:
        parsed = orjson.loads(details) if isinstance(details, str | bytes) else dict(details)
    except orjson.JSONDecodeError:
        return []
    p = parsed.get("persistence") if isinstance(parsed, dict) else None
    if not isinstance(p, dict):
        return []
    kind = p.get("kind")
    labels = {"signal": signal, **({"method": method} if method else {})}
    return [
        MetricPoint(*base, "drift_shift", column, ws, we, float(kind == "shift"), labels),
        MetricPoint(*base, "drift_spike", column, ws, we, float(kind == "spike"), labels),
    ]


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


class PointFeed:
    """Reads the points of base windows evaluated since the last read, once each."""

    def __init__(
        self,
        store: Store,
        cursors: AlertStore,
        window_size: int,
        now: float,
        *,
        buckets: Sequence[float] = (),
        derive: bool = True,
        job_late_after: float | None = None,
        now_fn: Any = None,
        stream_lag: bool = False,
    ) -> None:
        self.store = store
        self.cursors = cursors
        self.window_size = window_size
        self.buckets = tuple(sorted(set(buckets)))
        self.derive = derive
        self.name = f"points:{window_size}"
        cursor = cursors.cursor(self.name)
        if cursor is None:  # first start: alert on what is evaluated from now on
            cursor = now
            cursors.set_cursor(self.name, cursor)
        self.cursor = cursor
        self._done: set[tuple[Any, ...]] = set()  # windows read at exactly the cursor time
        self.job_late_after = job_late_after
        self._jobs_done: set[tuple[str, str]] = set()  # runs read at exactly the cursor time
        self._health_window = -1  # the last base window job health was reported for
        #: read the stream consumers' lag points (a rule uses stream_consumer_lag)
        self.stream_lag = stream_lag
        self._lag_window = -1  # the last base window whose lag points were read
        self.now = now_fn if now_fn is not None else (lambda: now)
        if job_late_after is not None and cursors.cursor("jobs") is None:
            cursors.set_cursor("jobs", now)

    def reload_cursor(self) -> None:
        """Go on from the stored cursor (another replica fed the engine meanwhile); windows at
        the cursor are read again, and the engine skips those it has evaluated."""
        stored = self.cursors.cursor(self.name)
        if stored is not None and stored != self.cursor:
            self.cursor = stored
            self._done.clear()

    def read(self) -> list[MetricPoint]:
        """The engine's points of every window evaluated since the last call."""
        windows = self._evaluated()
        points: list[MetricPoint] = []
        for model, version, start, _ in windows:
            rows = self.store.metric_points(
                MetricQuery(
                    model=model, version=version, window_size=self.window_size,
                    start=start, end=start + 1, limit=1_000_000,
                )
            )  # fmt: skip
            if self.derive:
                rows += self._derived(rows)
            points += [p for r in rows for p in alert_points(r)]
        if windows:
            latest = max(w[3] for w in windows)
            if latest > self.cursor:
                self._done.clear()
                self.cursor = latest
                self.cursors.set_cursor(self.name, latest)
            self._done.update(w for w in windows if w[3] == self.cursor)
        if self.job_late_after is not None:
            points += self._jobs(self.job_late_after)
            points += self._job_health(self.now(), self.job_late_after)
        if self.stream_lag:
            points += self._stream_lag(self.now())
        return points

    def _stream_lag(self, now: float) -> list[MetricPoint]:
        """The stream consumers' lag points of the last closed base window, once each.

        Read :data:`LAG_SAVE_SECONDS` after the window closed: a feeder writes a closed
        window's final value at its next read from the broker.
        """
        size = self.window_size
        start = int((now - LAG_SAVE_SECONDS) // size * size) - size
        if start <= self._lag_window:
            return []
        self._lag_window = start
        return [p for r in lag_points(self.store, size, start, start + 1) for p in alert_points(r)]

    def _jobs(self, late_after: float) -> list[MetricPoint]:
        """``job_status`` per job and base window of the job runs received since the last read.

        1 when a run of the window failed, else 2 when one started more than
        ``late_after`` after its ``scheduled_at``, else 0; the series has no
        model (``model=""``) and the job in ``labels['job']``.
        """
        since = self.cursors.cursor("jobs") or 0.0
        runs = [
            r
            for r in self.store.job_runs(None, 1000)
            if r["received_at"] >= since and (r["job"], r["run_id"]) not in self._jobs_done
        ]
        if not runs:
            return []
        status: dict[tuple[str, int], float] = {}
        size = self.window_size
        for r in runs:
            start = int(r["started_at"] // size * size)
            if str(r["status"]).lower() not in JOB_OK:
                value = 1.0
            elif r["scheduled_at"] is not None and r["started_at"] - r["scheduled_at"] > late_after:
                value = 2.0
            else:
                value = 0.0
            key = (str(r["job"]), start)
            old = status.get(key)
            status[key] = (
                value if old is None else (1.0 if 1.0 in (old, value) else max(old, value))
            )
        latest = max(float(r["received_at"]) for r in runs)
        if latest > since:
            self._jobs_done.clear()
            self.cursors.set_cursor("jobs", latest)
        self._jobs_done.update((r["job"], r["run_id"]) for r in runs if r["received_at"] == latest)
        out = [
            MetricPoint("", "", "*", "job_status", "", s, s + size, v, {"job": job})
            for (job, s), v in sorted(status.items(), key=lambda kv: (kv[0][1], kv[0][0]))
        ]
        for r in sorted(runs, key=lambda r: float(r["started_at"])):
            start = int(r["started_at"] // size * size)
            for name, value in run_metrics(r).items():
                out.append(
                    MetricPoint("", "", "*", "job_metric", name, start, start + size, value,
                                {"job": str(r["job"])})
                )  # fmt: skip
        return out

    def _job_health(self, now: float, late_after: float) -> list[MetricPoint]:
        """Dead-man and freshness points of every job, once per closed base window.

        ``job_since_success_intervals`` (seconds since the last success / the expected
        interval) and ``job_freshness_seconds`` (age of the newest input), as they stood
        at the end of the last closed base window: a job that stopped running raises
        them window after window although no run arrives.
        """
        size = self.window_size
        start = int(now // size * size) - size
        if start <= self._health_window:
            return []
        self._health_window = start
        out = []
        for h in job_health(self.store.job_runs(None, 2000), start + size, late_after):
            labels = {"job": h.job}
            for name, value in (
                ("job_since_success_intervals", h.since_success_intervals),
                ("job_freshness_seconds", h.freshness_seconds),
            ):
                if value is not None:
                    out.append(
                        MetricPoint("", "", "*", name, "", start, start + size, value, labels)
                    )
        return out

    def _evaluated(self) -> list[tuple[str, str, int, float]]:
        """(model, version, start, evaluated_at) of base windows evaluated since the cursor."""
        from sqlalchemy import select

        from driftline.store.tables import window_state

        w = window_state.c
        query = (
            select(w.model, w.version, w.window_start, w.evaluated_at)
            .where(
                w.window_size == self.window_size,
                w.evaluated_at >= self.cursor,
                w.evaluated_generation >= w.generation,
            )
            .order_by(w.window_start, w.model, w.version)
        )
        engine = self.store.engine  # type: ignore[attr-defined]
        with engine.connect() as conn:
            rows = [(str(m), str(v), int(s), float(t)) for m, v, s, t in conn.execute(query)]
        return [r for r in rows if r not in self._done]

    def _derived(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Latency percentiles and buckets, and estimated accuracy, of the window's raw events
        (:func:`derive_points`); the estimate is stored too (the dashboard shows it)."""
        rows[:] = [r for r in rows if r["metric"] != ESTIMATE]  # recomputed below
        out = derive_points(self.store, rows, self.window_size, self.buckets)
        if any(x["metric"] == ESTIMATE for x in out):
            self.store.upsert_metric_points([x for x in out if x["metric"] == ESTIMATE])
        return out


def derive_points(
    store: Store,
    rows: Sequence[Mapping[str, Any]],
    window_size: int,
    buckets: Sequence[float],
    *,
    estimate: bool = True,
    unsampled: list[Mapping[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """What the evaluator does not store, from at most :data:`SAMPLE` raw events of each
    window with events in ``rows``: latency percentiles (unless stored), the counts of
    requests within each of ``buckets`` seconds (``latency_bucket``, scaled from the sample
    to the window's requests) and, with ``estimate``, the mean top-class probability.

    The live feed and ``alerts test --from-store`` both call it, so a replay rebuilds the
    same buckets while the raw events are kept (``retention_days``); the ``events`` rows of
    windows whose raw events are gone are appended to ``unsampled``.
    """
    out: list[dict[str, Any]] = []
    has_p99 = any(r["metric"] == "latency_seconds" and r["method"] == "p99" for r in rows)
    for r in rows:
        if r["metric"] != "events" or r["segment"] != "*" or not r["value"]:
            continue
        start = r["window_start"]
        payloads = store.sample_events(r["model"], r["version"], start, start + window_size, SAMPLE)
        if not payloads and unsampled is not None:
            unsampled.append(r)
        tops, lat = [], []
        for text in payloads:
            e = orjson.loads(text)
            if e.get("shadow"):
                continue
            if isinstance(e.get("latency_ms"), int | float):
                lat.append(float(e["latency_ms"]) / 1000.0)
            top = top_confidence(e.get("scores")) if e.get("status", "ok") == "ok" else None
            if top is not None:
                tops.append(top)

        def row(
            metric: str, method: str, value: float, n: int, details: str = "{}", r: Any = r
        ) -> dict[str, Any]:
            return {  # the window's events row, as the store returned it, with a new value
                **r, "metric": metric, "column": "", "method": method, "value": value,
                "status": "ok", "n": n, "details": details,
            }  # fmt: skip

        if tops and estimate:
            mean = math.fsum(tops) / len(tops)
            var = math.fsum((t - mean) ** 2 for t in tops) / max(len(tops) - 1, 1)
            se = orjson.dumps({"stderr": math.sqrt(var / len(tops))}).decode()
            out.append(row(ESTIMATE, "mean_confidence", mean, len(tops), se))
        if lat:
            lat.sort()
            for name, q in LATENCY.items() if not has_p99 else ():
                value = lat[min(len(lat) - 1, math.ceil(q * len(lat)) - 1)]
                out.append(row("latency_seconds", name.split("_")[1], value, len(lat)))
            scale = float(r["value"]) / len(lat)  # sampled share -> the window's requests
            for le in sorted(set(buckets)):
                within = sum(1 for x in lat if x <= le + 1e-12)
                out.append(row("latency_bucket", f"{le:g}", within * scale, len(lat)))
    return out


class CollectorAlerts:
    """The alert engine, its dispatcher and the point feed of one collector."""

    def __init__(
        self,
        store: Store,
        config: AlertsConfig,
        window_size: int,
        clock: Any,
        *,
        env: Mapping[str, str] | None = None,
        registry: Any = None,
    ) -> None:
        engine = store.engine  # type: ignore[attr-defined]
        self.store = SQLAlertStore(engine)  # the tables come with the collector's migrations
        self.dispatcher = Dispatcher(config, self.store, clock=clock, env=env, registry=registry)
        from driftline.server.changes import ChangeContext

        self.engine = AlertEngine(
            config, store=self.store, clock=clock, sink=self.dispatcher,
            context_hook=ChangeContext(store, window_size),
        )  # fmt: skip
        # "configuration loaded" is one of the recent changes alerts list (server/changes.py)
        digest = hashlib.sha256(config.model_dump_json().encode()).hexdigest()[:12]
        store.audit("collector", "collector.config", "alerts", f"sha256 {digest}", clock.time())
        from driftline._utils.durations import parse_duration

        buckets = [s.threshold_seconds for s in config.slos if s.threshold_seconds is not None]
        jobs = any(r.metric in JOB_METRICS for r in self.engine.rules)
        self.feed = PointFeed(
            store, self.store, window_size, clock.time(), buckets=buckets,
            job_late_after=parse_duration(config.job_late_after) if jobs else None,
            now_fn=clock.time,
            stream_lag=any(r.metric == LAG_METRIC for r in self.engine.rules),
        )  # fmt: skip
        self.clock = clock
        #: Clock time at which the last :meth:`run` finished (its notifications were queued,
        #: or sent when no delivery worker runs).
        self.ran_at: float | None = None
        self.worker: DeliveryWorker | None = None
        self._deliver = False

    def start_delivery(self) -> None:
        """Send notifications from a worker thread, off the evaluation tick (``serve``)."""
        self._deliver = True
        if self.worker is None and self.engine.leading:
            self.worker = DeliveryWorker(self.dispatcher).start()

    @property
    def delivered(self) -> bool:
        """True when nothing is being sent and nothing in the outbox is due."""
        if self.worker is not None:
            return self.worker.idle
        return not self.store.due_deliveries(self.clock.time(), limit=1)

    def lead(self, leading: bool) -> None:
        """This replica took (True) or lost (False) the alerting lease.

        Taking it re-reads the engine's state and the feed's cursor from the store (the
        previous holder went on from where this replica stopped); the delivery worker runs
        on the holder only, so an outbox entry is sent by one replica."""
        if leading == self.engine.leading:
            return
        self.engine.leading = leading
        if leading:
            self.engine.reload()
            self.feed.reload_cursor()
            if self._deliver:
                self.start_delivery()
        elif self.worker is not None:
            self.worker.stop()
            self.worker = None

    def run(self) -> int:
        """Feed newly evaluated windows to the engine, flush due groups, retry the outbox."""
        self.engine.sync_people()  # acks and outcomes people gave through another replica
        now = self.clock.time()
        points = self.feed.read()
        if points:
            self.engine.ingest(points)
        self.engine.tick()
        self.ran_at = now
        return len(points)

    def close(self) -> None:
        if self.worker is not None:
            self.worker.stop()
        self.dispatcher.close()


__all__ = [
    "ESTIMATE",
    "CollectorAlerts",
    "PointFeed",
    "alert_points",
    "derive_points",
    "top_confidence",
]
