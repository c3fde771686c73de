"""The background thread that turns queued references into records and hands them to the sink.

It wakes every ``flush_interval`` seconds, or sooner when the hot path sees
``batch_size`` items waiting, drains the queue in batches, encodes them (privacy
policy included), writes them to the sink, lets the sink retry what is due and
samples process resources. It gives the GIL back after every millisecond of
work, so a request thread never waits long behind it. Exceptions are caught, logged
(rate-limited) and counted: the thread never dies of a bad event.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from driftline.sdk.clock import Clock
from driftline.sdk.events import EventEncoder
from driftline.sdk.observation import Observation
from driftline.sdk.resources import ResourceSampler
from driftline.sdk.sinks import DeliveryReport, Sink

#: Give the GIL back after this much work (seconds): a request thread waits at
#: most about this long behind the shipper, instead of the 5 ms switch interval.
YIELD_AFTER = 0.001


class FlushMarker:
    """Put on the queue by ``flush()``; set once everything before it is delivered."""

    __slots__ = ("accept_durable", "done")

    def __init__(self, accept_durable: bool = False) -> None:
        self.done = threading.Event()
        self.accept_durable = accept_durable


class Shipper:
    """Owns the background thread of one Monitor."""

    def __init__(
        self,
        queue: deque[Any],
        encoder: EventEncoder,
        sink: Sink,
        report: DeliveryReport,
        wake: threading.Event,
        *,
        clock: Clock,
        batch_size: int,
        flush_interval: float,
        on_error: Callable[[str], None],
        sampler: ResourceSampler | None = None,
        resource_interval: float = 10.0,
        on_queue_size: Callable[[int], None] | None = None,
        on_cycle: Callable[[], None] | None = None,
        name: str = "driftline-shipper",
        annotate: Callable[[list[Any], Callable[[], None]], None] | None = None,
    ) -> None:
        self.queue = queue
        self.encoder = encoder
        self.sink = sink
        self.report = report
        self.wake = wake
        self.clock = clock
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.on_error = on_error
        self.sampler = sampler
        self.resource_interval = resource_interval
        self.on_queue_size = on_queue_size
        self.on_cycle = on_cycle
        #: puts outlier scores on encoded prediction records (sdk/outliers.py), if on
        self.annotate = annotate
        self._stopping = False
        self._waiting: list[FlushMarker] = []
        self._next_sample = 0.0
        self._last_yield = 0.0
        self.cpu_seconds = 0.0
        self.processed = 0
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self, timeout: float) -> bool:
        """Ask the thread to finish its last cycle; True if it ended within ``timeout``."""
        self._stopping = True
        self.wake.set()
        if self.thread.is_alive():
            self.thread.join(timeout)
        return not self.thread.is_alive()

    def _run(self) -> None:
        start_cpu = time.thread_time()
        while True:
            self.wake.wait(self.flush_interval)
            self.wake.clear()
            stopping = self._stopping
            try:
                self.cycle(force=stopping)
            except Exception:
                self.on_error("shipper.cycle")
            self.cpu_seconds = time.thread_time() - start_cpu
            if stopping:
                return

    def cycle(self, force: bool = False) -> None:
        """Sample resources (they ride on this cycle's events), drain the queue, write
        batches, retry what is due."""
        if self.sampler is not None:
            now = self.clock.monotonic()
            if now >= self._next_sample:
                self._next_sample = now + self.resource_interval
                self.sampler.sample()
        queue = self.queue
        size = self.batch_size
        # Queued items by kind, encoded a whole batch at a time when a batch is full;
        # observations (nearly everything) have their own list, the rest go by kind.
        predictions: list[Any] = []
        groups: dict[str, list[Any]] = {"prediction": predictions}
        pending_markers: list[FlushMarker] = []
        n = 0
        pause = self._pause
        self._last_yield = time.perf_counter()
        while queue:
            try:
                item = queue.popleft()
            except IndexError:
                break
            n += 1
            if item.__class__ is Observation:
                predictions.append(item)
                if not len(predictions) & 255:
                    pause()
                if len(predictions) >= size:
                    self._write("prediction", predictions)
                    predictions = groups["prediction"] = []
                continue
            if isinstance(item, FlushMarker):
                self._write_groups(groups)  # encoding tallies the metrics: publish after it
                if self.on_cycle is not None:
                    self.on_cycle()
                predictions = []
                groups = {"prediction": predictions}
                force = True
                pending_markers.append(item)
                continue
            kind = "prediction" if isinstance(item, Observation) else item[0]
            group = groups.get(kind)
            if group is None:
                group = groups[kind] = []
            group.append(item)
            if len(group) >= size:
                if kind != "prediction" and predictions:
                    # feedback, labels and KPIs name predictions: those queued before them
                    # go first, or the collector would not know them yet (unknown_prediction)
                    self._write("prediction", predictions)
                    predictions = groups["prediction"] = []
                self._write(kind, group)
                groups[kind] = []
                if kind == "prediction":
                    predictions = groups[kind]
        self._write_groups(groups)
        self.processed += n
        if self.on_cycle is not None:
            self.on_cycle()
        self.sink.pump(force)
        if getattr(self.sink, "due", False) and not self._stopping:
            self.wake.set()  # a backlog is replaying: next cycle at once, not in flush_interval
        self._waiting.extend(pending_markers)
        if self.on_queue_size is not None:
            self.on_queue_size(len(queue))
        if self._waiting:
            delivered = self.sink.pending() == 0
            durable = bool(getattr(self.sink, "durable", False))
            waiting = []
            for marker in self._waiting:
                if delivered or (durable and marker.accept_durable):
                    marker.done.set()
                else:
                    waiting.append(marker)
            self._waiting = waiting

    def _pause(self) -> None:
        """Give the GIL back if this cycle has held it for ``YIELD_AFTER`` seconds."""
        now = time.perf_counter()
        if now - self._last_yield >= YIELD_AFTER:
            time.sleep(0)  # let request threads have the GIL
            self._last_yield = time.perf_counter()

    def _encode_failed(self) -> None:
        self.report.dropped("encode_error", 1)
        self.on_error("encode")

    def encode(self, kind: str, items: list[Any]) -> list[Any]:
        """Wire records of queued items of one kind; items that fail are counted and left out."""
        if kind == "prediction":
            return self.encoder.predictions(items, self._pause, self._encode_failed)
        records = []
        for item in items:
            try:
                records.append(self._encode_tuple(item))
            except Exception:
                self._encode_failed()
        return records

    def _encode_tuple(self, item: tuple[Any, ...]) -> dict[str, Any]:
        kind = item[0]
        if kind == "label":
            return self.encoder.label(*item[1:])
        if kind == "feedback":
            return self.encoder.feedback(*item[1:])
        if kind == "kpi":
            return self.encoder.kpi(*item[1:])
        if kind == "job_run":
            return self.encoder.job_run(item[1])
        if kind == "runtime":
            return self.encoder.runtime(*item[1:])
        raise ValueError(f"unknown queued item kind {kind!r}")

    def _write_groups(self, groups: dict[str, list[Any]]) -> None:
        for kind, items in groups.items():
            if items:
                self._write(kind, items)

    def _write(self, kind: str, items: list[Any]) -> None:
        records = self.encode(kind, items)
        if not records:
            return
        if kind == "prediction" and self.annotate is not None:
            try:
                self.annotate(records, self._pause)
            except Exception:  # unscored events still go: the collector scores them
                self.on_error("outliers")
        try:
            self.sink.write(kind, records)
        except Exception:
            self.report.dropped("sink_error", len(records))
            self.on_error("sink.write")
