"""Prometheus: the collector's own health metrics and the monitoring results.

Health metrics live in a registry owned by the app (no module globals). The
monitoring results are rendered per scrape from the latest evaluated base
window of each model version (segment ``*`` only), so every replica exports the
same values. Cardinality is bounded: at most ``max_label_series`` model/version
pairs get their own label values (later ones share ``__other__``), at most
``max_export_columns`` columns per version, only versions with a window in the
last ``export_max_age_seconds``. docs/collector.md lists every name.
"""

from __future__ import annotations

import math
import threading
from typing import Any, ClassVar

import orjson
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from driftline.server._gauges import MV, gauge_maker
from driftline.server.service_metrics import ServiceGauges
from driftline.stats.performance import CLASSIFICATION_METRICS, REGRESSION_METRICS
from driftline.store.base import Store
from driftline.windows import ALL
from driftline.windows.persistence import SIGNALS as PERSISTENT

OTHER = "__other__"
KINDS = ("prediction", "label", "feedback", "kpi", "job_run", "runtime")
#: Why a record was rejected, where the reason is more than "invalid" (``driftline_rejects_total``).
REJECTS = (
    ("feedback", "unknown_prediction"),
    ("judge", "unknown_prediction"),  # feedback of kind judge.*: counted apart
    ("kpi", "unknown_prediction"),
    ("kpi", "builtin_name"),
    ("job_run", "non_numeric_metric"),
)
REJECT_REASONS = ("invalid", "duplicate")
OVERLOAD = ("inflight", "key_inflight", "body_timeout", "store_unavailable")
#: The settings whose limit can turn something away (``driftline_limit_rejects_total``).
LIMITS = (
    "max_version_columns",
    "max_depth",
    "max_features",
    "max_inflight",
    "max_inflight_per_key",
    "body_timeout_seconds",
    "login_attempts_per_minute",
)
ROUTES = (
    "/v1/events",
    "/v1/labels",
    "/v1/feedback",
    "/v1/kpis",
    "/v1/jobs",
    "/v1/runtime",
    "/v1/models",
    "/v1/metrics",
    "/metrics",
    "other",
)
PERFORMANCE = frozenset(CLASSIFICATION_METRICS) | frozenset(REGRESSION_METRICS)
#: Signals exported from the latest window that has them, per series (docs/collector.md,
#: "Prometheus metrics"): feedback, KPIs, judge results and thumbs arrive late or not in
#: every window.
LATE = ("feedback.", "kpi.", "slices.", "judge.", "llm.thumbs_down_ratio")
#: Worst slices of a version exported as driftline_slice_loss_gap (bounded label values).
MAX_SLICES = 5


class LabelGuard:
    """Admits the first ``limit`` (model, version) pairs; later ones become ``__other__``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._seen: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def __call__(self, model: str, version: str) -> tuple[str, str]:
        pair = (model, version)
        if pair in self._seen:
            return pair
        with self._lock:
            if len(self._seen) < self.limit:
                self._seen.add(pair)
                return pair
        return OTHER, OTHER


class HealthMetrics:
    """The collector's own metrics, in the app's registry."""

    def __init__(self, max_label_series: int) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.guard = LabelGuard(max_label_series)
        self.ingested = Counter(
            "driftline_events_ingested",
            "Prediction events stored (new event ids) by this collector process.",
            ["model", "version"],
            registry=r,
        )
        self.received = Counter(
            "driftline_records_received",
            "Records received, by kind and outcome (accepted, duplicate, rejected).",
            ["kind", "outcome"],
            registry=r,
        )
        self.labels_unmatched = Counter(
            "driftline_labels_unmatched",
            "Labels stored that match no stored prediction (not arrived yet, or older than "
            "the label horizon), by model; they update no window.",
            ["model"],
            registry=r,
        )
        self.alerting_leader = Gauge(
            "driftline_alerting_leader",
            "1 when this collector process holds the alerting lease (evaluates alerts), else 0.",
            registry=r,
        )
        self.rejects = Counter(
            "driftline_rejects",
            "Records rejected for a reason worth telling apart, by kind and reason "
            "(unknown_prediction, builtin_name, non_numeric_metric); kind judge: LLM judge "
            "results (feedback judge.*) on a prediction the store does not hold.",
            ["kind", "reason"],
            registry=r,
        )
        self.overload = Counter(
            "driftline_ingest_overload",
            "Ingest requests turned away with 429/503, by reason.",
            ["reason"],
            registry=r,
        )
        self.limit_rejects = Counter(
            "driftline_limit_rejects",
            "Records, feature names, requests or logins turned away by a limit, by its setting.",
            ["limit"],
            registry=r,
        )
        self.latency = Histogram(
            "driftline_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template and method.",
            ["route", "method"],
            registry=r,
        )
        self.outlier_prescores = Counter(
            "driftline_outlier_prescores",
            "Prediction events that came with the SDK's outlier score, by result: accepted, "
            "stale (another model tag: rescored), invalid (a score the method cannot give: "
            "rescored), mismatch (the spot check disagreed: the batch rescored), rescored "
            "(windows.outlier_prescores: rescore).",
            ["result"],
            registry=r,
        )
        self.live_windows = Gauge(
            "driftline_live_windows", "Live window partials held in memory.", registry=r
        )
        self.buffered_rows = Gauge(
            "driftline_window_buffered_rows",
            "Events waiting in window buffers to be folded into profiles.",
            registry=r,
        )
        self.evaluations = Counter("driftline_window_evaluations", "Windows evaluated.", registry=r)
        self.evaluation_errors = Counter(
            "driftline_background_errors",
            "Errors in background work, by task.",
            ["task"],
            registry=r,
        )
        self.evaluation_seconds = Histogram(
            "driftline_window_evaluation_duration_seconds",
            "Time to evaluate one window.",
            registry=r,
        )
        for kind in KINDS:
            for outcome in ("accepted", "duplicate", "rejected"):
                self.received.labels(kind, outcome)
        for kind, reason in REJECTS:
            self.rejects.labels(kind, reason)
        for reason in OVERLOAD:
            self.overload.labels(reason)
        for limit in LIMITS:
            self.limit_rejects.labels(limit)
        for task in ("flush", "evaluate", "purge"):
            self.evaluation_errors.labels(task)

    def count_ingested(self, model: str, version: str, n: int) -> None:
        self.ingested.labels(*self.guard(model, version)).inc(n)

    def count_unmatched_labels(self, model: str, n: int) -> None:
        self.labels_unmatched.labels(self.guard(model, "*")[0]).inc(n)


def render_results(
    store: Store,
    window_size: int,
    now: float,
    *,
    max_age: float,
    max_columns: int,
    max_series: int,
    project: str | None = None,
) -> bytes:
    """The monitoring results as Prometheus text (a fresh registry per scrape).

    ``project``: only the models of that project (a scrape with a project's key).
    """
    r = CollectorRegistry(auto_describe=True)
    g = _ResultGauges(r)
    # realized performance comes from the latest window with labels (labels arrive late:
    # the latest window has none yet), everything else from the latest window
    # feedback, KPIs and worst slices per series from the latest window that has them (they
    # arrive late, or not in every window): their window's start is exported beside them
    realized = {f"performance.{name}" for name in PERFORMANCE}
    points = [
        p
        for p in store.latest_points(window_size)
        if p["segment"] == ALL and p["metric"] not in realized and not p["metric"].startswith(LATE)
    ]
    points += [p for p in store.latest_points(window_size, realized) if p["segment"] == ALL]
    points += store.latest_series(window_size, LATE, now - max_age - window_size)
    # the stream consumers' lag (model ""): the feeding process exports it live
    # (driftline_stream_consumer_lag_messages), not per model and version
    from driftline.server.stream import LAG_METRIC

    points = [p for p in points if p["metric"] != LAG_METRIC]
    if project is not None:
        mine = {m["model"] for m in store.models(project)}
        points = [p for p in points if p["model"] in mine]
    points = [p for p in points if p["window_start"] + window_size >= now - max_age]
    pairs = sorted({(p["model"], p["version"]) for p in points})[:max_series]
    allowed = set(pairs)
    columns: dict[tuple[str, str], set[str]] = {}
    for p in sorted(points, key=lambda p: (p["model"], p["version"], p["column"])):
        mv = (p["model"], p["version"])
        if mv not in allowed:
            continue
        col = p["column"]
        if col:
            cols = columns.setdefault(mv, set())
            if col not in cols:
                if len(cols) >= max_columns:
                    continue
                cols.add(col)
        g.add(p, now)
    from driftline.server.jobs import job_health

    jobs = _JobGauges(r)
    for h in job_health(store.job_runs(None, 2000, project), now)[:max_series]:
        jobs.add(h)
    return generate_latest(r)


def render_precision(report: list[dict[str, Any]]) -> bytes:
    """Alert precision per rule (``AlertEngine.precision_report``) as Prometheus text."""
    r = CollectorRegistry(auto_describe=True)
    outcomes = Gauge(
        "driftline_alert_rule_outcomes",
        "Fired alerts of a rule by outcome label (true_positive, false_positive, "
        "not_actionable, unrated).",
        ["rule", "outcome"],
        registry=r,
    )
    precision = Gauge(
        "driftline_alert_rule_precision_ratio",
        "True / (true + false positive) of a rule's rated alerts (absent before any rating).",
        ["rule"],
        registry=r,
    )
    review = Gauge(
        "driftline_alert_rule_needs_review",
        "1 when the rule's precision is under the review threshold (enough alerts rated).",
        ["rule"],
        registry=r,
    )
    for row in report:
        rule = row["rule"]
        rated = 0
        for outcome in ("true_positive", "false_positive", "not_actionable"):
            outcomes.labels(rule, outcome).set(row[outcome])
            rated += row[outcome]
        outcomes.labels(rule, "unrated").set(max(0, row["fired"] - rated))
        if row["precision"] is not None:
            precision.labels(rule).set(row["precision"])
        review.labels(rule).set(1.0 if row["needs_review"] else 0.0)
    return generate_latest(r)


#: The labels of the spike-or-shift families after model and version.
PERSIST = ("signal", "column", "method")


class _JobGauges:
    """Pipeline health per job, from the stored runs (server/jobs.py)."""

    def __init__(self, r: CollectorRegistry) -> None:
        g = gauge_maker(r, "job")
        self.status = g(
            "driftline_job_status",
            "Latest run of the job: 0 succeeded, 1 failed, 2 late (started long after schedule).",
        )
        self.last_run = g(
            "driftline_job_last_run_timestamp_seconds", "When the job's latest run finished."
        )
        self.since_success = g(
            "driftline_job_seconds_since_success",
            "Seconds since the job's last successful run finished.",
        )
        self.intervals = g(
            "driftline_job_since_success_intervals",
            "Seconds since the last success / the job's expected interval (dead-man: > 1 "
            "means it missed its schedule).",
        )
        self.interval = g(
            "driftline_job_expected_interval_seconds",
            "How often the job is expected to run (sent by the SDK, or inferred from runs).",
        )
        self.freshness = g(
            "driftline_job_freshness_seconds",
            "Age of the newest input the job's runs reported reading.",
        )
        self.metric = g(
            "driftline_job_metric",
            "A number the job's latest run reported (custom metrics, rows_in, rows_out, "
            "duration_seconds).",
            "metric",
        )

    def add(self, h: Any) -> None:
        job = h.job
        self.status.labels(job).set({"ok": 0.0, "failed": 1.0, "late": 2.0}.get(h.status, 1.0))
        if h.last_run is not None:
            self.last_run.labels(job).set(float(h.last_run["finished_at"]))
        if h.since_success_seconds is not None:
            self.since_success.labels(job).set(h.since_success_seconds)
        if h.since_success_intervals is not None:
            self.intervals.labels(job).set(h.since_success_intervals)
        if h.expected_interval is not None:
            self.interval.labels(job).set(h.expected_interval)
        if h.freshness_seconds is not None:
            self.freshness.labels(job).set(h.freshness_seconds)
        for name, value in list(h.metrics.items())[:100]:
            self.metric.labels(job, name).set(value)


class _ResultGauges:
    def __init__(self, r: CollectorRegistry) -> None:
        g = gauge_maker(r, *MV)
        self.drift = g(
            "driftline_drift_score",
            "Drift statistic of a column in the latest window (its method's scale).",
            "column",
            "method",
        )
        self.drift_detected = g(
            "driftline_drift_detected",
            "1 when the column drifted in the latest window, else 0.",
            "column",
        )
        self.embedding = g(
            "driftline_embedding_drift_score",
            "Statistic of each vector drift method on an embedding column in the latest window "
            "(its method's scale; docs/embeddings.md).",
            "column",
            "method",
        )
        self.dataset_drift = g(
            "driftline_dataset_drift_detected",
            "1 when the dataset drift rule fired in the latest window.",
        )
        self.multivariate = g(
            "driftline_multivariate_score",
            "Multivariate drift statistic of the latest window, by method (docs/drift.md).",
            "method",
        )
        self.multivariate_detected = g(
            "driftline_multivariate_drift_detected",
            "1 when the multivariate method flagged drift in the latest window, else 0.",
            "method",
        )
        self.outlier_share = g(
            "driftline_outlier_share",
            "Share of the latest window's events the outlier model flags (1% expected).",
        )
        self.seasonal = g(
            "driftline_seasonal_drift_detected",
            "1 when the latest window differs from the same window of past periods "
            "(seasonal reference), else 0.",
        )
        self.abuse = g(
            "driftline_abuse_signal",
            "1 when an abuse signal fired in the latest window (burst, boundary_probing, "
            "range_jump), else 0.",
            "signal",
            "column",
        )
        self.drift_run = g(
            "driftline_drift_run_windows",
            "Windows in a row, ending with the latest, in which the drift signal fired.",
            *PERSIST,
        )
        self.drift_shift = g(
            "driftline_drift_shift",
            "1 when the drift signal has fired for shift_windows windows in a row or more.",
            *PERSIST,
        )
        self.drift_spike = g(
            "driftline_drift_spike",
            "1 when a drift shorter than shift_windows windows ended in the latest window.",
            *PERSIST,
        )
        self.quality = g(
            "driftline_quality_value",
            "Value of a data-quality check (mostly ratios in 0..1).",
            "column",
            "check",
        )
        self.quality_failed = g(
            "driftline_quality_check_failed",
            "1 when the data-quality check failed in the latest window.",
            "column",
            "check",
        )
        self.missing = g(
            "driftline_missing_ratio",
            "Share of missing values of a column (versions without reference).",
            "column",
        )
        self.performance = g(
            "driftline_performance", "Prediction quality against labels received so far.", "metric"
        )
        self.performance_start = g(
            "driftline_performance_window_start_timestamp_seconds",
            "Start of the latest window with labels (the window driftline_performance is of).",
        )
        self.estimated = g(
            "driftline_estimated_performance",
            "Prediction quality estimated without labels (method cbpe or dle).",
            "metric",
            "method",
        )
        self.label_drift = g(
            "driftline_label_drift_score",
            "Drift statistic of the latest window's labels against the reference's target.",
            "column",
            "method",
        )
        self.label_drift_detected = g(
            "driftline_label_drift_detected",
            "1 when the labels drifted from the reference's target in the latest window, else 0.",
            "column",
        )
        self.review = g(
            "driftline_review_candidates",
            "Events of the latest window kept for review (the most anomalous flagged ones).",
        )
        self.feedback_rate = g(
            "driftline_feedback_rate",
            "Feedback records of a kind per served prediction in the latest window.",
            "kind",
        )
        self.feedback_share = g(
            "driftline_feedback_share",
            "Share of a feedback kind's records with a value in the latest window.",
            "kind",
            "value",
        )
        self.feedback_mean = g(
            "driftline_feedback_mean",
            "Mean of a feedback kind's numeric values in the latest window.",
            "kind",
        )
        self.kpi = g("driftline_kpi", "Mean of a user-defined KPI in the latest window.", "kpi")
        self.kpi_count = g(
            "driftline_kpi_count", "Values of a user-defined KPI in the latest window.", "kpi"
        )
        self.kpi_start = g(
            "driftline_kpi_window_start_timestamp_seconds",
            "Start of the window driftline_kpi is of: the latest with values of the KPI.",
            "kpi",
        )
        self.feedback_start = g(
            "driftline_feedback_window_start_timestamp_seconds",
            "Start of the window the feedback gauges of a kind are of: the latest with records.",
            "kind",
        )
        self.slices = g(
            "driftline_slices_significant",
            "Slices of the latest labelled window significantly worse than the rest "
            "(Benjamini-Hochberg across slices; 0 when none).",
        )
        self.slice_gap = g(
            "driftline_slice_loss_gap",
            "Loss of a significantly worse slice minus the overall loss (error rate or MAE); "
            "the worst 5 of the latest labelled window.",
            "slice",
        )
        self.slices_start = g(
            "driftline_slices_window_start_timestamp_seconds",
            "Start of the window the slice gauges are of: the latest with enough labels.",
        )
        self.shadow = g(
            "driftline_window_shadow_ratio",
            "Share of shadow (scored, not served) predictions in the latest window.",
        )
        self.unknown = g(
            "driftline_unknown_features",
            "Feature names the version's schema lacks, seen in the latest window.",
        )
        self.schema = g(
            "driftline_schema_violations",
            "1 when the column is missing, unexpected or changed type in the latest window.",
            "column",
        )
        self.environment = g(
            "driftline_environment_major_differences",
            "Packages (and Python) a major version apart between training and serving.",
        )
        self.coverage = g(
            "driftline_label_coverage_ratio",
            "Share of predictions in the latest window that have a label.",
        )
        self.events = g("driftline_window_events", "Prediction events in the latest window.")
        self.errors = g(
            "driftline_window_error_ratio", "Share of error predictions in the latest window."
        )
        self.latency = g(
            "driftline_window_latency_seconds",
            "Model latency in the latest window, by statistic (p50, p90, p95, p99, mean).",
            "quantile",
        )
        self.lag = g(
            "driftline_window_lag_seconds", "Seconds since the end of the latest evaluated window."
        )
        self.verdict = g(
            "driftline_version_verdict",
            "Challenger (version) against its champion: -1 worse, 0 no difference or "
            "undecided, 1 better (always-valid test; absent when not comparable or too few).",
            "champion",
        )
        self.versus = g(
            "driftline_version_difference",
            "Challenger minus champion on a guarded metric (accuracy, auc, mae, rmse).",
            "champion",
            "metric",
        )
        self.share_scored = g(
            "driftline_version_share_scored",
            "Share of the champion's labelled requests a shadow challenger also scored.",
            "champion",
        )
        self.llm = _LLMGauges(r)
        self.start = g(
            "driftline_window_start_timestamp_seconds", "Start of the latest evaluated window."
        )
        self.service = ServiceGauges(r)

    def add(self, p: dict[str, Any], now: float) -> None:
        v = p["value"]
        m, ver, col, metric = p["model"], p["version"], p["column"], p["metric"]
        if metric in PERSISTENT:
            self._persistence(p, PERSISTENT[metric])
        if metric == "events":
            end = p["window_start"] + p["window_size"]
            self.lag.labels(m, ver).set(max(0.0, now - end))
            self.start.labels(m, ver).set(p["window_start"])
        if v is None or not math.isfinite(v):
            return
        if metric == "drift_score":
            self.drift.labels(m, ver, col, p["method"]).set(v)
            if p["status"] in ("drift", "ok"):
                self.drift_detected.labels(m, ver, col).set(1.0 if p["status"] == "drift" else 0)
        elif metric == "embedding_drift":
            self.embedding.labels(m, ver, col, p["method"]).set(v)
        elif metric == "drift_detected":
            self.dataset_drift.labels(m, ver).set(v)
        elif metric == "multivariate_score":
            self.multivariate.labels(m, ver, p["method"]).set(v)
            if p["status"] in ("drift", "ok"):
                flag = 1.0 if p["status"] == "drift" else 0.0
                self.multivariate_detected.labels(m, ver, p["method"]).set(flag)
        elif metric == "outlier_share":
            self.outlier_share.labels(m, ver).set(v)
        elif metric == "seasonal_drift_detected":
            self.seasonal.labels(m, ver).set(v)
        elif metric.startswith("abuse."):
            signal = metric.removeprefix("abuse.")
            if signal == "range_jump" and p["method"]:
                signal = f"range_jump:{p['method']}"
            self.abuse.labels(m, ver, signal, col).set(v)
        elif metric.startswith("quality."):
            check = metric.removeprefix("quality.")
            self.quality.labels(m, ver, col, check).set(v)
            self.quality_failed.labels(m, ver, col, check).set(1.0 if p["status"] == "fail" else 0)
        elif metric == "missing_ratio":
            self.missing.labels(m, ver, col).set(v)
        elif metric.startswith("performance."):
            name = metric.removeprefix("performance.")
            if name in PERFORMANCE:
                self.performance.labels(m, ver, name).set(v)
                self.performance_start.labels(m, ver).set(p["window_start"])
        elif metric.startswith("estimated."):
            name = metric.removeprefix("estimated.")
            if name in PERFORMANCE:
                self.estimated.labels(m, ver, name, p["method"]).set(v)
        elif metric == "label_drift":
            self.label_drift.labels(m, ver, col, p["method"]).set(v)
            if p["status"] in ("drift", "ok"):
                flag = 1.0 if p["status"] == "drift" else 0.0
                self.label_drift_detected.labels(m, ver, col).set(flag)
        elif metric == "review.candidates":
            self.review.labels(m, ver).set(v)
        elif metric.startswith("feedback."):
            gauge = {"feedback.rate": self.feedback_rate, "feedback.mean": self.feedback_mean}
            if metric == "feedback.share":
                self.feedback_share.labels(m, ver, col, p["method"]).set(v)
            elif metric in gauge:
                gauge[metric].labels(m, ver, col).set(v)
            self.feedback_start.labels(m, ver, col).set(p["window_start"])
        elif metric.startswith("kpi."):
            name = metric.removeprefix("kpi.")
            self.kpi.labels(m, ver, name).set(v)
            self.kpi_count.labels(m, ver, name).set(float(p["n"] or 0))
            self.kpi_start.labels(m, ver, name).set(p["window_start"])
        elif metric == "slices.significant":
            self.slices.labels(m, ver).set(v)
            self.slices_start.labels(m, ver).set(p["window_start"])
            details = orjson.loads(p.get("details") or "{}")
            for sl in (details.get("slices") or [])[:MAX_SLICES]:
                if isinstance(sl.get("gap"), int | float):
                    self.slice_gap.labels(m, ver, str(sl.get("name"))[:120]).set(sl["gap"])
        elif metric == "shadow_ratio":
            self.shadow.labels(m, ver).set(v)
        elif metric == "unknown_features":
            self.unknown.labels(m, ver).set(v)
        elif metric == "schema_violations":
            self.schema.labels(m, ver, col).set(v)
        elif metric == "environment.major_differences":
            self.environment.labels(m, ver).set(v)
        elif metric == "label_coverage_ratio":
            self.coverage.labels(m, ver).set(v)
        elif metric == "events":
            self.events.labels(m, ver).set(v)
        elif metric == "error_ratio":
            self.errors.labels(m, ver).set(v)
        elif metric == "latency_seconds":
            self.latency.labels(m, ver, p["method"]).set(v)
        elif metric == "versus.verdict":
            self.verdict.labels(m, ver, col).set(v)
        elif metric == "versus.share_scored":
            self.share_scored.labels(m, ver, col).set(v)
        elif metric.startswith("versus."):
            self.versus.labels(m, ver, col, metric.removeprefix("versus.")).set(v)
        elif metric.startswith(("rag.", "llm.", "judge.")):
            self.llm.add(p, v)
        else:
            self.service.add(p, v)

    def _persistence(self, p: dict[str, Any], signal: str) -> None:
        try:
            details = orjson.loads(p.get("details") or "{}")
        except orjson.JSONDecodeError:
            return
        persistence = details.get("persistence") if isinstance(details, dict) else None
        if not isinstance(persistence, dict):
            return
        labels = (p["model"], p["version"], signal, p["column"] or "", p["method"] or "")
        kind = persistence.get("kind")
        self.drift_run.labels(*labels).set(float(persistence.get("run") or 0))
        self.drift_shift.labels(*labels).set(1.0 if kind == "shift" else 0.0)
        self.drift_spike.labels(*labels).set(1.0 if kind == "spike" else 0.0)


class _LLMGauges:
    """The LLM/RAG families (docs/llm.md, "Signals"): one gauge per family of points."""

    RATIOS: ClassVar[dict[str, tuple[str, str]]] = {
        "rag.high_similarity_ratio": ("rag", "high_similarity"),
        "rag.empty_retrieval_ratio": ("rag", "empty_retrieval"),
        "rag.citation_coverage": ("rag", "citation_coverage"),
        "llm.empty_answer_ratio": ("llm", "empty_answer"),
        "llm.refusal_ratio": ("llm", "refusal"),
        "llm.rephrase_ratio": ("llm", "rephrase"),
        "llm.abandon_ratio": ("llm", "abandon"),
        "llm.thumbs_down_ratio": ("llm", "thumbs_down"),
    }
    JUDGE_COUNTS: ClassVar[dict[str, str]] = {
        "judge.calls": "calls",
        "judge.failures": "failures",
        "judge.skipped": "skipped",
        "judge.prechecked": "prechecked",
        "judge.late": "late",
    }

    def __init__(self, r: CollectorRegistry) -> None:
        gauge = gauge_maker(r, *MV)
        self.similarity = gauge(
            "driftline_rag_similarity",
            "Retrieval similarity in the latest window: mean top-1 (top1_mean) and mean of "
            "the per-request top-k means (topk_mean).",
            "statistic",
        )
        self.rag_ratio = gauge(
            "driftline_rag_ratio",
            "Shares of the latest window's requests: high_similarity (at least one retrieval "
            "at or above the threshold, the SLO), empty_retrieval, citation_coverage.",
            "ratio",
        )
        self.llm_ratio = gauge(
            "driftline_llm_ratio",
            "Shares of the latest window: empty_answer, refusal, rephrase (requests), "
            "abandon (sessions); thumbs_down (of the thumbs given) of the latest window "
            "with thumbs on its requests.",
            "ratio",
        )
        self.thumbs_start = gauge(
            "driftline_llm_thumbs_window_start_timestamp_seconds",
            "Start of the window the exported thumbs_down ratio is of (the latest with thumbs: "
            "thumbs count in the window of the request they name).",
        )
        self.answer = gauge(
            "driftline_llm_answer_length",
            "Mean answer length in the latest window, in chars or words.",
            "unit",
        )
        self.tokens = gauge(
            "driftline_llm_tokens",
            "Tokens used in the latest window, by LLM model (llm_model='' is the total) "
            "and kind (prompt, completion).",
            "llm_model",
            "kind",
        )
        self.cost = gauge(
            "driftline_llm_cost",
            "Cost of the latest window's LLM tokens (priced models only; prices: in "
            "driftline.yaml).",
            "currency",
        )
        self.stage = gauge(
            "driftline_llm_stage_latency_seconds",
            "Mean seconds per stage of the latest window's LLM requests.",
            "stage",
        )
        self.judge_score = gauge(
            "driftline_judge_score",
            "Mean judge score in the latest window with scores of the criterion, by judge, "
            "criterion and judge version.",
            "judge",
            "criterion",
            "judge_version",
        )
        self.judge_results = gauge(
            "driftline_judge_results",
            "Judge outcomes on the requests of the latest window with results of the judge: "
            "calls, failures (errors, timeouts, invalid answers), skipped (budget, full "
            "queue, hung judge), prechecked (no call needed), late (recorded over "
            "judge_lateness_seconds after the request).",
            "judge",
            "status",
        )
        self.judge_start = gauge(
            "driftline_judge_window_start_timestamp_seconds",
            "Start of the window the judge's exported results are of (the latest with results "
            "of the judge: a result counts in the window of the request it judges).",
            "judge",
        )
        self.bad_input = gauge(
            "driftline_llm_bad_input",
            "LLM requests of the latest window with a value the SDK could not read, by reason.",
            "reason",
        )

    def add(self, p: dict[str, Any], v: float) -> None:
        m, ver, col, metric = p["model"], p["version"], p["column"], p["metric"]
        if metric == "rag.top1_similarity":
            self.similarity.labels(m, ver, "top1_mean").set(v)
        elif metric == "rag.topk_similarity":
            self.similarity.labels(m, ver, "topk_mean").set(v)
        elif metric in self.RATIOS:
            family, name = self.RATIOS[metric]
            (self.rag_ratio if family == "rag" else self.llm_ratio).labels(m, ver, name).set(v)
            if metric == "llm.thumbs_down_ratio":
                self.thumbs_start.labels(m, ver).set(p["window_start"])
        elif metric in ("llm.answer_chars", "llm.answer_words"):
            self.answer.labels(m, ver, metric.removeprefix("llm.answer_")).set(v)
        elif metric in ("llm.prompt_tokens", "llm.completion_tokens"):
            kind = metric.removeprefix("llm.").removesuffix("_tokens")
            self.tokens.labels(m, ver, col, kind).set(v)
        elif metric == "llm.cost":
            self.cost.labels(m, ver, p["method"] or "USD").set(v)
        elif metric == "llm.stage_latency_seconds":
            self.stage.labels(m, ver, p["method"]).set(v)
        elif metric == "judge.score":
            judge, _, criterion = col.partition(":")
            self.judge_score.labels(m, ver, judge, criterion, p["method"]).set(v)
        elif metric in self.JUDGE_COUNTS:
            self.judge_results.labels(m, ver, col, self.JUDGE_COUNTS[metric]).set(v)
            if metric == "judge.calls":
                self.judge_start.labels(m, ver, col).set(p["window_start"])
        elif metric == "llm.bad_input":
            self.bad_input.labels(m, ver, col).set(v)
