"""Monitor: observe/record/track/label/feedback/flush/close and the in-memory and file sinks."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from driftline.errors import ConfigError, DriftlineError
from driftline.sdk import ManualClock, MemorySink, Monitor, Prediction, SDKConfigError
from driftline.sdk._ids import uuid7_ms
from driftline.sdk.context import request_id

from .conftest import wait_until

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
MakeMonitor = Callable[..., Monitor]


def test_observe_records_a_complete_prediction_event(make_monitor: MakeMonitor) -> None:
    clock = ManualClock(start=1_700_000_000.25)
    mon = make_monitor(clock=clock)
    with mon.observe({"age": 41, "income": 52_000.0}, segment={"region": "eu"}) as obs:
        clock.advance(0.004)
        obs.record(prediction="approve", scores={"approve": 0.8, "reject": 0.2}, channel="web")
    assert mon.flush(5)
    (event,) = mon.sink.events  # type: ignore[attr-defined]
    assert event == {
        "type": "prediction",
        "event_id": event["event_id"],
        "prediction_id": event["event_id"],
        "timestamp": "2023-11-14T22:13:20.250000Z",
        "model": "credit_risk",
        "version": "v3",
        "features": {"age": 41, "income": 52_000.0},
        "prediction": "approve",
        "scores": {"approve": 0.8, "reject": 0.2},
        "segment": {"region": "eu"},
        "latency_ms": pytest.approx(4.0),
        "status": "ok",
        "error_type": None,
        "shadow": False,
        "tags": {"channel": "web"},
    }
    # a version-7 UUID (RFC 9562): time-ordered, so the collector's id index grows at one end
    assert re.fullmatch(r"[0-9a-f]{12}7[0-9a-f]{3}[89ab][0-9a-f]{15}", event["event_id"])


def test_event_ids_are_unique_and_prediction_id_is_readable_on_the_hot_path(
    make_monitor: MakeMonitor,
) -> None:
    mon = make_monitor()
    ids = []
    for i in range(300):
        with mon.observe({"i": i}) as obs:
            pass
        if i == 0:
            ids.append(obs.prediction_id)
    assert mon.flush(5)
    events = mon.sink.events  # type: ignore[attr-defined]
    assert len({e["event_id"] for e in events}) == 300
    assert events[0]["prediction_id"] == ids[0] == events[0]["event_id"]
    assert all(RFC3339.match(e["timestamp"]) for e in events)
    made = [uuid7_ms(e["event_id"]) for e in events]
    assert abs(max(made) - time.time() * 1000) < 60_000


def test_an_error_is_recorded_and_still_raised_to_the_caller(
    make_monitor: MakeMonitor, registry: CollectorRegistry
) -> None:
    mon = make_monitor()
    with pytest.raises(ZeroDivisionError), mon.observe({"x": 1}):
        _ = 1 / 0
    assert mon.flush(5)
    (event,) = mon.sink.events  # type: ignore[attr-defined]
    assert (event["status"], event["error_type"], event["prediction"]) == (
        "error",
        "ZeroDivisionError",
        None,
    )
    labels = {"model": "credit_risk", "version": "v3"}
    assert registry.get_sample_value("driftline_predictions_total", {**labels, "outcome": "error"})
    assert registry.get_sample_value(
        "driftline_prediction_errors_total", {**labels, "error_type": "ZeroDivisionError"}
    )


def test_explicit_and_request_prediction_ids(make_monitor: MakeMonitor) -> None:
    mon = make_monitor()
    with mon.observe({}, prediction_id="req-1"):
        pass
    token = request_id.set("req-2")
    try:
        with mon.observe({}):
            pass
    finally:
        request_id.reset(token)
    assert mon.flush(5)
    assert [e["prediction_id"] for e in mon.sink.events] == ["req-1", "req-2"]  # type: ignore[attr-defined]


def test_track_decorates_sync_functions_methods_and_async_functions(
    make_monitor: MakeMonitor,
) -> None:
    mon = make_monitor()

    @mon.track
    def predict(features: dict[str, float]) -> str:
        return "yes" if features["x"] > 0 else "no"

    class Model:
        @mon.track(segment={"tier": "gold"})
        def predict(self, row: dict[str, float]) -> Prediction:
            return Prediction("yes", [0.1, 0.9])

    @mon.track(features="payload", version="v4")
    async def apredict(user: str, payload: dict[str, float]) -> int:
        await asyncio.sleep(0)
        return 1

    assert predict({"x": 1.0}) == "yes"
    assert Model().predict({"x": 2.0}) == Prediction("yes", [0.1, 0.9])
    assert asyncio.run(apredict("u", payload={"x": 3.0})) == 1
    assert mon.flush(5)
    events = mon.sink.events  # type: ignore[attr-defined]
    assert [(e["features"], e["prediction"], e["scores"], e["version"]) for e in events] == [
        ({"x": 1.0}, "yes", None, "v3"),
        ({"x": 2.0}, "yes", [0.1, 0.9], "v3"),
        ({"x": 3.0}, 1, None, "v4"),
    ]
    assert events[1]["segment"] == {"tier": "gold"}


def test_track_with_an_unknown_parameter_is_a_config_error(make_monitor: MakeMonitor) -> None:
    mon = make_monitor()
    with pytest.raises(SDKConfigError, match="no such parameter"):

        @mon.track(features="nope")
        def predict(x: int) -> int:
            return x


def test_labels_feedback_and_versions(make_monitor: MakeMonitor) -> None:
    mon = make_monitor()
    mon.label("p-1", "reject")
    mon.feedback("p-1", "thumbs", 1, version="v2")
    assert mon.flush(5)
    sink: Any = mon.sink
    (label,) = sink.labels
    (fb,) = sink.feedback
    assert {k: label[k] for k in ("type", "prediction_id", "model", "version", "label")} == {
        "type": "label",
        "prediction_id": "p-1",
        "model": "credit_risk",
        "version": "v3",
        "label": "reject",
    }
    assert (fb["type"], fb["kind"], fb["value"], fb["version"]) == ("feedback", "thumbs", 1, "v2")
    assert set(label) == {
        "type",
        "event_id",
        "prediction_id",
        "timestamp",
        "model",
        "version",
        "label",
    }


def test_non_dict_inputs_numpy_values_and_nan_become_valid_json(make_monitor: MakeMonitor) -> None:
    np = pytest.importorskip("numpy")
    mon = make_monitor()
    with mon.observe(np.array([1.5, float("nan")])) as obs:
        obs.record(prediction=np.int64(2), scores=np.array([0.2, 0.8]))
    with mon.observe({"a": np.float32(0.5), "b": float("inf")}):
        pass
    assert mon.flush(5)
    first, second = mon.sink.events  # type: ignore[attr-defined]
    assert first["features"] == {"0": 1.5, "1": None}
    assert (first["prediction"], first["scores"]) == (2, [0.2, 0.8])
    assert second["features"] == {"a": 0.5, "b": None}


def test_a_full_queue_drops_and_counts_instead_of_blocking(
    make_monitor: MakeMonitor, registry: CollectorRegistry
) -> None:
    mon = make_monitor(queue_size=10, flush_interval=30, batch_size=10_000)
    mon.shipper.wake.clear()
    for _ in range(25):
        with mon.observe({"x": 1}):
            pass
    assert mon.stats()["dropped"]["queue_full"] >= 15
    assert (
        registry.get_sample_value(
            "driftline_sdk_events_dropped_total", {"model": "credit_risk", "reason": "queue_full"}
        )
        == mon.stats()["dropped"]["queue_full"]
    )
    assert mon.flush(5)
    # dropped events still count as predictions
    assert (
        registry.get_sample_value(
            "driftline_predictions_total",
            {"model": "credit_risk", "version": "v3", "outcome": "ok"},
        )
        == 25
    )


def test_flush_close_are_idempotent_and_later_events_are_counted_as_dropped(
    make_monitor: MakeMonitor,
) -> None:
    mon = make_monitor()
    with mon.observe({"x": 1}):
        pass
    mon.close()
    mon.close()
    assert len(mon.sink.events) == 1  # type: ignore[attr-defined]
    assert not mon.shipper.thread.is_alive()
    with mon.observe({"x": 2}):
        pass
    mon.label("p", 1)
    assert mon.stats()["dropped"]["closed"] == 2
    assert mon.flush(0.1)


def test_a_bug_inside_the_sdk_is_counted_and_logged_never_raised(
    make_monitor: MakeMonitor, registry: CollectorRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    class Hostile:
        def items(self) -> Any:
            raise RuntimeError("boom")

    mon = make_monitor()
    with caplog.at_level(logging.WARNING, logger="driftline.sdk"):
        for _ in range(3):
            with mon.observe(Hostile()) as obs:
                obs.record(prediction=1)
        with mon.observe({"ok": 1}):
            pass
        assert mon.flush(5)
    assert [e["features"] for e in mon.sink.events] == [{"ok": 1}]  # type: ignore[attr-defined]
    assert mon.stats()["dropped"]["encode_error"] == 3
    assert (
        registry.get_sample_value("driftline_sdk_internal_errors_total", {"model": "credit_risk"})
        == 3
    )
    # logged once, not three times (rate-limited)
    assert sum("internal error in encode" in r.getMessage() for r in caplog.records) == 1


def test_jsonl_sink_writes_one_record_per_line_and_rotates(
    make_monitor: MakeMonitor, tmp_path: Any
) -> None:
    from driftline.sdk import JSONLinesSink

    path = tmp_path / "logs" / "events.jsonl"
    sink = JSONLinesSink(path, max_bytes=2000, backups=2)
    mon = make_monitor(sink=sink)
    for i in range(40):
        with mon.observe({"i": i}) as obs:
            obs.record(prediction=i)
    mon.label("p", 1)
    mon.close()
    files = sorted(path.parent.iterdir())
    assert [f.name for f in files] == ["events.jsonl", "events.jsonl.1", "events.jsonl.2"]
    assert all(f.stat().st_size <= 2000 for f in files)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines[-1]["type"] == "label"
    assert lines[-2]["prediction"] == 39


def test_sink_strings(tmp_path: Any, registry: CollectorRegistry) -> None:
    mon = Monitor("m", "v1", sink=f"jsonl:{tmp_path / 'e.jsonl'}", registry=registry)
    with mon.observe({"a": 1}):
        pass
    mon.close()
    assert json.loads((tmp_path / "e.jsonl").read_text())["features"] == {"a": 1}
    with pytest.raises(SDKConfigError, match="expected a collector URL") as err:
        Monitor("m", "v1", sink="kafka://x", registry=registry)
    assert isinstance(err.value, ConfigError) and isinstance(err.value, DriftlineError)
    with pytest.raises(SDKConfigError, match="needs a file path"):
        Monitor("m", "v1", sink="jsonl:", registry=registry)
    with pytest.raises(SDKConfigError, match="metadata keys"):
        Monitor("m", "v1", registry=registry, metadata={"colour": "red"})


def test_memory_sink_default_and_context_manager(registry: CollectorRegistry) -> None:
    with Monitor("m", "v1", registry=registry) as mon:
        assert isinstance(mon.sink, MemorySink)
        with mon.observe({"a": 1}):
            pass
    assert len(mon.sink.events) == 1


def test_async_with_observe(make_monitor: MakeMonitor) -> None:
    mon = make_monitor()

    async def handler() -> None:
        async with mon.observe({"a": 1}) as obs:
            await asyncio.sleep(0)
            obs.record(prediction=True)

    asyncio.run(handler())
    assert wait_until(lambda: len(mon.sink.events) == 1)  # type: ignore[attr-defined]
    assert mon.sink.events[0]["prediction"] is True  # type: ignore[attr-defined]


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_worker_gets_its_own_shipper(tmp_path: Any) -> None:
    import multiprocessing

    path = tmp_path / "events.jsonl"
    mon = Monitor("m", "v1", sink=f"jsonl:{path}", registry=CollectorRegistry())
    with mon.observe({"who": "parent"}):
        pass
    assert mon.flush(5)

    def child() -> None:
        with mon.observe({"who": "child"}):
            pass
        mon.close()

    process = multiprocessing.get_context("fork").Process(target=child)
    process.start()
    process.join(30)
    assert process.exitcode == 0
    with mon.observe({"who": "parent again"}):
        pass
    mon.close()
    who = [json.loads(line)["features"]["who"] for line in path.read_text().splitlines()]
    assert sorted(who) == ["child", "parent", "parent again"]
