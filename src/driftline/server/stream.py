"""Feed the collector from a message broker instead of HTTP (NATS JetStream; Kafka the same way).

    broker ──fetch(batch)──> StreamFeeder ──Collector.ingest(kind, records)──> store
                              ack each message once its records are stored (or rejected)

Same validation and idempotence as ``POST /v1/...``: the records go through
:meth:`Collector.ingest`, so an invalid record is rejected with the same field
errors (counted in ``driftline_stream_records_total{outcome="rejected"}``), and a
record redelivered after a crash is a duplicate by its ``event_id``.
At-least-once: a message is acknowledged only after :meth:`Collector.ingest`
returned (its records stored, or rejected as invalid); when the store refuses
(unavailable, full disk) the message is negatively acknowledged and the broker
delivers it again. A message that is not JSON is terminated (never redelivered)
and counted: it can never become valid.

A message body is one record or a JSON list of records; the kind comes from
each record's ``type`` (default ``prediction``), as on ``POST /v1/events``.

The :class:`StreamConsumer` protocol is what a broker client implements; for
Kafka (docs/collector.md, "Streams"): ``fetch`` = ``poll``, ``ack`` = commit the
offset after the record (commit only the contiguous acknowledged prefix of a
partition), ``nak`` = seek back to the message's offset, ``term`` = skip it (or
send it to a dead-letter topic), ``lag`` = end offset minus committed offset,
summed over the assigned partitions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from driftline.errors import MissingDependencyError, missing_extra_message

log = logging.getLogger("driftline.server")

__all__ = [
    "LAG_METRIC",
    "Message",
    "NATSConsumer",
    "StreamConsumer",
    "StreamFeeder",
    "feed_from_nats",
    "lag_points",
]

#: The stored metric point of a consumer's lag per base window (driftline.signals): model
#: and version "", ``column`` the consumer's name, ``method`` "max", ``value`` the largest
#: lag read in the window, ``n`` how many readings, ``details.last`` the latest reading.
LAG_METRIC = "stream_consumer_lag"
#: Seconds between two writes of the open window's lag point (and at every window change).
LAG_SAVE_SECONDS = 5.0


@dataclass
class Message:
    """One broker message: its body and the broker's handles to settle it."""

    data: bytes
    ack: Callable[[], Awaitable[None]]
    nak: Callable[[], Awaitable[None]]
    term: Callable[[], Awaitable[None]]


class StreamConsumer(Protocol):
    """A broker client the feeder reads from (NATS JetStream here; Kafka the same way)."""

    name: str

    async def fetch(self, batch: int, timeout: float) -> list[Message]:
        """Up to ``batch`` messages, waiting at most ``timeout`` seconds; [] when none."""

    async def lag(self) -> int | None:
        """Messages not yet delivered to this consumer (None: the broker cannot tell)."""

    async def close(self) -> None: ...


class NATSConsumer:
    """A durable JetStream pull consumer of ``subject`` on ``stream`` (created if missing)."""

    def __init__(
        self, url: str, stream: str, subject: str, durable: str = "driftline-collector"
    ) -> None:
        self.url, self.stream, self.subject, self.durable = url, stream, subject, durable
        self.name = f"nats:{stream}"
        self._nc: Any = None
        self._sub: Any = None

    async def connect(self) -> NATSConsumer:
        try:
            import nats
        except ImportError:
            raise MissingDependencyError(missing_extra_message("nats", "nats")) from None

        async def quiet(exc: Exception) -> None:  # the feeder says it once (not per retry)
            log.debug("driftline stream %s: %s: %s", self.name, type(exc).__name__, exc)

        self._nc = await nats.connect(self.url, max_reconnect_attempts=-1, error_cb=quiet)
        js = self._nc.jetstream()
        try:
            await js.stream_info(self.stream)
        except Exception:  # no such stream: create it (file storage, the subject only)
            await js.add_stream(name=self.stream, subjects=[self.subject])
        self._js = js
        self._sub = await js.pull_subscribe(self.subject, durable=self.durable, stream=self.stream)
        return self

    async def fetch(self, batch: int, timeout: float) -> list[Message]:
        import nats.errors

        try:
            msgs = await self._sub.fetch(batch, timeout=timeout)
        except nats.errors.TimeoutError:
            return []
        return [Message(m.data, m.ack, m.nak, m.term) for m in msgs]

    async def lag(self) -> int | None:
        await self._nc.flush()  # the acks just sent reach the server first (one round trip)
        info = await self._sub.consumer_info()
        return int(info.num_pending) + int(info.num_ack_pending)

    async def close(self) -> None:
        if self._nc is not None:
            await self._nc.drain()


class StreamFeeder:
    """Reads a :class:`StreamConsumer` and ingests what it reads into a collector."""

    def __init__(self, collector: Any, consumer: StreamConsumer, batch: int = 500) -> None:
        from prometheus_client import Counter, Gauge

        self.collector = collector
        self.consumer = consumer
        self.batch = batch
        r = collector.metrics.registry
        self.records = Counter(
            "driftline_stream_records",
            "Records read from the broker, by outcome (accepted, duplicate, rejected, "
            "malformed: a message that is not JSON).",
            ["consumer", "outcome"],
            registry=r,
        )
        self.lag_gauge = Gauge(
            "driftline_stream_consumer_lag_messages",
            "Messages on the broker not yet read or acknowledged by this consumer.",
            ["consumer"],
            registry=r,
        )
        self.errors = Counter(
            "driftline_stream_read_errors",
            "Reads from the broker that failed (the broker away, or the connection lost).",
            ["consumer"],
            registry=r,
        )
        self.errors.labels(consumer.name)
        for outcome in ("accepted", "duplicate", "rejected", "malformed"):
            self.records.labels(consumer.name, outcome)
        self._stop = threading.Event()
        #: The open base window's lag readings: [start, max, count, last], and when saved.
        self._lag: list[Any] | None = None
        self._lag_saved = 0.0

    async def run_once(self, timeout: float = 1.0) -> int:
        """Fetch one batch, ingest it, settle every message; return the messages read."""
        msgs = await self.consumer.fetch(self.batch, timeout)
        by_kind: dict[str, list[Any]] = {}
        owners: dict[str, list[Message]] = {}
        for m in msgs:
            try:
                body = orjson.loads(m.data)
            except orjson.JSONDecodeError:
                self.records.labels(self.consumer.name, "malformed").inc()
                log.warning("driftline stream %s: a message is not JSON; dropped (counted)",
                            self.consumer.name)  # fmt: skip
                await m.term()
                continue
            records = body if isinstance(body, list) else [body]
            kinds = {_kind(r) for r in records}
            for kind in kinds:
                by_kind.setdefault(kind, []).extend(r for r in records if _kind(r) == kind)
            # a message is settled once every kind it holds is stored
            for kind in kinds:
                owners.setdefault(kind, []).append(m)
        failed: set[int] = set()
        for kind, records in by_kind.items():
            try:
                result = await asyncio.to_thread(self.collector.ingest, kind, records)
            except Exception:  # the store refused: the broker delivers these again
                log.exception("driftline stream %s: cannot store %d %s records; redelivery",
                              self.consumer.name, len(records), kind)  # fmt: skip
                failed.update(id(m) for m in owners[kind])
                continue
            name = self.consumer.name
            self.records.labels(name, "accepted").inc(result.accepted)
            self.records.labels(name, "duplicate").inc(result.duplicates)
            self.records.labels(name, "rejected").inc(len(result.rejected))
        for m in {id(m): m for ms in owners.values() for m in ms}.values():
            await (m.nak() if id(m) in failed else m.ack())
        lag = await self.consumer.lag()
        if lag is not None:
            self.lag_gauge.labels(self.consumer.name).set(lag)
            await self.record_lag(lag)
        return len(msgs)

    async def record_lag(self, lag: int) -> None:
        """Keep the base window's largest lag as a stored metric point (:data:`LAG_METRIC`),
        written every :data:`LAG_SAVE_SECONDS` and when the window changes, so that an alert
        rule (on any replica: the point is in the store) and the Jobs page see it.

        A store that refuses the write is logged, never raised: reading the broker goes on.
        """
        now = self.collector.clock.time()
        base = self.collector.settings.windows.base
        start = int(now // base * base)
        rows = []
        cur = self._lag
        if cur is not None and cur[0] != start:
            rows.append(self._lag_row(cur, now))  # the closed window's final value
            cur = None
        if cur is None:
            cur = self._lag = [start, lag, 0, lag]
        cur[1], cur[2], cur[3] = max(cur[1], lag), cur[2] + 1, lag
        if rows or cur[2] == 1 or now - self._lag_saved >= LAG_SAVE_SECONDS:
            rows.append(self._lag_row(cur, now))
            self._lag_saved = now
            try:
                await asyncio.to_thread(self.collector.store.upsert_metric_points, rows)
            except Exception as exc:
                log.warning("driftline stream %s: cannot store the consumer lag (%s: %s)",
                            self.consumer.name, type(exc).__name__, exc)  # fmt: skip

    def _lag_row(self, cur: list[Any], now: float) -> dict[str, Any]:
        start, most, n, last = cur
        return {
            "model": "", "version": "", "segment": "*",
            "window_size": self.collector.settings.windows.base, "window_start": start,
            "metric": LAG_METRIC, "column": self.consumer.name, "method": "max",
            "value": float(most), "status": "ok", "n": n,
            "details": orjson.dumps({"last": last}).decode(), "evaluated_at": now,
        }  # fmt: skip

    async def run(self) -> None:
        """Read until :meth:`stop`; while the broker is away, say so (once) and keep trying."""
        away = False
        while not self._stop.is_set():
            try:
                await self.run_once()
            except Exception as exc:  # the broker went away: the client reconnects; try again
                if not away:
                    log.error(
                        "driftline stream %s: cannot read from the broker (%s: %s); the "
                        "collector keeps serving HTTP, retrying every second",
                        self.consumer.name, type(exc).__name__, exc,
                    )  # fmt: skip
                away = True
                self.errors.labels(self.consumer.name).inc()
                await asyncio.sleep(1.0)
            else:
                if away:
                    log.warning("driftline stream %s: reading from the broker again",
                                self.consumer.name)  # fmt: skip
                away = False

    def stop(self) -> None:
        self._stop.set()


async def feed_from_nats(collector: Any, section: Any) -> None:
    """``driftline serve``'s feeder for ``collector.stream`` (a
    :class:`~driftline.server.config.StreamSection`): connect (retrying every 5 s, with one
    clear error, while the broker cannot be reached), then read until cancelled."""
    consumer = NATSConsumer(section.nats_url, section.stream, section.subject, section.durable)
    told = False
    while True:
        try:
            await consumer.connect()
            break
        except MissingDependencyError:
            log.error("driftline stream: %s", missing_extra_message("nats", "nats"))
            return
        except Exception as exc:
            if not told:
                log.error(
                    "driftline stream %s: cannot reach %s (%s: %s); the collector serves HTTP "
                    "meanwhile, retrying every 5 s",
                    consumer.name, section.nats_url, type(exc).__name__, exc,
                )  # fmt: skip
                told = True
            await asyncio.sleep(5.0)
    log.warning("driftline stream %s: reading %s from %s", consumer.name, section.subject,
                section.nats_url)  # fmt: skip
    feeder = StreamFeeder(collector, consumer, section.batch)
    try:
        await feeder.run()
    finally:
        feeder.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(consumer.close(), 5.0)


def lag_points(store: Any, window_size: int, start: float, end: float) -> list[dict[str, Any]]:
    """The stored consumer-lag points of base windows starting in ``[start, end)``."""
    from driftline.store.base import MetricQuery

    return list(
        store.metric_points(
            MetricQuery(model="", metric=LAG_METRIC, window_size=window_size, start=start, end=end)
        )
    )


def _kind(record: Any) -> str:
    kind = record.get("type", "prediction") if isinstance(record, dict) else "prediction"
    return str(kind) if kind in ("prediction", "label", "feedback", "job_run") else "prediction"
