"""The collector fed from NATS JetStream (the broker on 127.0.0.1:4222): same validation,
idempotence and at-least-once delivery as HTTP ingest."""

from __future__ import annotations

import socket
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest

from driftline.sdk.clock import ManualClock
from driftline.server.collector import Collector
from driftline.server.settings import Settings
from driftline.server.stream import NATSConsumer, StreamFeeder
from driftline.store import open_store

from .conftest import T0, prediction

NATS_URL = "nats://127.0.0.1:4222"
nats = pytest.importorskip("nats")


def _nats_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 4222), timeout=1).close()
    except OSError:
        return False
    return True


pytestmark = [
    pytest.mark.skipif(not _nats_up(), reason="no NATS server on 127.0.0.1:4222"),
    pytest.mark.slow,  # about 35 s: the redelivery after a nak
]


def _value(feeder: StreamFeeder, outcome: str) -> float:
    v: float = feeder.records.labels(feeder.consumer.name, outcome)._value.get()
    return v


async def test_messages_are_validated_stored_once_and_redelivered_on_failure(
    tmp_path: Path,
) -> None:
    tag = uuid.uuid4().hex[:10]
    stream, subject = f"DLTEST_{tag}", f"dltest.{tag}.events"
    nc = await nats.connect(NATS_URL)
    js = nc.jetstream()
    await js.add_stream(name=stream, subjects=[subject])
    try:
        good = [prediction(i) for i in range(50)]
        await js.publish(subject, orjson.dumps(good))
        await js.publish(subject, orjson.dumps(good[:10]))  # a producer's retry: duplicates
        await js.publish(subject, orjson.dumps({**prediction(99), "model": None}))  # invalid
        await js.publish(subject, b"not json {")
        collector = Collector(Settings(), open_store(f"sqlite:///{tmp_path}/s.db"), ManualClock(T0))
        consumer = await NATSConsumer(NATS_URL, stream, subject, durable=f"c{tag}").connect()
        feeder = StreamFeeder(collector, consumer, batch=2)

        # the store refuses the first batch: its messages are not acknowledged
        real = collector.ingest
        calls: list[int] = []

        def flaky(kind: str, records: list[Any]) -> Any:
            calls.append(len(records))
            if len(calls) == 1:
                raise OSError("disk full")
            return real(kind, records)

        collector.ingest = flaky  # type: ignore[method-assign]
        assert await feeder.run_once(timeout=2.0) == 2
        assert collector.store.event_counts("m", "v1", 0, 2**40) == 0
        # nak'd messages come back: read until the stream is drained
        for _ in range(20):
            if await feeder.run_once(timeout=0.5) == 0 and _value(feeder, "malformed") == 1:
                break
        assert collector.store.event_counts("m", "v1", 0, 2**40) == 50
        assert _value(feeder, "accepted") == 50
        assert _value(feeder, "duplicate") == 10
        assert _value(feeder, "rejected") == 1
        assert _value(feeder, "malformed") == 1
        lag = feeder.lag_gauge.labels(consumer.name)._value.get()
        assert lag == 0
        await consumer.close()
    finally:
        await js.delete_stream(stream)
        await nc.close()
