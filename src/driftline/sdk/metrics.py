"""Prometheus metrics of a model service, with pre-bound children for the hot path.

One :class:`ModelMetrics` exists per registry (prometheus_client refuses two
families with one name), shared by every Monitor that uses that registry.
Label values come from small fixed sets: model, version, outcome, a capped set
of error types, classes and feature names (values past the cap become
``__other__``), never ids or raw values. Every Gauge names its
``multiprocess_mode`` so the families work under gunicorn/uvicorn workers.
"""

from __future__ import annotations

import math
import threading
from bisect import bisect_left
from collections import Counter as CounterType
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from driftline._utils.metrics import (
    JOB_BUCKETS,
    LATENCY_BUCKETS,
    SCORE_BUCKETS,
    shared_families,
)
from driftline.sdk.errors import SDKConfigError

INFO_LABELS = ("model", "version", "task", "framework", "owner")
OTHER = "__other__"


class LabelGuard:
    """Maps label values to themselves up to ``limit`` distinct ones, then to ``__other__``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._seen: dict[str, str] = {}

    def __call__(self, value: object) -> str:
        text = str(value)
        known = self._seen.get(text)
        if known is not None:
            return known
        mapped = text if len(self._seen) < self.limit else OTHER
        if mapped != OTHER:
            self._seen[text] = mapped
        return mapped


class ModelMetrics:
    """The metric families of model serving, SDK health, jobs and process resources."""

    def __init__(
        self,
        registry: CollectorRegistry,
        latency_buckets: Sequence[float] = LATENCY_BUCKETS,
        score_buckets: Sequence[float] = SCORE_BUCKETS,
    ) -> None:
        self.latency_buckets = tuple(latency_buckets)
        self.score_buckets = tuple(score_buckets)
        mv = ("model", "version")
        r = registry
        self.predictions = Counter(
            "driftline_predictions", "Predictions served, by outcome (ok|error).",
            (*mv, "outcome"), registry=r,
        )  # fmt: skip
        self.errors = Counter(
            "driftline_prediction_errors", "Failed predictions by exception type.",
            (*mv, "error_type"), registry=r,
        )  # fmt: skip
        self.latency = Histogram(
            "driftline_prediction_latency_seconds", "Time to serve one prediction.",
            mv, buckets=self.latency_buckets, registry=r,
        )  # fmt: skip
        self.in_flight = Gauge(
            "driftline_predictions_in_flight", "Predictions being computed right now.",
            mv, multiprocess_mode="livesum", registry=r,
        )  # fmt: skip
        self.classes = Counter(
            "driftline_predicted_class", "Predictions by predicted class (capped set).",
            (*mv, "class"), registry=r,
        )  # fmt: skip
        self.scores = Histogram(
            "driftline_prediction_score",
            "Prediction score: the top class probability, or the score itself.",
            mv, buckets=self.score_buckets, registry=r,
        )  # fmt: skip
        self.missing = Counter(
            "driftline_input_missing", "Input features that were missing (None or NaN).",
            (*mv, "feature"), registry=r,
        )  # fmt: skip
        self.info = Gauge(
            "driftline_model_info", "Model metadata; the value is always 1.",
            INFO_LABELS, multiprocess_mode="max", registry=r,
        )  # fmt: skip
        self.shadow_skipped = Counter(
            "driftline_shadow_skipped", "Shadow predictions skipped because the pool was full.",
            mv, registry=r,
        )  # fmt: skip
        self.shadow_started = Counter(
            "driftline_shadow_started", "Shadow predictions started (scored or failed).",
            mv, registry=r,
        )  # fmt: skip
        # SDK health
        self.dropped = Counter(
            "driftline_sdk_events_dropped",
            "Events the SDK had to drop, by reason (queue_full, spool_full, rejected, "
            "shutdown, closed, encode_error).",
            ("model", "reason"), registry=r,
        )  # fmt: skip
        self.sent = Counter(
            "driftline_sdk_events_sent", "Events accepted by the sink, by kind.",
            ("model", "kind"), registry=r,
        )  # fmt: skip
        self.spooled = Counter(
            "driftline_sdk_events_spooled", "Events written to the spool while the sink was away.",
            ("model",), registry=r,
        )  # fmt: skip
        self.spool_bytes = Gauge(
            "driftline_sdk_spool_bytes", "Bytes waiting in the spool.",
            ("model",), multiprocess_mode="livesum", registry=r,
        )  # fmt: skip
        self.queue_events = Gauge(
            "driftline_sdk_queue_events", "Events waiting in the in-memory queue.",
            ("model",), multiprocess_mode="livesum", registry=r,
        )  # fmt: skip
        self.send_failures = Counter(
            "driftline_sdk_send_failures", "Failed delivery attempts (each is retried later).",
            ("model",), registry=r,
        )  # fmt: skip
        self.internal_errors = Counter(
            "driftline_sdk_internal_errors", "Bugs caught inside the SDK (logged, not raised).",
            ("model",), registry=r,
        )  # fmt: skip
        self.outlier_scores = Counter(
            "driftline_sdk_outlier_scores",
            "Prediction events by whether the SDK put the collector's outlier score on them "
            "(Monitor(score_outliers=True)): scored, unscored (no model yet or none).",
            ("model", "result"), registry=r,
        )  # fmt: skip
        # pipeline jobs
        self.job_runs = Counter(
            "driftline_job_runs", "Pipeline job runs by final status.", ("job", "status"),
            registry=r,
        )  # fmt: skip
        self.job_duration = Histogram(
            "driftline_job_duration_seconds", "Pipeline job run time.", ("job",),
            buckets=JOB_BUCKETS, registry=r,
        )  # fmt: skip
        self.job_last_success = Gauge(
            "driftline_job_last_success_timestamp_seconds",
            "Unix time of the last successful run.", ("job",),
            multiprocess_mode="max", registry=r,
        )  # fmt: skip
        self.job_rows = Counter(
            "driftline_job_rows", "Rows read (in) and written (out) by job runs.",
            ("job", "direction"), registry=r,
        )  # fmt: skip
        # process resources (sampled on the background thread)
        self.cpu = Counter(
            "driftline_process_cpu_seconds", "CPU time used by the process.", registry=r
        )
        self.rss = Gauge(
            "driftline_process_resident_memory_bytes", "Resident memory of the process.",
            multiprocess_mode="livesum", registry=r,
        )  # fmt: skip
        self.gpu_utilization = Gauge(
            "driftline_gpu_utilization_ratio", "GPU busy ratio (0..1) from NVML.", ("gpu",),
            multiprocess_mode="max", registry=r,
        )  # fmt: skip
        self.gpu_memory = Gauge(
            "driftline_gpu_memory_used_bytes", "GPU memory in use, from NVML.", ("gpu",),
            multiprocess_mode="max", registry=r,
        )  # fmt: skip
        # per model: stages, resources, input checks (docs/sdk.md)
        self.stage_latency = Histogram(
            "driftline_stage_latency_seconds",
            "Time spent in one stage of a prediction (capped set of stage names).",
            (*mv, "stage"), buckets=self.latency_buckets, registry=r,
        )  # fmt: skip
        self.stage_errors = Counter(
            "driftline_stage_errors", "Stages that raised, by stage (capped set of names).",
            (*mv, "stage"), registry=r,
        )  # fmt: skip
        self.stage_problems = Counter(
            "driftline_sdk_stage_problems",
            "Stage misuse handled by the SDK: renamed, unclosed, late, too_many, outside.",
            ("model", "problem"), registry=r,
        )  # fmt: skip
        self.model_cpu = Counter(
            "driftline_model_cpu_seconds",
            "Process CPU time attributed to a model version (by its share of busy time).",
            mv, registry=r,
        )  # fmt: skip
        self.model_rss = Gauge(
            "driftline_model_resident_memory_bytes",
            "Resident memory of the process serving the model.",
            ("model",), multiprocess_mode="livesum", registry=r,
        )  # fmt: skip
        self.model_gpu_utilization = Gauge(
            "driftline_model_gpu_utilization_ratio",
            "GPU busy ratio (0..1) seen by the process serving the model, from NVML.",
            ("model", "gpu"), multiprocess_mode="max", registry=r,
        )  # fmt: skip
        self.model_gpu_memory = Gauge(
            "driftline_model_gpu_memory_used_bytes",
            "GPU memory in use on the model's GPU, from NVML.",
            ("model", "gpu"), multiprocess_mode="max", registry=r,
        )  # fmt: skip
        self.resource_errors = Counter(
            "driftline_sdk_resource_errors",
            "Resource samples that failed, by source (nvml, proc).",
            ("model", "source"), registry=r,
        )  # fmt: skip
        self.checks = Counter(
            "driftline_input_checks", "Inputs checked with Monitor.check(), by outcome.",
            (*mv, "outcome"), registry=r,
        )  # fmt: skip
        self.violations = Counter(
            "driftline_input_violations",
            "Contract violations found by Monitor.check(), by kind.",
            (*mv, "kind"), registry=r,
        )  # fmt: skip


def model_metrics(
    registry: CollectorRegistry | None,
    latency_buckets: Sequence[float] = LATENCY_BUCKETS,
    score_buckets: Sequence[float] = SCORE_BUCKETS,
) -> ModelMetrics:
    """The shared :class:`ModelMetrics` of ``registry`` (default: the global registry)."""
    reg = REGISTRY if registry is None else registry
    m = shared_families(reg, "model", lambda: ModelMetrics(reg, latency_buckets, score_buckets))
    if m.latency_buckets != tuple(latency_buckets) or m.score_buckets != tuple(score_buckets):
        raise SDKConfigError(
            "this registry already has driftline metrics with other buckets "
            f"(latency {m.latency_buckets}, score {m.score_buckets}); use the same buckets "
            "for every Monitor of one registry, or give each its own registry"
        )
    return m


class HistogramTally:
    """Observations gathered on the shipper thread, added to a Histogram child in one go.

    Uses the child's bucket values directly (one lock per touched bucket per
    batch instead of two per observation); falls back to ``observe`` if the
    prometheus_client internals ever change shape.
    """

    def __init__(self, child: Any) -> None:
        self._child = child
        bounds = getattr(child, "_upper_bounds", None)
        buckets = getattr(child, "_buckets", None)
        total = getattr(child, "_sum", None)
        self._fast = not (
            bounds is None or buckets is None or total is None or len(bounds) != len(buckets)
        )
        self._bounds: list[float] = list(bounds) if self._fast and bounds is not None else []
        self._incs = [b.inc for b in buckets] if self._fast and buckets is not None else []
        self._sum_inc = total.inc if self._fast and total is not None else None
        self._counts = [0] * len(self._bounds)
        self._total = 0.0
        self._dirty = False

    def add(self, value: float) -> None:
        if not self._fast:
            self._child.observe(value)
            return
        i = bisect_left(self._bounds, value)
        self._counts[i if i < len(self._counts) else -1] += 1
        self._total += value
        self._dirty = True

    def add_many(self, values: list[float]) -> None:
        """Tally a list of observations (vectorised for long lists)."""
        if not values:
            return
        if not self._fast or len(values) < 16:
            for value in values:
                self.add(value)
            return
        import numpy as np  # only for long batches: `import driftline.sdk` does not load numpy

        array = np.asarray(values, dtype=float)
        index = np.minimum(np.searchsorted(self._bounds, array, side="left"), len(self._counts) - 1)
        for i, count in enumerate(np.bincount(index, minlength=len(self._counts)).tolist()):
            self._counts[i] += count
        self._total += math.fsum(values)
        self._dirty = True

    def publish(self) -> None:
        if not self._dirty or self._sum_inc is None:
            return
        counts = self._counts
        for i, count in enumerate(counts):
            if count:
                self._incs[i](count)
                counts[i] = 0
        self._sum_inc(self._total)
        self._total = 0.0
        self._dirty = False


class CounterTally:
    """Counts per label value gathered on the shipper thread, published per batch."""

    def __init__(self, child_for: Callable[[str], Any], guard: LabelGuard) -> None:
        self._child_for = child_for
        self._guard = guard
        self._children: dict[object, Any] = {}
        self._counts: dict[object, int] = {}

    def add(self, key: object) -> None:
        counts = self._counts
        counts[key] = counts.get(key, 0) + 1

    def add_many(self, keys: list[Any]) -> None:
        counts = self._counts
        for key, count in CounterType(keys).items():
            counts[key] = counts.get(key, 0) + count

    def init(self, keys: Iterable[object]) -> None:
        """Create the children of ``keys`` (at 0) not created yet."""
        for key in keys:
            if key not in self._children:
                self._children[key] = self._child_for(self._guard(key))

    def publish(self) -> None:
        if not self._counts:
            return
        for key, count in self._counts.items():
            child = self._children.get(key)
            if child is None:
                child = self._children[key] = self._child_for(self._guard(key))
            child.inc(count)
        self._counts.clear()


def _multiprocess_mode() -> bool:
    from prometheus_client import values

    return bool(getattr(values.ValueClass, "_multiprocess", False))


class BoundMetrics:
    """Children of :class:`ModelMetrics` bound to one (model, version).

    The request path touches only ``active`` (a deque whose length is the
    in-flight count: append and pop are atomic and cost tens of nanoseconds).
    Everything else is tallied by the shipper thread from the queued
    observations and published once per batch (:meth:`publish`), so counters
    and histograms lag the requests by at most one flush interval.
    """

    def __init__(
        self, families: ModelMetrics, model: str, version: str, *, max_label_values: int = 50
    ) -> None:
        self.families = families
        self.model = model
        self.version = version
        self.ok = families.predictions.labels(model, version, "ok")
        self.error = families.predictions.labels(model, version, "error")
        self.latency = families.latency.labels(model, version)
        self.in_flight = families.in_flight.labels(model, version)
        self.scores = families.scores.labels(model, version)
        self.shadow_skipped = families.shadow_skipped.labels(model, version)
        self.shadow_started = families.shadow_started.labels(model, version)
        self.active: deque[None] = deque()
        self._live_in_flight = not _multiprocess_mode()
        if self._live_in_flight:
            active = self.active
            self.in_flight.set_function(lambda: len(active))
        self._lock = threading.Lock()
        self._latency = HistogramTally(self.latency)
        self._scores = HistogramTally(self.scores)
        mv = (model, version)
        self._errors = CounterTally(
            lambda label: families.errors.labels(*mv, label), LabelGuard(max_label_values)
        )
        self._classes = CounterTally(
            lambda label: families.classes.labels(*mv, label), LabelGuard(max_label_values)
        )
        self._missing = CounterTally(
            lambda label: families.missing.labels(*mv, label), LabelGuard(max_label_values)
        )
        # Appended to by the shipper thread only (plain list appends: cheap per event);
        # turned into metric updates once per batch by publish().
        self.latencies: list[float] = []
        self.error_types: list[str] = []
        self.classes: list[object] = []
        self.top_scores: list[float] = []
        self.missing: list[str] = []
        self.features_seen = -1
        #: (stage name as sent, seconds, failed) of each finished stage
        self.stages: list[tuple[str, float, bool]] = []
        self._stage_guard = LabelGuard(max_label_values)
        self._stage_tallies: dict[str, HistogramTally] = {}
        #: seconds of predictions served since the last resource sample (CPU attribution)
        self.busy = 0.0

    # -- shipper thread ----------------------------------------------------------
    def tally(self, status: str, latency: float, error_type: str | None) -> None:
        """Count one finished prediction (published at the next :meth:`publish`)."""
        self.latencies.append(latency)
        if status != "ok":
            self.error_types.append(error_type or "Exception")

    def count_missing(self, feature: str) -> None:
        self.missing.append(feature)

    def init_missing(self, names: Iterable[str], rename: Callable[[str], str]) -> None:
        """Create the missing-input series of ``names`` at 0 (Prometheus convention: series
        exist from the start, so a dashboard shows 0% missing rather than no data)."""
        names = list(names)
        self.features_seen = len(names)
        self._missing.init(rename(n) for n in names)

    def count_output(self, prediction: object, scores: object) -> None:
        """Class counter and score histogram for one prediction."""
        kind = type(prediction)
        if (
            kind is not str
            and kind is not int
            and kind is not bool
            and hasattr(prediction, "item")
            and not hasattr(prediction, "__len__")
        ):
            prediction = prediction.item()
            kind = type(prediction)
        if kind is str or kind is int or kind is bool:
            self.classes.append(prediction)
        top = top_score(scores)
        if top is not None:
            self.top_scores.append(top)

    def publish(self) -> None:
        """Add everything tallied since the last call to the Prometheus children."""
        with self._lock:
            latencies, self.latencies = self.latencies, []
            errors, self.error_types = self.error_types, []
            classes, self.classes = self.classes, []
            scores, self.top_scores = self.top_scores, []
            missing, self.missing = self.missing, []
            stages, self.stages = self.stages, []
            ok = len(latencies) - len(errors)
            if ok:
                self.ok.inc(ok)
            if errors:
                self.error.inc(len(errors))
                self._errors.add_many(errors)
                self._errors.publish()
            self._latency.add_many(latencies)
            self._latency.publish()
            self._scores.add_many(scores)
            self._scores.publish()
            self._classes.add_many(classes)
            self._classes.publish()
            self._missing.add_many(missing)
            self._missing.publish()
            if stages:
                self._publish_stages(stages)
            if not self._live_in_flight:
                self.in_flight.set(len(self.active))

    def _publish_stages(self, stages: list[tuple[str, float, bool]]) -> None:
        fam, mv = self.families, (self.model, self.version)
        tallies = self._stage_tallies
        for name, seconds, failed in stages:
            label = self._stage_guard(name)
            tally = tallies.get(label)
            if tally is None:
                tally = tallies[label] = HistogramTally(fam.stage_latency.labels(*mv, label))
            tally.add(seconds)
            if failed:
                fam.stage_errors.labels(*mv, label).inc()
        for tally in tallies.values():
            tally.publish()

    def after_fork(self) -> None:
        """In a forked child: a fresh lock and empty tallies (the parent publishes its own)."""
        self._lock = threading.Lock()
        self.latencies, self.error_types, self.classes = [], [], []
        self.top_scores, self.missing, self.stages = [], [], []

    # -- any thread, when the queue could not take the observation -----------------
    def count_now(self, status: str, latency: float, error_type: str | None) -> None:
        """Count a prediction right away (used when its event had to be dropped)."""
        (self.ok if status == "ok" else self.error).inc()
        self.latency.observe(latency)
        if status != "ok":
            self.families.errors.labels(self.model, self.version, error_type or "Exception").inc()


def top_score(scores: object) -> float | None:
    """The top class probability of a dict/list of scores, or a single score.

    None when there is no finite number to observe (a NaN would poison the
    histogram's sum for good).
    """
    top = _top(scores)
    return top if top is not None and math.isfinite(top) else None


def _top(scores: object) -> float | None:
    if scores is None or isinstance(scores, bool):
        return None
    if type(scores) is dict:
        try:
            return float(max(scores.values()))
        except (TypeError, ValueError):
            return None
    if isinstance(scores, int | float):
        return float(scores)
    if isinstance(scores, Mapping):
        values: Any = scores.values()
    elif hasattr(scores, "tolist"):
        values = scores.tolist()
        if isinstance(values, int | float):
            return float(values)
    else:
        values = scores
    try:
        flat = [float(v) for v in values if v == v]
    except (TypeError, ValueError):
        return None
    return max(flat) if flat else None
