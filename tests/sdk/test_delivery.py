"""Delivery to a real HTTP receiver: batching, gzip, auth, retries, spool, drops, shutdown."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from driftline.sdk import DiskSpool, HTTPSink, ManualClock, MemorySpool, Monitor
from driftline.sdk.http_sink import parse_retry_after
from support import free_port

from .conftest import Receiver, wait_until

MakeMonitor = Callable[..., Monitor]


def _observe(mon: Monitor, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        with mon.observe({"i": i, "text": "x" * 20}) as obs:
            obs.record(prediction=i % 2)


def test_events_arrive_complete_batched_gzipped_with_the_api_key(
    receiver: Receiver, make_monitor: MakeMonitor
) -> None:
    mon = make_monitor(sink=receiver.url, api_key="k-123", batch_size=100)
    _observe(mon, 250)
    mon.label("p-1", 1)
    mon.feedback("p-1", "thumbs", -1)
    with mon.job("retrain"):
        pass
    assert mon.flush(10)
    events = receiver.accepted("/v1/events")
    assert [e["features"]["i"] for e in events] == list(range(250))
    assert len(receiver.accepted("/v1/labels")) == 1
    assert len(receiver.accepted("/v1/feedback")) == 1
    assert len(receiver.accepted("/v1/jobs")) == 1
    posts = [r for r in receiver.requests if r["path"] == "/v1/events"]
    assert all(len(r["records"]) <= 100 for r in posts)
    assert all(r["headers"]["Authorization"] == "Bearer k-123" for r in receiver.requests)
    big = [r for r in posts if len(r["body"]) >= 1024]
    assert big and all(r["headers"].get("Content-Encoding") == "gzip" for r in big)
    assert all(len(r["raw"]) < len(r["body"]) for r in big)
    assert mon.stats()["sent"] == 254  # with the process's runtime record, once
    (runtime,) = receiver.accepted("/v1/runtime")
    assert runtime["role"] == "serving" and "packages" in runtime["runtime"]


@pytest.mark.parametrize(
    ("backend", "level"),
    [("isal", 1), ("isal", 3), ("zlib", 1), ("zlib", 6), ("zlib", 9)],
    ids=["isal-1", "isal-3", "zlib-1", "zlib-6", "zlib-9"],
)
def test_batches_are_standard_gzip_whichever_library_compresses_them(
    receiver: Receiver,
    make_monitor: MakeMonitor,
    monkeypatch: pytest.MonkeyPatch,
    backend: str,
    level: int,
) -> None:
    from driftline.sdk import http_sink as collector

    if backend == "isal":
        pytest.importorskip("isal")
    else:
        monkeypatch.setattr(collector, "_isal_zlib", None)
    assert collector.gzip_backend(level) == backend
    sink = HTTPSink(receiver.url, gzip_level=level)
    mon = make_monitor(sink=sink, batch_size=500)
    _observe(mon, 1200)
    assert mon.flush(10)
    assert [e["features"]["i"] for e in receiver.accepted()] == list(range(1200))
    posts = receiver.requests
    # at most 500 a batch; a batch may also close early on time on a busy machine
    assert len(posts) >= 3 and all(len(json.loads(r["body"])) <= 500 for r in posts)
    assert all(r["headers"]["Content-Encoding"] == "gzip" for r in posts)
    assert all(len(r["raw"]) * 4 < len(r["body"]) for r in posts if len(r["body"]) > 10_000)


def test_api_key_from_the_environment(
    receiver: Receiver, make_monitor: MakeMonitor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRIFTLINE_API_KEY", "from-env")
    mon = make_monitor(sink=receiver.url)
    _observe(mon, 1)
    assert mon.flush(10)
    assert receiver.requests[0]["headers"]["Authorization"] == "Bearer from-env"


def test_collector_down_then_back_delivers_everything_in_order(
    make_monitor: MakeMonitor, registry: CollectorRegistry
) -> None:
    port = free_port()
    receiver = Receiver(port)  # not listening yet: connections are refused
    mon = make_monitor(sink=receiver.url, batch_size=50, send_runtime=False)
    sink = mon.sink
    assert isinstance(sink, HTTPSink)
    sink.backoff_base, sink.backoff_max = 0.02, 0.1
    _observe(mon, 300)
    assert not mon.flush(0.5)
    assert mon.stats()["spooled"] == 300 and mon.stats()["failures"] >= 1
    assert registry.get_sample_value("driftline_sdk_spool_bytes", {"model": "credit_risk"})
    receiver.start()
    try:
        _observe(mon, 100, start=300)
        assert mon.flush(10)
        events = receiver.accepted()
        ids = [e["event_id"] for e in events]
        assert len(set(ids)) == len(ids) == 400  # none lost, none duplicated
        assert [e["features"]["i"] for e in events] == list(range(400))  # spool replayed in order
        assert sink.pending() == 0
        assert mon.stats()["dropped"] == {}
    finally:
        receiver.stop()


def test_retry_on_503_with_retry_after_and_5xx_then_success(
    receiver: Receiver, make_monitor: MakeMonitor
) -> None:
    receiver.fail_next, receiver.fail_status = 3, 503
    receiver.fail_headers = {"Retry-After": "0"}
    mon = make_monitor(sink=receiver.url)
    sink = mon.sink
    assert isinstance(sink, HTTPSink)
    sink.backoff_base = 0.01
    _observe(mon, 10)
    assert wait_until(lambda: len(receiver.accepted()) == 10, timeout=10)
    # after dedup by event_id: exactly the 10 events
    assert len({e["event_id"] for e in receiver.accepted()}) == 10
    assert mon.stats()["failures"] == 3


def test_other_4xx_drops_the_batch_and_counts_it(
    receiver: Receiver, make_monitor: MakeMonitor, registry: CollectorRegistry
) -> None:
    receiver.fail_next, receiver.fail_status = 1, 400
    mon = make_monitor(sink=receiver.url)
    _observe(mon, 5)
    assert mon.flush(10)
    _observe(mon, 3)
    assert mon.flush(10)
    assert len(receiver.accepted()) == 3
    assert mon.stats()["dropped"] == {"rejected": 5}
    assert (
        registry.get_sample_value(
            "driftline_sdk_events_dropped_total", {"model": "credit_risk", "reason": "rejected"}
        )
        == 5
    )


def test_spool_is_bounded_and_overflow_is_dropped_and_counted(make_monitor: MakeMonitor) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    mon = make_monitor(sink=url, batch_size=10, spool_max_bytes=3000, send_runtime=False)
    _observe(mon, 200)
    assert not mon.flush(0.5)
    stats = mon.stats()
    assert stats["spool_bytes"] <= 3000
    assert stats["spooled"] + stats["dropped"]["spool_full"] == 200
    assert stats["dropped"]["spool_full"] > 0


def test_close_has_a_deadline_even_when_the_collector_hangs(
    receiver: Receiver, registry: CollectorRegistry
) -> None:
    receiver.delay = 3.0
    mon = Monitor(
        "m",
        "v1",
        sink=receiver.url,
        registry=registry,
        timeout=0.3,
        flush_interval=0.05,
        send_runtime=False,
    )
    _observe(mon, 20)
    started = time.monotonic()
    mon.close(timeout=1.0)
    assert time.monotonic() - started < 1.6
    stats = mon.stats()
    assert stats["dropped"].get("shutdown", 0) == 20  # memory spool: counted, not silently lost


def test_disk_spool_survives_a_restart_and_is_replayed(
    tmp_path: Path, registry: CollectorRegistry
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    first = Monitor("m", "v1", sink=url, registry=registry, spool_dir=tmp_path, flush_interval=0.05)
    _observe(first, 30)
    started = time.monotonic()
    first.close(timeout=10)  # collector down: events stay on disk, close does not wait it out
    assert time.monotonic() - started < 3
    assert first.stats()["dropped"] == {}
    assert list((tmp_path / "slot-0").glob("*.json*"))
    receiver = Receiver(port).start()
    try:
        second = Monitor(
            "m", "v1", sink=url, registry=registry, spool_dir=tmp_path, flush_interval=0.05
        )
        _observe(second, 5, start=30)
        assert second.flush(10)
        second.close()
        assert [e["features"]["i"] for e in receiver.accepted()] == list(range(35))
        assert not list((tmp_path / "slot-0").glob("*.json*"))
    finally:
        receiver.stop()


def test_backoff_grows_exponentially_with_jitter_and_honours_retry_after() -> None:
    sink = HTTPSink("http://127.0.0.1:9", backoff_base=1.0, backoff_max=8.0, rng=random.Random(1))
    delays = [sink.backoff(n, None) for n in range(1, 7)]
    steps = [1, 2, 4, 8, 8, 8]
    assert all(s / 2 <= d <= s for d, s in zip(delays, steps, strict=True))
    assert sink.backoff(1, 30.0) == 30.0
    assert parse_retry_after("7", 0.0) == 7.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", 1445412480.0) == 10.0
    assert parse_retry_after("soon", 0.0) is None


def test_backoff_schedule_follows_the_injected_clock(receiver: Receiver) -> None:
    clock = ManualClock()
    receiver.fail_next = 1
    sink = HTTPSink(receiver.url, clock=clock, backoff_base=10.0, rng=random.Random(0))
    from driftline.sdk.sinks import _NullReport

    sink.open(_NullReport())
    try:
        sink.write("prediction", [{"type": "prediction", "event_id": "a"}])
        assert sink.pending() == 1
        sink.pump(force=False)  # not due yet: no request
        assert len(receiver.requests) == 1
        clock.advance(10.0)
        sink.pump(force=False)
        assert sink.pending() == 0
        assert [r["event_id"] for r in receiver.accepted()] == ["a"]
    finally:
        sink.close()


def test_disk_spool_order_bounds_slots_and_partial_files(tmp_path: Path) -> None:
    from driftline.sdk.spool import Batch

    a = DiskSpool(tmp_path, max_bytes=100)
    b = DiskSpool(tmp_path, max_bytes=100)  # a second process-like owner gets its own slot
    assert a.slot != b.slot
    assert a.push(Batch("prediction", b"[1]", 1, False))
    assert a.push(Batch("label", b"x" * 60, 2, True))
    assert not a.push(Batch("prediction", b"y" * 60, 3, False))  # would pass 100 bytes
    (a.slot / "0000000000000099-prediction-1.json.tmp").write_bytes(b"half")
    a.close()
    b.close()
    again = DiskSpool(tmp_path, max_bytes=100)
    assert again.slot == a.slot and len(again) == 2
    first = again.peek()
    assert first is not None and (first.kind, first.body, first.count) == ("prediction", b"[1]", 1)
    again.pop()
    second = again.peek()
    assert second is not None and (second.kind, second.count, second.gzipped) == ("label", 2, True)
    again.close()
    mem = MemorySpool(max_bytes=4)
    assert mem.push(Batch("prediction", b"[1]", 1, False))
    assert not mem.push(Batch("prediction", b"[1]", 1, False))


def test_a_spooled_backlog_replays_without_waiting_for_the_flush_interval(
    make_monitor: MakeMonitor,
) -> None:
    port = free_port()
    receiver = Receiver(port)
    mon = make_monitor(sink=receiver.url, batch_size=5, flush_interval=30)
    sink = mon.sink
    assert isinstance(sink, HTTPSink)
    sink.pump_budget = 0.0  # one batch per cycle: replay relies on the immediate re-wake
    sink.backoff_base = sink.backoff_max = 0.01
    _observe(mon, 100)
    assert not mon.flush(0.3)
    assert sink.pending() >= 10
    receiver.start()
    try:
        assert mon.flush(10)
        assert [e["features"]["i"] for e in receiver.accepted()] == list(range(100))
    finally:
        receiver.stop()


def test_observe_never_waits_for_a_hanging_collector(
    receiver: Receiver, registry: CollectorRegistry
) -> None:
    receiver.delay = 3.0  # accepts the connection, answers after 3 s
    mon = Monitor(
        "m", "v1", sink=receiver.url, registry=registry, timeout=2.0, flush_interval=0.01,
        batch_size=10, queue_size=500,
    )  # fmt: skip
    try:
        _observe(mon, 10)
        assert wait_until(lambda: len(receiver.requests) == 0 and mon.stats()["queued"] == 0, 2)
        started = time.monotonic()
        _observe(mon, 2000)  # the shipper is stuck in a POST meanwhile
        elapsed = time.monotonic() - started
        assert elapsed < 1.5  # a design that waited on the network would take >= 2 s
        assert mon.stats()["dropped"]["queue_full"] >= 1500  # bounded: dropped and counted
    finally:
        mon.close(timeout=0.5)


def test_a_full_feedback_batch_never_goes_before_the_predictions_it_names(
    receiver: Receiver, make_monitor: MakeMonitor
) -> None:
    """In one shipper cycle, a feedback batch that fills up is sent after the predictions
    queued before it (under load a cycle drains a long queue: the collector rejected such
    feedback as unknown_prediction)."""
    mon = make_monitor(sink=receiver.url, batch_size=8, flush_interval=30, send_runtime=False)
    mon._wake_at = 10**9  # hold the shipper until flush(): everything lands in one cycle
    ids = []
    for i in range(3):
        with mon.observe({"i": i}) as obs:
            obs.record(prediction="a")
        ids.append(obs.prediction_id)
    for i in range(8):
        mon.feedback(ids[i % 3], "thumbs", "up")
    assert mon.flush(10)
    paths = [r["path"] for r in receiver.requests]
    assert paths.index("/v1/events") < paths.index("/v1/feedback"), paths
    assert sum(len(r["records"]) for r in receiver.requests if r["path"] == "/v1/feedback") == 8


def test_an_id_read_after_the_event_was_shipped_is_the_id_that_was_sent(
    make_monitor: MakeMonitor,
) -> None:
    """Ids are made lazily: one read only after the shipper encoded the event must name the
    sent event (before, it made a second id, and feedback on it was an unknown prediction)."""
    mon = make_monitor(sink="memory", send_runtime=False)
    observed = []
    for i in range(50):
        with mon.observe({"i": i}) as obs:
            obs.record(prediction="a")
        observed.append(obs)
    assert mon.flush(10)
    sent = [e["prediction_id"] for e in mon.sink.events]
    assert [o.prediction_id for o in observed] == sent
    assert [o.event_id for o in observed] == [e["event_id"] for e in mon.sink.events]
