"""Every signal driftline computes, and where a person meets it.

The rule of issue 16: a signal the collector computes is on the dashboard,
exported to Prometheus, usable in an alert rule and documented; one that is
not should not be computed. :data:`SIGNALS` lists each kind of signal once:

- ``kind``: the stored metric point name (a trailing ``.`` is a family of
  names: ``performance.`` covers ``performance.roc_auc``), or ``job_run`` for
  what the collector derives from job runs;
- ``families``: the ``/metrics`` families (``driftline_`` names) it is exported as;
- ``alert``: the alert engine's metric name(s) a rule uses (docs/alerts.md);
- ``page``: the dashboard page showing it (``model``, ``jobs``, ``compare``),
  where an element carries ``data-signal="<kind>"``.

tests/dashboard/test_demo.py walks the live demo's collector and checks,
for every metric name in its store, that a signal here covers it, that the
family is in ``/metrics``, that the page shows the element and that a rule on
the alert metric fires. A new signal without an entry fails that test.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Feedback kinds starting with this are KPIs: ``POST /v1/kpis`` stores a KPI ``name`` as
#: the feedback kind ``kpi:<name>`` (the feedback table holds both).
KPI_PREFIX = "kpi:"


@dataclass(frozen=True)
class Signal:
    kind: str
    #: The /metrics families (several for a family of names such as ``llm.``).
    families: tuple[str, ...]
    alert: tuple[str, ...]
    page: str
    doc: str

    @property
    def family(self) -> str:
        return self.families[0]

    def covers(self, metric: str) -> bool:
        """True when stored metric name ``metric`` is of this kind."""
        prefix = self.kind.endswith((".", "_"))
        return metric.startswith(self.kind) if prefix else metric == self.kind


def _s(
    kind: str,
    family: str | tuple[str, ...],
    alert: str | tuple[str, ...],
    page: str,
    doc: str,
) -> Signal:
    families = (family,) if isinstance(family, str) else family
    return Signal(kind, families, (alert,) if isinstance(alert, str) else alert, page, doc)


SIGNALS: tuple[Signal, ...] = (
    _s("events", "driftline_window_events", "request_count", "model",
       "predictions served in the window"),
    _s("error_ratio", "driftline_window_error_ratio", ("error_rate", "error_count"), "model",
       "failed predictions / predictions"),
    _s("shadow_ratio", "driftline_window_shadow_ratio", "shadow_ratio", "model",
       "shadow (not served) predictions / predictions"),
    _s("latency_seconds", "driftline_window_latency_seconds",
       ("latency_p50_seconds", "latency_p90_seconds", "latency_p95_seconds",
        "latency_p99_seconds"), "model", "latency p50/p90/p95/p99 and mean"),
    _s("unknown_features", "driftline_unknown_features", "unknown_features", "model",
       "feature names the version's schema lacks"),
    _s("drift_score", "driftline_drift_score", ("drift_score", "drift_detected"), "model",
       "drift statistic and verdict per column"),
    _s("embedding_drift", "driftline_embedding_drift_score", "embedding_drift", "model",
       "each vector drift method's statistic per embedding column (docs/embeddings.md)"),
    _s("drift_detected", "driftline_dataset_drift_detected", "dataset_drift_detected", "model",
       "the dataset drift rule's verdict"),
    _s("seasonal_drift_detected", "driftline_seasonal_drift_detected",
       "seasonal_drift_detected", "model",
       "drift against the same window of past periods (windows.seasonal_period)"),
    _s("abuse.", "driftline_abuse_signal", "abuse.", "model",
       "abuse: bursts of near-identical requests, boundary probing, range jumps"),
    _s("multivariate_score", "driftline_multivariate_score",
       ("multivariate_score", "multivariate_drift_detected"), "model",
       "multivariate drift per method"),
    _s("outlier_share", "driftline_outlier_share", "outlier_share", "model",
       "share of requests the outlier model flags"),
    _s("schema_violations", "driftline_schema_violations", "schema_violations", "model",
       "columns missing, unexpected or with a changed type"),
    _s("quality.", "driftline_quality_value", "quality.", "model", "data-quality checks"),
    _s("missing_ratio", "driftline_missing_ratio", "missing_ratio", "model",
       "missing share per column (versions without a reference)"),
    _s("label_coverage_ratio", "driftline_label_coverage_ratio", "label_coverage", "model",
       "share of predictions with a label"),
    _s("performance.", "driftline_performance", ("accuracy", "performance."), "model",
       "realized quality from labels (ROC AUC, PR AUC, log loss, Brier, ECE from scores)"),
    _s("estimated.", "driftline_estimated_performance", "estimated.", "model",
       "quality estimated without labels (CBPE, DLE)"),
    _s("label_drift", "driftline_label_drift_score", ("label_drift", "label_drift_detected"),
       "model", "the window's labels against the reference's target"),
    _s("slices.significant", ("driftline_slices_significant", "driftline_slice_loss_gap"),
       "slices.significant", "model",
       "worst slices of the labelled predictions (FDR-controlled; windows/slices.py)"),
    _s("feedback.rate", "driftline_feedback_rate", "feedback.rate", "model",
       "feedback records of a kind / predictions"),
    _s("feedback.share", "driftline_feedback_share", "feedback.share", "model",
       "share of a kind's feedback with each value"),
    _s("feedback.mean", "driftline_feedback_mean", "feedback.mean", "model",
       "mean of a kind's numeric feedback values"),
    _s("kpi.", "driftline_kpi", "kpi.", "model", "user-defined KPIs: mean per window"),
    _s("versus.", "driftline_version_verdict", "versus.", "compare",
       "challenger against champion"),
    _s("environment.", "driftline_environment_major_differences", "environment.", "compare",
       "training vs serving packages a major version apart"),
    _s("rag.", ("driftline_rag_similarity", "driftline_rag_ratio"), "rag.", "model",
       "retrieval quality of RAG requests (docs/llm.md)"),
    _s("llm.", ("driftline_llm_ratio", "driftline_llm_answer_length", "driftline_llm_tokens",
                "driftline_llm_cost", "driftline_llm_stage_latency_seconds",
                "driftline_llm_bad_input"), "llm.", "model",
       "LLM answers: length, tokens, cost, stages, user behaviour (docs/llm.md)"),
    _s("judge.", ("driftline_judge_score", "driftline_judge_results"), "judge.", "model",
       "LLM judges: scores, failures, skipped (docs/llm.md)"),
    _s("resource_cpu_seconds", "driftline_window_cpu_seconds", "resource_cpu_seconds", "model",
       "CPU seconds of the model's processes in the window (docs/service.md)"),
    _s("resource_rss_bytes", "driftline_window_resident_memory_bytes",
       ("resource_rss_bytes", "resource_rss_growth_bytes_per_hour"), "model",
       "resident memory of the model's processes"),
    _s("resource_gpu_seconds", "driftline_window_gpu_seconds", "resource_gpu_seconds", "model",
       "GPU seconds of the model's processes"),
    _s("error_group", "driftline_window_error_groups", "error_group", "model",
       "failed predictions grouped by error type and stack fingerprint"),
    _s("review.candidates", "driftline_review_candidates", "review.candidates", "model",
       "the window's most anomalous flagged events, kept for review (/ui/review)"),
    _s("stage_", ("driftline_window_stage_latency_seconds", "driftline_window_stage_error_ratio",
                  "driftline_window_stage_time_share_ratio", "driftline_window_stages_unclosed"),
       "stage_", "model",
       "stages within a prediction: latency, errors, time share (docs/service.md)"),
    _s("resource_", ("driftline_window_cpu_seconds", "driftline_window_resident_memory_bytes",
                     "driftline_window_gpu_seconds", "driftline_window_gpu_memory_bytes",
                     "driftline_window_gpu_utilization_ratio"), "resource_", "model",
       "resources of the model's processes"),
    _s("input_", ("driftline_window_input_violation_ratio", "driftline_window_input_violations"),
       "input_", "model", "Monitor.check() calls and contract violations"),
    _s("cost_", ("driftline_window_cost_per_1k_predictions", "driftline_cost_burn_rate"),
       ("cost_",), "model", "cost per 1,000 predictions and the daily budget's burn rate"),
    _s("cost", ("driftline_window_cost", "driftline_window_cost_per_1k_predictions",
                "driftline_cost_burn_rate"), ("cost_",), "model", "cost of the predictions"),
    _s("error_groups_other", "driftline_window_error_groups", "error_groups_other", "model",
       "error groups past the window's limit"),
    _s("job_run", "driftline_job_status", ("job_status", "job_metric", "job_freshness_seconds",
       "job_since_success_intervals"), "jobs",
       "job runs: status, custom metrics, freshness, dead-man"),
    _s("stream_consumer_lag", "driftline_stream_consumer_lag_messages", "stream_consumer_lag",
       "jobs", "messages the stream consumer has not read or acknowledged, largest per window"),
)  # fmt: skip


def signal_of(metric: str) -> Signal | None:
    """The signal a stored metric name belongs to (the most specific entry)."""
    best: Signal | None = None
    for s in SIGNALS:
        if s.covers(metric) and (best is None or len(s.kind) > len(best.kind)):
            best = s
    return best


#: Names of the engine's metrics and stored signals that are not families (prefixes).
def _builtin_names() -> frozenset[str]:
    names: set[str] = set()
    for s in SIGNALS:
        for n in (s.kind, *s.alert):
            names.add(n.rstrip("."))
    from driftline.stats.performance import CLASSIFICATION_METRICS, REGRESSION_METRICS

    names.update(CLASSIFICATION_METRICS, REGRESSION_METRICS)
    names.update(("confidence_mean", "latency_bucket", "dataset_drift_detected", "job"))
    return frozenset(names)


def builtin_clash(name: str) -> str | None:
    """The built-in signal ``name`` (a KPI's name) would be confused with, if any.

    Case and ``-``/``_`` are ignored (``Accuracy``, ``error-rate`` clash too), and a
    name may not start with a signal family's prefix (``performance.x``).
    """
    key = name.lower().replace("-", "_")
    builtins = _builtin_names()
    if key in builtins:
        return key
    for s in SIGNALS:
        for n in (s.kind, *s.alert):
            if n.endswith(".") and key.startswith(n):
                return n + "*"
    return None


__all__ = ["KPI_PREFIX", "SIGNALS", "Signal", "builtin_clash", "signal_of"]
