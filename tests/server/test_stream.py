"""The collector fed from NATS JetStream (the broker on 127.0.0.1:4222): same validation,
idempotence and at-least-once delivery as HTTP ingest."""

from __future__ import annotations

import contextlib
import socket
import time
import uuid
from collections.abc import AsyncIterator
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


@contextlib.asynccontextmanager
async def _stream() -> AsyncIterator[tuple[Any, str, str, str]]:
    """A fresh JetStream stream on the machine's NATS, deleted afterwards:
    (jetstream context, stream, subject, tag)."""
    tag = uuid.uuid4().hex[:10]
    stream, subject = f"DLTEST_{tag}", f"dltest.{tag}.events"
    nc = await nats.connect(NATS_URL)
    js = nc.jetstream()
    await js.add_stream(name=stream, subjects=[subject])
    try:
        yield js, stream, subject, tag
    finally:
        await js.delete_stream(stream)
        await nc.close()


def _value(feeder: StreamFeeder, outcome: str) -> float:
    v: float = feeder.records.labels(feeder.consumer.name, outcome)._value.get()
    return v


async def test_messages_are_validated_stored_once_and_redelivered_on_failure(
    tmp_path: Path,
) -> None:
    async with _stream() as (js, stream, subject, tag):
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
        # nak'd messages come back: read until the stream is drained (bounded in time, not
        # in reads: a loaded machine makes each read slower, not the redelivery sooner)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            drained = await feeder.run_once(timeout=0.5) == 0
            stored = collector.store.event_counts("m", "v1", 0, 2**40)
            if drained and _value(feeder, "malformed") == 1 and stored == 50:
                break
        assert collector.store.event_counts("m", "v1", 0, 2**40) == 50
        assert _value(feeder, "accepted") == 50
        assert _value(feeder, "duplicate") == 10
        assert _value(feeder, "rejected") == 1
        assert _value(feeder, "malformed") == 1
        lag = feeder.lag_gauge.labels(consumer.name)._value.get()
        assert lag == 0
        await consumer.close()


async def test_consumer_lag_is_a_stored_window_signal_that_its_preset_fires_on(
    tmp_path: Path,
) -> None:
    """The lag read from the broker becomes one point per base window (its largest reading),
    stored, so that the alert feed (on whichever replica leads alerting) turns it into
    ``stream_consumer_lag`` points and the preset fires on a window that fell behind."""
    from driftline.server.config import parse_serve_config
    from driftline.server.stream import LAG_SAVE_SECONDS, lag_points
    from driftline.windows import WindowConfig

    async with _stream() as (js, stream, subject, tag):
        for i in range(30):
            await js.publish(subject, orjson.dumps(prediction(i)))
        clock = ManualClock(T0)
        settings = Settings(windows=WindowConfig(sizes=(60,), grace_seconds=10))
        config = parse_serve_config({"alerts": {
            "presets": {"stream_consumer_lag_high": {"threshold": 20, "for": 1}},
            "receivers": [{"name": "log", "log": {}}],
            "route": {"receiver": "log", "group_wait": "0s"},
        }})  # fmt: skip
        store = open_store(f"sqlite:///{tmp_path}/s.db")
        collector = Collector(settings, store, clock, alerts=config.alerts_for(settings))
        consumer = await NATSConsumer(NATS_URL, stream, subject, durable=f"c{tag}").connect()
        feeder = StreamFeeder(collector, consumer, batch=5)
        start = int(T0 // 60 * 60)

        # 25 messages not read yet (and up to 5 read whose acks the server has not processed:
        # JetStream takes acks asynchronously)
        assert await feeder.run_once(timeout=2.0) == 5
        ((name, first, ws),) = [
            (r["column"], r["value"], r["window_start"]) for r in lag_points(store, 60, 0, 2e9)
        ]
        assert (name, ws) == (consumer.name, start) and 25 <= first <= 30
        while await feeder.run_once(timeout=0.5):  # the rest, in the same window
            pass
        # the next window: the broker is drained; the first window kept its largest reading
        clock.advance(60)
        assert await feeder.run_once(timeout=0.5) == 0
        rows = {r["window_start"]: r for r in lag_points(store, 60, 0, 2e9)}
        assert rows[start]["value"] == first and rows[start]["n"] >= 6
        assert rows[start + 60]["value"] == 0.0
        assert feeder.lag_gauge.labels(consumer.name)._value.get() == 0
        assert store.event_counts("m", "v1", 0, 2**40) == 30

        # the alert feed reads the closed window once it is final: the preset fires
        clock.advance(LAG_SAVE_SECONDS + 1)
        collector.tick()
        assert collector.alerts is not None
        (alert,) = [
            a for a in collector.alerts.engine.alerts() if a.rule == "stream_consumer_lag_high"
        ]
        assert alert.state.value == "firing"
        assert alert.labels["consumer"] == consumer.name and alert.value == first
        # the next window (lag 0) resolves it
        clock.advance(60)
        collector.tick()
        (alert,) = [
            a for a in collector.alerts.engine.alerts() if a.rule == "stream_consumer_lag_high"
        ]
        assert alert.state.value == "resolved"
        collector.close()
        await consumer._nc.close()  # not drain(): it waits out its 30 s for the pull request
