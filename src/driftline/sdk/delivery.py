"""Delivery bookkeeping of a Monitor, and building a sink from its short string form."""

from __future__ import annotations

import os

from driftline.sdk.clock import Clock
from driftline.sdk.errors import SDKConfigError
from driftline.sdk.metrics import ModelMetrics
from driftline.sdk.sinks import JSONLinesSink, MemorySink, Sink
from driftline.sdk.spool import DiskSpool, MemorySpool, Spool


class DeliveryCounters:
    """The DeliveryReport of one Monitor: Prometheus counters plus plain totals."""

    def __init__(self, families: ModelMetrics, model: str) -> None:
        self._families = families
        self._model = model
        self._sent = {k: families.sent.labels(model, k) for k in ("prediction", "label")}
        self._spooled = families.spooled.labels(model)
        self._spool_bytes = families.spool_bytes.labels(model)
        self._failures = families.send_failures.labels(model)
        self._queue_full = families.dropped.labels(model, "queue_full")
        for reason in ("spool_full", "rejected", "shutdown"):
            families.dropped.labels(model, reason)
        self.totals: dict[str, int] = {"sent": 0, "spooled": 0, "failures": 0, "spool_bytes": 0}
        self.dropped_by_reason: dict[str, int] = {}

    def sent(self, kind: str, count: int) -> None:
        child = self._sent.get(kind)
        if child is None:
            child = self._sent[kind] = self._families.sent.labels(self._model, kind)
        child.inc(count)
        self.totals["sent"] += count

    def dropped(self, reason: str, count: int) -> None:
        self._families.dropped.labels(self._model, reason).inc(count)
        self.dropped_by_reason[reason] = self.dropped_by_reason.get(reason, 0) + count

    def queue_full(self) -> None:
        self._queue_full.inc()
        self.dropped_by_reason["queue_full"] = self.dropped_by_reason.get("queue_full", 0) + 1

    def spooled(self, count: int) -> None:
        self._spooled.inc(count)
        self.totals["spooled"] += count

    def failed(self) -> None:
        self._failures.inc()
        self.totals["failures"] += 1

    def spool_size(self, nbytes: int) -> None:
        self._spool_bytes.set(nbytes)
        self.totals["spool_bytes"] = nbytes


def make_sink(
    sink: str | Sink,
    *,
    api_key: str | None,
    spool_dir: str | os.PathLike[str] | None,
    spool_max_bytes: int,
    timeout: float,
    clock: Clock,
) -> Sink:
    """A sink from ``"memory"``, ``"jsonl:/path"``, ``"http(s)://..."`` or a Sink object."""
    if not isinstance(sink, str):
        return sink
    if sink == "memory":
        return MemorySink()
    if sink.startswith("jsonl:"):
        path = sink[len("jsonl:") :]
        if not path:
            raise SDKConfigError(
                "sink='jsonl:' needs a file path, e.g. 'jsonl:/var/log/events.jsonl'"
            )
        return JSONLinesSink(path)
    if sink.startswith(("http://", "https://")):
        from driftline.sdk.http_sink import HTTPSink  # http.client, gzip: only for a collector

        spool: Spool = (
            DiskSpool(spool_dir, spool_max_bytes)
            if spool_dir is not None
            else MemorySpool(spool_max_bytes)
        )
        return HTTPSink(sink, api_key, spool=spool, timeout=timeout, clock=clock)
    raise SDKConfigError(
        f"sink={sink!r}: expected a collector URL (http://...), 'jsonl:/path/events.jsonl', "
        "'memory' or a Sink object"
    )
