"""The input of the alert engine: one :class:`MetricPoint` per metric, series and window.

The collector's evaluator writes these when a window closes (docs/alerts.md
lists the metric names the presets and SLOs rely on). Times are epoch seconds
(UTC), like the collector's store.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from driftline.errors import InputError

#: Segment name of "all traffic" (the collector's convention); others are "key=value".
ALL_SEGMENTS = "*"

#: Metric names that driftline's presets, SLOs and scenarios rely on, with their meaning.
METRICS: Mapping[str, str] = MappingProxyType(
    {
        "drift_score": "effect size of the column's drift method (column set)",
        "drift_detected": "1 when the column's drift verdict is 'drifted', else 0 (column set)",
        "multivariate_drift_detected": "1 when a multivariate method (labels['method']) "
        "flagged the window, else 0",
        "outlier_share": "share of the window's requests the outlier model flags (1% expected)",
        "seasonal_drift_detected": "1 when the window differs from the same window of past "
        "periods (seasonal reference), else 0",
        "abuse.burst": "1 when one client sent a burst of near-identical requests in the window",
        "abuse.boundary_probing": "1 when many of the column's values sit at the edges of the "
        "reference range (column set)",
        "abuse.range_jump": "1 when the column's share of out-of-range values or unseen "
        "categories jumped against its previous windows (column set)",
        "drift_shift": "1 while the drift flag labels['signal'] has fired shift_windows windows "
        "in a row or more, else 0",
        "drift_spike": "1 in the window where a drift of the flag labels['signal'] shorter than "
        "shift_windows windows ended, else 0",
        "missing_ratio": "share of missing values in the window, 0..1 (column set)",
        "schema_violations": "columns missing, unexpected or with a changed type in the window",
        "confidence_mean": "mean top-class probability (or score) of the window's predictions",
        "accuracy": "accuracy of the window's labelled predictions, 0..1",
        "label_coverage": "share of the window's predictions that have a label, 0..1",
        "error_rate": "failed predictions / all predictions in the window, 0..1",
        "error_count": "failed predictions in the window",
        "request_count": "predictions served in the window",
        "latency_p50_seconds": "median prediction latency in the window",
        "latency_p90_seconds": "90th percentile of the prediction latency in the window",
        "latency_p95_seconds": "95th percentile of the prediction latency in the window",
        "latency_p99_seconds": "99th percentile of the prediction latency in the window",
        "latency_bucket": "predictions served within labels['le'] seconds (cumulative)",
        "job_status": "0 the job run succeeded, 1 it failed, 2 it is late (labels['job'])",
        "rag.high_similarity_ratio": "share of RAG requests with a retrieval at or above the "
        "high-similarity threshold (docs/llm.md)",
        "llm.answer_chars": "mean answer length in characters of the window's LLM requests",
        "llm.rephrase_ratio": "share of session requests that rephrase an earlier question",
        "judge.score": "mean score of an LLM judge (column judge:criterion)",
        "judge.failures": "judge calls that failed, timed out or answered garbage (column judge)",
        "judge.skipped": "sampled requests a judge skipped: budget, full queue (column judge)",
        "stage_latency_p99_seconds": "99th percentile latency of one stage (column = stage)",
        "resource_rss_growth_bytes_per_hour": "growth of the model processes' resident memory",
        "stage_unclosed": "stages left open by an exception or a missing end() in the window",
        "input_violation_ratio": "share of Monitor.check() calls that found a violation",
        "cost_burn_rate": "the window's cost per day over the model's daily budget",
        "environment.major_differences": "packages (and Python) of the serving environment a "
        "major version away from the training one (docs/versions.md)",
        "versus.verdict": "a challenger against its champion (column): -1 worse, 0 equivalent "
        "or undecided, 1 better (docs/versions.md)",
        "job_metric": "a number a job run reported (column = its name; labels['job'])",
        "job_since_success_intervals": "time since the job's last success / its expected "
        "interval (the dead-man signal; labels['job'])",
        "job_freshness_seconds": "age of the newest input the job's runs reported (labels['job'])",
        "stream_consumer_lag": "messages on the broker the collector's stream consumer has not "
        "read or acknowledged yet: the largest reading of the base window (labels['consumer'])",
        "label_drift_detected": "1 when the window's labels drifted from the reference's "
        "target, else 0",
        "slices.significant": "slices of the window's labelled predictions significantly "
        "worse than the rest (FDR-controlled; 0 when none)",
        "feedback.rate": "feedback records of a kind (column) per served prediction",
        "feedback.share": "share of a kind's (column) feedback with a value (labels['value'])",
        "feedback.mean": "mean of a kind's (column) numeric feedback values",
        "performance.roc_auc": "ROC AUC of the window's labelled predictions from their scores",
        "performance.ece": "expected calibration error of the window's scores (15 bins)",
    }
)


@dataclass(frozen=True, slots=True)
class MetricPoint:
    """One value of one metric for one (model, version, segment, column) and window.

    ``column`` is ``""`` for metrics of the whole model; ``segment`` is
    :data:`ALL_SEGMENTS` for all traffic. ``labels`` carries extra dimensions
    with small value sets (``job`` for job_status, ``le`` for latency_bucket,
    ``method`` for drift_score); it is read-only.

    Statistics computed on a sample (performance, estimated and quality
    metrics, accuracy, confidence) carry ``n``, the rows they were computed
    from, and ``stderr``, their standard error (None when unknown). Rules ask
    for a minimum ``n`` and compare the threshold with ``value ± z * stderr``
    (docs/alerts.md, "Sample size and uncertainty"); counts, rates of the
    service and latency leave both None.
    """

    model: str
    version: str
    segment: str
    metric: str
    column: str
    window_start: float
    window_end: float
    value: float
    labels: Mapping[str, str] = field(default_factory=dict, hash=False)
    n: int | None = None
    stderr: float | None = None

    def __post_init__(self) -> None:
        if not self.metric:
            raise InputError("MetricPoint: metric must be a non-empty name")
        if not self.window_end > self.window_start:
            raise InputError(
                f"MetricPoint {self.metric}: window_end ({self.window_end}) must be after "
                f"window_start ({self.window_start})"
            )
        if not isinstance(self.value, int | float) or math.isinf(self.value):
            raise InputError(
                f"MetricPoint {self.metric}: value must be a finite number or NaN, "
                f"got {self.value!r}"
            )
        if self.n is not None and (isinstance(self.n, bool) or self.n < 0):
            raise InputError(f"MetricPoint {self.metric}: n must be a count >= 0, got {self.n!r}")
        if self.stderr is not None and not (
            isinstance(self.stderr, int | float) and self.stderr >= 0
        ):
            raise InputError(
                f"MetricPoint {self.metric}: stderr must be a number >= 0, got {self.stderr!r}"
            )
        object.__setattr__(self, "value", float(self.value))
        object.__setattr__(self, "labels", MappingProxyType(dict(self.labels)))

    @property
    def window_seconds(self) -> float:
        """Length of the window in seconds."""
        return self.window_end - self.window_start

    def series_labels(self) -> dict[str, str]:
        """The labels naming this point's series (empty dimensions left out)."""
        out = {"model": self.model, "version": self.version, "segment": self.segment}
        if self.column:
            out["column"] = self.column
        out.update(self.labels)
        return out
