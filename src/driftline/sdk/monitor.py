"""The Monitor: the SDK's entry point inside a model service.

    mon = Monitor(model="credit_risk", version="v3", sink="http://127.0.0.1:8080")
    with mon.observe(features, segment={"region": "eu"}) as obs:
        obs.record(prediction=label, scores=proba)

It owns the pre-bound Prometheus children, the bounded queue and the shipper
thread. Once built, nothing it does raises into the service: problems are
logged (rate-limited) and counted in ``driftline_sdk_*`` metrics.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import inspect
import os
import threading
import weakref
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar, cast

from prometheus_client import REGISTRY, CollectorRegistry

from driftline._utils.metrics import LATENCY_BUCKETS, SCORE_BUCKETS
from driftline.sdk._logging import RateLimitedLog
from driftline.sdk._track import extractor, record_result, safe_extract
from driftline.sdk.clock import Clock, SystemClock
from driftline.sdk.context import request_id
from driftline.sdk.contract import CheckCounts, Contract, merge_counts
from driftline.sdk.delivery import DeliveryCounters, make_sink
from driftline.sdk.errors import SDKConfigError
from driftline.sdk.events import EventEncoder
from driftline.sdk.jobs import JobRun
from driftline.sdk.metrics import (
    INFO_LABELS,
    BoundMetrics,
    model_metrics,
)
from driftline.sdk.observation import Observation, first_row, table_rows
from driftline.sdk.privacy import PrivacyPolicy
from driftline.sdk.resources import ResourceSampler, load_nvml
from driftline.sdk.resources import merge as resources_merge
from driftline.sdk.resources import split as resources_split
from driftline.sdk.runtime import check_metadata
from driftline.sdk.shipper import FlushMarker, Shipper
from driftline.sdk.sinks import Sink

if TYPE_CHECKING:
    from driftline._utils.llm import PriceTable
    from driftline.sdk.judges import Judge, JudgeRunner

F = TypeVar("F", bound=Callable[..., Any])
_new = object.__new__
API_KEY_ENV = "DRIFTLINE_API_KEY"


class Monitor:
    """Instruments one model: metrics, prediction events, labels, feedback and jobs."""

    def __init__(
        self,
        model: str,
        version: str = "v1",
        sink: str | Sink = "memory",
        *,
        api_key: str | None = None,
        registry: CollectorRegistry | None = None,
        privacy: PrivacyPolicy | None = None,
        metadata: Mapping[str, str] | None = None,
        latency_buckets: tuple[float, ...] = LATENCY_BUCKETS,
        score_buckets: tuple[float, ...] = SCORE_BUCKETS,
        queue_size: int = 100_000,
        batch_size: int = 1000,
        flush_interval: float = 1.0,
        spool_dir: str | os.PathLike[str] | None = None,
        spool_max_bytes: int = 64 * 2**20,
        timeout: float = 5.0,
        resource_interval: float = 10.0,
        max_label_values: int = 50,
        clock: Clock | None = None,
        version_metadata: Mapping[str, Any] | None = None,
        send_runtime: bool | None = None,
        judges: Sequence[Judge] = (),
        prices: PriceTable | Mapping[str, Any] | None = None,
        contract: Contract | None = None,
        score_outliers: bool = False,
        outlier_refresh: float = 60.0,
    ) -> None:
        if not model or not version:
            raise SDKConfigError(f"Monitor needs a model and a version, got {model!r}, {version!r}")
        if queue_size < 1 or batch_size < 1 or flush_interval <= 0:
            raise SDKConfigError(
                f"queue_size={queue_size}, batch_size={batch_size}, flush_interval="
                f"{flush_interval}: all must be positive"
            )
        unknown = set(metadata or {}) - set(INFO_LABELS[2:])
        if unknown:
            raise SDKConfigError(
                f"metadata keys {sorted(unknown)} are not allowed; allowed: {INFO_LABELS[2:]}"
            )
        self.model = model
        self.version = version
        self.clock: Clock = clock or SystemClock()
        #: the clock's monotonic function (read by every stage)
        self.monotonic = self.clock.monotonic
        #: the clock's wall-time function (read by every observe())
        self.wall = self.clock.time
        #: True once a ``@mon.stage`` decorator exists: observe() then marks itself current
        self.track_current = False
        #: the ``otel`` extra's exporter (see :meth:`enable_otel`), else None
        self.otel: Any = None
        self._contracts: dict[str, Contract] = {}
        if contract is not None:
            self.set_contract(contract)
        self._checks: dict[str, CheckCounts] = {}
        self.privacy = privacy or PrivacyPolicy()
        self.registry: CollectorRegistry = registry if registry is not None else REGISTRY
        self.families = model_metrics(self.registry, latency_buckets, score_buckets)
        self.max_label_values = max_label_values
        self._bound: dict[str, BoundMetrics] = {}
        self._bind_lock = threading.Lock()
        # sent once per process and version (docs/versions.md, "Runtime and metadata")
        self.version_metadata = check_metadata(version_metadata, "version_metadata")
        self._send_runtime = send_runtime
        #: versions whose runtime record this process queued (at their first prediction)
        self._runtime_sent: set[str] = set()
        self._default_bound = self.bind(version)
        meta = dict(metadata or {})
        self.families.info.labels(model, version, *(meta.get(k, "") for k in INFO_LABELS[2:])).set(
            1
        )
        self._queue_size = queue_size
        #: the queue's room as Observation.__exit__ checks it: queue_size, 0 once closed
        self._room = queue_size
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._resource_interval = resource_interval
        self._log = RateLimitedLog(self.clock)
        self.accounting = DeliveryCounters(self.families, model)
        self._internal_errors = self.families.internal_errors.labels(model)
        self._sink_args: dict[str, Any] = {
            "api_key": api_key if api_key is not None else os.environ.get(API_KEY_ENV),
            "spool_dir": spool_dir,
            "spool_max_bytes": spool_max_bytes,
            "timeout": timeout,
            "clock": self.clock,
        }
        self._sink_spec = sink
        self.sink: Sink = make_sink(sink, **self._sink_args)
        #: outlier scores on the shipper thread (sdk/outliers.py), with a collector sink
        self.outliers: Any = None
        self._score_outliers = score_outliers
        self._outlier_refresh = outlier_refresh
        if score_outliers:
            from driftline.sdk.http_sink import HTTPSink

            if not isinstance(self.sink, HTTPSink):
                raise SDKConfigError(
                    "Monitor(score_outliers=True) needs a collector sink (sink='http://...'): "
                    "the outlier model is fetched from it"
                )
            if outlier_refresh <= 0:
                raise SDKConfigError(f"outlier_refresh={outlier_refresh}: must be positive")
        self._closed = False
        #: LLM-as-judge (docs/llm.md): prices serve the judges' money budgets
        from driftline._utils.llm import PriceTable  # not loaded with the SDK, only here

        self.prices = prices if isinstance(prices, PriceTable) else PriceTable.from_mapping(prices)
        self._judge_specs = tuple(judges)
        self.judges: JudgeRunner | None = None
        self._start_pipeline()
        ref = weakref.ref(self)
        self._atexit = functools.partial(_close_ref, ref)
        atexit.register(self._atexit)
        os.register_at_fork(after_in_child=functools.partial(_after_fork_ref, ref))

    # -- pipeline ----------------------------------------------------------------
    def _start_pipeline(self) -> None:
        self._queue: deque[Any] = deque()
        self._wake = threading.Event()
        self._wake_at = self._batch_size
        self.sink.open(self.accounting)
        queue_gauge = self.families.queue_events.labels(self.model)
        self.encoder = encoder = EventEncoder(self.model, self.privacy)
        if self._judge_specs:
            from driftline.sdk.judges import JudgeRunner  # LLM services with judges only

            self.judges = JudgeRunner(self, self._judge_specs, self.prices)
            encoder.on_llm = self.judges.offer
        self._resources_primed = False
        encoder.on_stage_problem = self.stage_problem
        encoder.otel = self.otel
        sampler = ResourceSampler(
            self.families, load_nvml(), model=self.model, on_sample=self._on_resources
        )
        if self._score_outliers:
            from driftline.sdk.outliers import OutlierScoring, httpx_get

            own = getattr(self.sink, "_own_client", True)
            client = None if own else getattr(self.sink, "_client", None)
            self.outliers = OutlierScoring(
                getattr(self.sink, "url", ""), self.model,
                api_key=self._sink_args["api_key"], clock=self.clock,
                refresh=self._outlier_refresh, timeout=self._sink_args["timeout"], log=self._log,
                fetch=None if client is None else httpx_get(client),
                on_events=self._outlier_events,
            )  # fmt: skip
        self.shipper = Shipper(
            self._queue,
            encoder,
            self.sink,
            self.accounting,
            self._wake,
            clock=self.clock,
            batch_size=self._batch_size,
            flush_interval=self._flush_interval,
            on_error=self.internal_error,
            sampler=sampler,
            resource_interval=self._resource_interval,
            on_queue_size=queue_gauge.set,
            on_cycle=self._publish_metrics,
            name=f"driftline-shipper-{self.model}",
            annotate=None if self.outliers is None else self.outliers.annotate,
        )
        self.shipper.start()

    def _outlier_events(self, result: str, n: int) -> None:
        self.families.outlier_scores.labels(self.model, result).inc(n)

    def _queue_runtime(self, version: str) -> None:
        """The runtime record of ``version``, queued with its first prediction in this process
        (a monitor that only reports jobs sends none, so it never shows up as a model);
        ``send_runtime=None``: when the sink is a collector, where it is diffed against
        training; files and memory get none."""
        from driftline.sdk.http_sink import HTTPSink

        with self._bind_lock:
            if version in self._runtime_sent:
                return
            self._runtime_sent.add(version)
        send = self._send_runtime
        if send or (send is None and isinstance(self.sink, HTTPSink)):
            self.enqueue(("runtime", self.clock.time(), version, self.version_metadata))

    def _after_fork(self) -> None:
        """In a forked worker: a fresh queue, sink and thread (the parent keeps its own)."""
        if self._closed:
            return
        self._bind_lock = threading.Lock()  # a lock held by a parent thread stays held here
        self._runtime_sent = set()  # a forked worker sends its own runtime record
        for bound in self._bound.values():
            bound.after_fork()
        if isinstance(self._sink_spec, str):
            self.sink = make_sink(self._sink_spec, **self._sink_args)
        self._start_pipeline()

    def enqueue(self, item: Any) -> None:
        """Queue a captured reference for the shipper (hot path; never raises)."""
        queue = self._queue
        if len(queue) >= self._queue_size or self._closed:
            if isinstance(item, Observation):
                item.bound.count_now(item.status, item.latency, item.error_type)
            if self._closed:
                self.accounting.dropped("closed", 1)
            else:
                self.accounting.queue_full()
                self._log.warning("queue_full", "driftline: event queue full, dropping events")
            return
        queue.append(item)
        if len(queue) >= self._wake_at:
            self._wake.set()

    def _on_resources(self, sample: dict[str, Any]) -> None:
        """A resource sample (shipper thread): split by version, put on their next events.

        The first sample of a pipeline is the baseline: it sets the gauges, and the
        first ``resources`` record follows one ``resource_interval`` later."""
        primed, self._resources_primed = self._resources_primed, True
        busy = {}
        for version, bound in list(self._bound.items()):
            busy[version], bound.busy = bound.busy, 0.0
        for version, record in resources_split(sample, busy, self.version).items():
            if not primed:
                break
            if record["cpu_seconds"]:
                self.families.model_cpu.labels(self.model, version).inc(record["cpu_seconds"])
            self.encoder.ride(version, "resources", record, resources_merge)
        for version, counts in list(self._checks.items()):
            record = counts.take()
            if record is not None:
                fam = self.families
                ok = record["calls"] - record["violating"]
                if ok:
                    fam.checks.labels(self.model, version, "ok").inc(ok)
                if record["violating"]:
                    fam.checks.labels(self.model, version, "violation").inc(record["violating"])
                for kind, n in record["violations"].items():
                    fam.violations.labels(self.model, version, kind).inc(n)
                self.encoder.ride(version, "checks", record, merge_counts)

    # -- input checks -------------------------------------------------------------
    def set_contract(self, contract: Contract, version: str | None = None) -> None:
        """The contract ``check()`` holds inputs of ``version`` (default: this Monitor's) to."""
        if not isinstance(contract, Contract):
            raise SDKConfigError(
                f"set_contract() takes a driftline.sdk.Contract, got {type(contract).__name__}; "
                "build one with Contract.from_profile(profile) or Contract.load(path)"
            )
        self._contracts[version or self.version] = contract

    def check(self, features: Mapping[str, Any], *, version: str | None = None) -> Any:
        """The contract violations of one input, before inference (docs/sdk.md, "Input checks").

        Returns a sequence of :class:`~driftline.sdk.contract.Violation` (empty when the
        input keeps the contract, or when ``version`` has no contract: then a warning
        says so once a minute). Calls and violations are counted and reach the
        collector with the next prediction event of the version.
        """
        v = self.version if version is None else version
        contract = self._contracts.get(v)
        if contract is None:
            self._log.warning(
                "no_contract:" + v,
                "driftline: Monitor.check() for %s/%s has no contract; set one with "
                "Monitor(contract=...) or set_contract()",
                self.model,
                v,
            )
            return ()
        try:
            found = contract.check(features)
        except Exception:
            self.internal_error("check")
            return ()
        counts = self._checks.get(v)
        if counts is None:
            counts = self._checks.setdefault(v, CheckCounts())
        counts.count(found)
        return found

    def enable_otel(self, *, tracer_provider: Any = None, meter_provider: Any = None) -> Any:
        """Also export predictions and stages through OpenTelemetry (the ``otel`` extra;
        docs/service.md, "OpenTelemetry"): spans, histograms, trace ids on the events."""
        from driftline.sdk.otel import enable_otel

        return enable_otel(self, tracer_provider=tracer_provider, meter_provider=meter_provider)

    def stage_problem(self, problem: str) -> None:
        """Count a stage problem (docs/sdk.md, "Stages"); never raises."""
        with contextlib.suppress(Exception):
            self.families.stage_problems.labels(self.model, problem).inc()

    def stage(
        self, name: str, **attributes: Any
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator: time each call of a function as stage ``name`` of the current prediction.

        ``with obs.stage(name):`` does the same inside an ``observe()`` block.
        """
        from driftline.sdk.stages import stage_decorator

        return stage_decorator(self, name, attributes or None)

    def _publish_metrics(self) -> None:
        for bound in list(self._bound.values()):
            bound.publish()

    def internal_error(self, where: str) -> None:
        """Count and log (rate-limited) a bug caught inside the SDK."""
        try:
            self._internal_errors.inc()
            self._log.warning(
                "internal:" + where, "driftline: internal error in %s", where, exc_info=True
            )
        except Exception:  # pragma: no cover - logging itself failed
            pass

    def bind(self, version: str) -> BoundMetrics:
        """The pre-bound metric children of ``version`` (created once, then cached)."""
        bound = self._bound.get(version)
        if bound is None:
            with self._bind_lock:
                bound = self._bound.get(version)
                if bound is None:
                    bound = BoundMetrics(
                        self.families, self.model, version, max_label_values=self.max_label_values
                    )
                    self._bound[version] = bound
        return bound

    # -- capture -----------------------------------------------------------------
    def observe(
        self,
        features: Any = None,
        *,
        segment: Mapping[str, Any] | None = None,
        tags: dict[str, Any] | None = None,
        prediction_id: str | None = None,
        version: str | None = None,
        shadow: bool = False,
    ) -> Observation:
        """A context manager that times one prediction, counts it and logs it as an event.

        ``features`` is one input: a mapping (or a one-row DataFrame / Arrow table, taken
        as its row). A table of several rows is refused, never sent as one event of
        list-valued features: the call is still counted in the metrics, the event
        is dropped (``driftline_sdk_events_dropped_total{reason="batch_input"}``) and a
        warning says how to observe a batch (one ``observe()`` per row).
        """
        bound = self._default_bound if version is None else self.bind(version)
        if bound.version not in self._runtime_sent:  # this version's first prediction
            self._queue_runtime(bound.version)
        if prediction_id is None:
            prediction_id = request_id.get()
        # Observation(self, bound, features, segment, tags, prediction_id, shadow), inline:
        # one Python call less per prediction (tests/sdk/test_stages.py checks that both
        # build the same object)
        obs = _new(Observation)
        obs._monitor = self
        obs.bound = bound
        obs.features = features
        obs.segment = segment
        obs.tags = tags
        obs._prediction_id = prediction_id
        obs._event_id = None
        obs.shadow = shadow
        obs.prediction = None
        obs.scores = None
        obs.status = "ok"
        obs.error_type = None
        obs.timestamp = 0.0
        obs.latency = 0.0
        obs._start = 0.0
        obs.refused = None
        obs.llm = None
        obs.monotonic = self.monotonic
        obs._last_stage = None
        obs._n_stages = 0
        obs.current_stage = None
        obs.done = False
        obs.error = None
        obs.trace = None
        obs._token = None
        if features is not None and type(features) is not dict:
            rows = table_rows(features)
            if rows == 1:
                obs.features = first_row(features)
            elif rows is not None:
                obs.refused = (
                    f"driftline: Monitor.observe() takes one input, got a "
                    f"{type(features).__name__} of {rows} rows; the event is dropped. "
                    "Observe each row: for row in df.to_dict('records'): "
                    "with monitor.observe(row) as obs: ..."
                )
        return obs

    def refuse(self, obs: Observation) -> None:
        """Drop a refused observation: count it, say why (at most once a minute)."""
        self.accounting.dropped("batch_input", 1)
        self._log.warning("batch_input", "%s", obs.refused)

    def track(
        self,
        func: F | None = None,
        *,
        features: str | Callable[..., Any] | None = None,
        segment: Mapping[str, Any] | None = None,
        tags: dict[str, Any] | None = None,
        version: str | None = None,
    ) -> Any:
        """Decorate a sync or async predict function: ``observe()`` around every call.

        ``features`` names the parameter that holds the input (default: the
        first one that is not ``self``/``cls``), or is a function of the
        call's ``(*args, **kwargs)``. The return value is recorded as the
        prediction; return a :class:`Prediction` to record scores too.
        """

        def decorate(fn: F) -> F:
            extract = extractor(fn, features)
            if inspect.iscoroutinefunction(fn):

                @functools.wraps(fn)
                async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                    obs = self.observe(
                        safe_extract(extract, args, kwargs),
                        segment=segment,
                        tags=tags,
                        version=version,
                    )
                    with obs:
                        result = await fn(*args, **kwargs)
                        record_result(obs, result)
                    return result

                return cast(F, async_wrapper)

            @functools.wraps(fn)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                obs = self.observe(
                    safe_extract(extract, args, kwargs), segment=segment, tags=tags, version=version
                )
                with obs:
                    result = fn(*args, **kwargs)
                    record_result(obs, result)
                return result

            return cast(F, wrapper)

        return decorate(func) if func is not None else decorate

    def label(
        self,
        prediction_id: str,
        label: Any,
        *,
        version: str | None = None,
        timestamp: float | None = None,
    ) -> None:
        """Send the ground truth for ``prediction_id`` when it becomes known."""
        ts = self.clock.time() if timestamp is None else timestamp
        self.enqueue(("label", ts, prediction_id, version or self.version, label))

    def feedback(
        self,
        prediction_id: str,
        kind: str,
        value: Any,
        *,
        version: str | None = None,
        timestamp: float | None = None,
    ) -> None:
        """Send user feedback (``kind`` such as thumbs, click, override) on a prediction."""
        ts = self.clock.time() if timestamp is None else timestamp
        self.enqueue(("feedback", ts, prediction_id, version or self.version, kind, value))
        judges = self.judges
        if judges is not None and not kind.startswith("judge."):
            try:
                judges.feedback(prediction_id, kind, value)
            except Exception:
                self.internal_error("judges.feedback")

    def kpi(
        self,
        name: str,
        value: float,
        *,
        prediction_id: str | None = None,
        version: str | None = None,
        timestamp: float | None = None,
    ) -> None:
        """Send a business KPI value (revenue, minutes saved, conversion) for a prediction.

        With ``prediction_id`` the value joins that prediction's window and segments;
        without, the window of ``timestamp`` (now) of this version. The collector keeps
        the mean per window (``kpi.<name>`` points, docs/collector.md). A value that is
        not a finite number is dropped and counted (``reason="invalid_kpi"``): the SDK
        never raises into the service.
        """
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            self.accounting.dropped("invalid_kpi", 1)
            self._log.warning("invalid_kpi", "KPI %r: value %r is not a number", name, value)
            return
        ts = self.clock.time() if timestamp is None else timestamp
        self.enqueue(("kpi", ts, prediction_id, version or self.version, name, float(value)))

    def job(
        self,
        name: str,
        *,
        scheduled_at: float | datetime | None = None,
        run_id: str | None = None,
        every: float | str | None = None,
    ) -> JobRun:
        """A context manager recording one run of pipeline job ``name``.

        ``every``: how often the job is expected to run (seconds or a duration such as
        ``"1h"``); the collector's dead-man alert fires when no run succeeded within it
        (without it, the collector infers the interval from the runs' schedule).
        """
        return JobRun(self, name, scheduled_at=scheduled_at, run_id=run_id, every=every)

    # -- lifecycle ---------------------------------------------------------------
    def flush(self, timeout: float = 5.0, *, durable_ok: bool = False) -> bool:
        """Wait until everything queued so far is delivered; False if ``timeout`` passed first.

        With ``durable_ok``, events waiting in a disk spool count as done
        (``close()`` uses this: they are replayed by the next process).
        """
        if self._closed or not self.shipper.thread.is_alive():
            return self.sink.pending() == 0 and not self._queue
        marker = FlushMarker(accept_durable=durable_ok)
        self._queue.append(marker)
        self._wake.set()
        return marker.done.wait(timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Flush with a deadline, stop the thread and release the sink. Idempotent."""
        if self._closed:
            return
        deadline = self.clock.monotonic() + timeout
        try:
            if self.judges is not None:
                self.flush(timeout / 2)  # hand the last LLM requests to the judges
                self.judges.drain(timeout / 2)
                self.judges.stop()
            self.flush(timeout, durable_ok=True)
        finally:
            self._room = 0
            self._closed = True
            remaining = max(0.0, deadline - self.clock.monotonic())
            self.shipper.stop(remaining + 0.1)
            leftover = sum(1 for item in list(self._queue) if not isinstance(item, FlushMarker))
            if leftover:
                self.accounting.dropped("shutdown", leftover)
            self._queue.clear()
            self.sink.close()
            atexit.unregister(self._atexit)

    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def stats(self) -> dict[str, Any]:
        """Delivery totals of this Monitor (also exported as driftline_sdk_* metrics)."""
        return {
            **self.accounting.totals,
            "queued": sum(1 for i in list(self._queue) if not isinstance(i, FlushMarker)),
            "pending_batches": self.sink.pending(),
            "dropped": dict(self.accounting.dropped_by_reason),
            "processed": self.shipper.processed,
            **({} if self.outliers is None else {"outliers": self.outliers.stats()}),
        }


def _close_ref(ref: weakref.ref[Monitor]) -> None:
    monitor = ref()
    if monitor is not None:
        monitor.close()


def _after_fork_ref(ref: weakref.ref[Monitor]) -> None:
    monitor = ref()
    if monitor is not None:
        monitor._after_fork()
