"""Prometheus metrics of the Monitor: names, labels, values, cardinality caps, resources."""

from __future__ import annotations

import re
import sys
import threading
import types
from collections.abc import Callable

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from driftline.sdk import ManualClock, Monitor, SDKConfigError
from driftline.sdk.metrics import OTHER, model_metrics
from driftline.sdk.resources import ResourceSampler, load_nvml

MakeMonitor = Callable[..., Monitor]
MV = {"model": "credit_risk", "version": "v3"}


def test_prediction_metrics(make_monitor: MakeMonitor, registry: CollectorRegistry) -> None:
    clock = ManualClock()
    mon = make_monitor(clock=clock, metadata={"task": "binary", "owner": "risk-team"})
    for i, (latency, label, proba) in enumerate(
        [(0.003, "approve", 0.91), (0.02, "reject", 0.55), (0.2, "approve", 0.97)]
    ):
        with mon.observe({"age": None if i == 0 else 30, "income": float("nan")}) as obs:
            clock.advance(latency)
            obs.record(prediction=label, scores={"approve": proba, "reject": 1 - proba})
    assert mon.flush(5)
    value = registry.get_sample_value
    assert value("driftline_predictions_total", {**MV, "outcome": "ok"}) == 3
    assert value("driftline_prediction_latency_seconds_count", MV) == 3
    assert value("driftline_prediction_latency_seconds_sum", MV) == pytest.approx(0.223)
    assert value("driftline_prediction_latency_seconds_bucket", {**MV, "le": "0.005"}) == 1
    assert value("driftline_prediction_latency_seconds_bucket", {**MV, "le": "0.025"}) == 2
    assert value("driftline_predicted_class_total", {**MV, "class": "approve"}) == 2
    assert value("driftline_prediction_score_bucket", {**MV, "le": "0.6"}) == 1
    assert value("driftline_prediction_score_count", MV) == 3
    assert value("driftline_input_missing_total", {**MV, "feature": "age"}) == 1
    assert value("driftline_input_missing_total", {**MV, "feature": "income"}) == 3
    info = {**MV, "task": "binary", "framework": "", "owner": "risk-team"}
    assert value("driftline_model_info", info) == 1
    assert value("driftline_sdk_events_sent_total", {"model": "credit_risk", "kind": "prediction"})
    # series exist from the start (initialised children)
    assert value("driftline_predictions_total", {**MV, "outcome": "error"}) == 0


def test_in_flight_gauge_is_live(make_monitor: MakeMonitor, registry: CollectorRegistry) -> None:
    mon = make_monitor()
    inside = threading.Event()
    leave = threading.Event()

    def work() -> None:
        with mon.observe({}):
            inside.set()
            leave.wait(5)

    thread = threading.Thread(target=work)
    thread.start()
    assert inside.wait(5)
    assert registry.get_sample_value("driftline_predictions_in_flight", MV) == 1
    leave.set()
    thread.join(5)
    assert registry.get_sample_value("driftline_predictions_in_flight", MV) == 0


def test_label_values_are_capped(make_monitor: MakeMonitor, registry: CollectorRegistry) -> None:
    mon = make_monitor(max_label_values=3)
    for i in range(10):
        with mon.observe({}) as obs:
            obs.record(prediction=f"class-{i}")
    assert mon.flush(5)
    text = generate_latest(registry).decode()
    classes = [
        line for line in text.splitlines() if line.startswith("driftline_predicted_class_total")
    ]
    assert len(classes) == 4
    assert registry.get_sample_value("driftline_predicted_class_total", {**MV, "class": OTHER}) == 7


def test_no_ids_or_raw_values_in_labels(
    make_monitor: MakeMonitor, registry: CollectorRegistry
) -> None:
    mon = make_monitor()
    with mon.observe({"email": "someone@example.org"}, prediction_id="req-abc") as obs:
        obs.record(prediction=0.731, scores=0.731)
    assert mon.flush(5)
    text = generate_latest(registry).decode()
    label_sets = " ".join(re.findall(r"\{[^}]*\}", text))
    assert "req-abc" not in label_sets and "someone@" not in label_sets
    assert "0.731" not in label_sets


def test_buckets_must_agree_within_a_registry(registry: CollectorRegistry) -> None:
    model_metrics(registry)
    with pytest.raises(SDKConfigError, match="other buckets"):
        model_metrics(registry, latency_buckets=(0.1, 1.0))
    other = CollectorRegistry()
    assert model_metrics(other, latency_buckets=(0.1, 1.0)).latency_buckets == (0.1, 1.0)


def test_process_resources_are_sampled(
    make_monitor: MakeMonitor, registry: CollectorRegistry
) -> None:
    mon = make_monitor()
    assert mon.flush(5)
    assert registry.get_sample_value("driftline_process_resident_memory_bytes") > 1_000_000
    assert registry.get_sample_value("driftline_process_cpu_seconds_total") is not None


def test_gpu_gauges_through_nvml(
    registry: CollectorRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No GPU on this machine: a stand-in module with NVML's function names.
    nvml = types.ModuleType("pynvml")
    calls: list[str] = []

    def init() -> None:
        calls.append("init")

    nvml.nvmlInit = init  # type: ignore[attr-defined]
    nvml.nvmlDeviceGetCount = lambda: 2  # type: ignore[attr-defined]
    nvml.nvmlDeviceGetHandleByIndex = lambda i: i  # type: ignore[attr-defined]
    nvml.nvmlDeviceGetUtilizationRates = lambda h: types.SimpleNamespace(gpu=40 + h)  # type: ignore[attr-defined]
    nvml.nvmlDeviceGetMemoryInfo = lambda h: types.SimpleNamespace(used=2**30 * (h + 1))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    loaded = load_nvml()
    assert loaded is nvml and calls == ["init"]
    sampler = ResourceSampler(model_metrics(registry), loaded)
    sampler.sample()
    assert registry.get_sample_value("driftline_gpu_utilization_ratio", {"gpu": "1"}) == 0.41
    assert registry.get_sample_value("driftline_gpu_memory_used_bytes", {"gpu": "0"}) == 2**30


def test_without_nvml_there_are_no_gpu_series(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)
    assert load_nvml() is None


@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        ({"a": 0.2, "b": 0.7}, 0.7),
        ([0.1, float("nan"), 0.6], 0.6),
        (0.4, 0.4),
        (float("nan"), None),
        (float("inf"), None),
        ("high", None),
        (None, None),
        ([], None),
    ],
    ids=["dict", "list-with-nan", "float", "nan", "inf", "text", "none", "empty"],
)
def test_top_score_never_yields_a_non_finite_value(scores: object, expected: float | None) -> None:
    from driftline.sdk.metrics import top_score

    assert top_score(scores) == expected


def test_a_nan_score_does_not_poison_the_histogram(
    make_monitor: MakeMonitor, registry: CollectorRegistry
) -> None:
    mon = make_monitor()
    for score in (float("nan"), 0.8):
        with mon.observe({}) as obs:
            obs.record(prediction="yes", scores=score)
    assert mon.flush(5)
    assert registry.get_sample_value("driftline_prediction_score_sum", MV) == pytest.approx(0.8)
    assert registry.get_sample_value("driftline_prediction_score_count", MV) == 1
