"""The wire records made on the shipper thread: timestamps, batch encoding, JSON."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from driftline.sdk import Monitor
from driftline.sdk.events import RFC3339, encode_json

MakeMonitor = Callable[..., Monitor]
MV = {"model": "credit_risk", "version": "v3"}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def expected_stamp(micros: int) -> str:
    return (EPOCH + timedelta(microseconds=micros)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@pytest.mark.parametrize(
    "micros",
    [
        [0, 1, 999_999, 1_000_000, 1_000_001, 1_999_999, 2_000_000],
        [-1, -1_000_000, -1_999_999, -1_000_001, -1_999_998, -1_500_000, 5],
        [1_700_000_000_000_000 + k for k in (0, 1, 999_999, 1_000_000, 500_000, 999_999, 7)],
        [1_700_000_000_250_000, 1_699_999_999_999_999, 1_700_000_000_000_000, 86_400_000_007],
    ],
    ids=["first-seconds", "before-1970", "second-boundaries", "back-and-forth"],
)
def test_timestamps_equal_datetime_formatting_across_seconds(micros: list[int]) -> None:
    stamp = RFC3339()
    assert [stamp.format(m) for m in micros] == [expected_stamp(m) for m in micros]


def test_missing_inputs_are_counted_per_feature_whatever_the_values(
    make_monitor: MakeMonitor, registry: CollectorRegistry
) -> None:
    np = pytest.importorskip("numpy")

    class NA:  # like pandas.NA: comparing gives NA, whose truth value is an error
        def __ne__(self, other: object) -> Any:
            return self

        def __bool__(self) -> bool:
            raise TypeError("boolean value of NA is ambiguous")

        def __str__(self) -> str:
            return "NA"

    inputs: list[dict[str, Any]] = [
        {"a": 1, "b": "x", "c": 0.5},  # nothing missing
        {"a": None, "b": "x", "c": float("nan")},
        {"a": 1, "emb": np.array([1.0, 2.0]), "c": float("nan")},  # != is element-wise
        {"a": NA(), "c": None},
        {"a": 1, "c": 0.5, "d": float("nan")},
        {},
    ]
    mon = make_monitor()
    for features in inputs:
        with mon.observe(features):
            pass
    assert mon.flush(5)
    events = mon.sink.events  # type: ignore[attr-defined]
    c = [e["features"].get("c", "absent") for e in events]
    assert c == [0.5, None, None, None, 0.5, "absent"]
    assert events[2]["features"]["emb"] == [1.0, 2.0]

    def missing(feature: str) -> float | None:
        labels = {**MV, "feature": feature}
        return registry.get_sample_value("driftline_input_missing_total", labels)

    assert (missing("a"), missing("c"), missing("d")) == (1, 3, 1)
    # the first event's features have their series from the start, at 0 (so Prometheus rate() sees
    # the first increase); a later feature set of the same size gets them at its first missing value
    assert missing("b") == 0


def test_a_bad_event_in_a_batch_drops_only_itself_and_counts_every_prediction_once(
    make_monitor: MakeMonitor, registry: CollectorRegistry
) -> None:
    class Hostile:
        def items(self) -> Any:
            raise RuntimeError("boom")

    mon = make_monitor(flush_interval=30, batch_size=10_000)
    mon._wake_at = 10_000  # hold the shipper: all 50 go out as one batch
    for i in range(50):
        with mon.observe(Hostile() if i % 10 == 3 else {"i": i}) as obs:
            obs.record(prediction="yes", scores={"yes": 0.9, "no": 0.1})
    assert mon.flush(5)
    events = mon.sink.events  # type: ignore[attr-defined]
    assert [e["features"]["i"] for e in events] == [i for i in range(50) if i % 10 != 3]
    assert mon.stats()["dropped"]["encode_error"] == 5
    value = registry.get_sample_value
    assert value("driftline_predictions_total", {**MV, "outcome": "ok"}) == 50
    assert value("driftline_prediction_latency_seconds_count", MV) == 50
    assert value("driftline_predicted_class_total", {**MV, "class": "yes"}) == 45


@pytest.mark.parametrize(
    ("scores", "top"),
    [
        ({"a": 0.2, "b": 0.7}, 0.7),
        ({0: 0.25, 1: 0.75}, 0.75),
        ({"a": 1, "b": 0}, 1.0),
        ({"a": None, "b": 0.4}, None),
        ({"a": float("nan"), "b": 0.4}, None),
        ({}, None),
        ([0.3, 0.6], 0.6),
    ],
    ids=["floats", "int-keys", "int-values", "none-value", "nan-first", "empty", "list"],
)
def test_the_score_histogram_sees_the_finite_top_score(
    make_monitor: MakeMonitor, registry: CollectorRegistry, scores: Any, top: float | None
) -> None:
    mon = make_monitor()
    with mon.observe({}) as obs:
        obs.record(prediction="yes", scores=scores)
    assert mon.flush(5)
    count = registry.get_sample_value("driftline_prediction_score_count", MV)
    total = registry.get_sample_value("driftline_prediction_score_sum", MV)
    assert (count, total) == ((0, 0) if top is None else (1, pytest.approx(top)))
    (event,) = mon.sink.events  # type: ignore[attr-defined]
    assert event["scores"] == json.loads(json.dumps(scores).replace("NaN", "null"))


@pytest.mark.parametrize("size", [100, 2_400], ids=["one-call", "in-slices"])
def test_json_handles_integer_keys_nan_and_arrays_anywhere_in_a_batch(size: int) -> None:
    np = pytest.importorskip("numpy")
    records: list[dict[str, Any]] = [{"s": {"a": 1.0}, "n": i} for i in range(size)]
    special = {"s": {0: 0.5, 1: float("nan")}, "v": np.array([1, 2]), "x": float("inf")}
    records[size * 2 // 3] = special
    decoded = json.loads(encode_json(records))
    expected = [{"s": {"a": 1.0}, "n": i} for i in range(size)]
    expected[size * 2 // 3] = {"s": {"0": 0.5, "1": None}, "v": [1, 2], "x": None}
    assert decoded == expected
