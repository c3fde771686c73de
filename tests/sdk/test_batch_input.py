"""`Monitor.observe(dataframe)`: one row is that row; several rows are refused, said and counted."""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from prometheus_client import CollectorRegistry

from driftline.sdk import Monitor

MakeMonitor = Callable[..., Monitor]


def test_a_one_row_frame_is_observed_as_its_row(make_monitor: MakeMonitor) -> None:
    mon = make_monitor()
    for frame in (
        pd.DataFrame({"age": [41], "plan": ["pro"]}),
        pa.table({"age": [41], "plan": ["pro"]}),
    ):
        with mon.observe(frame) as obs:
            obs.record(prediction="approve")
    assert mon.flush(5)
    events = mon.sink.events  # type: ignore[attr-defined]
    assert [e["features"] for e in events] == [{"age": 41, "plan": "pro"}] * 2


def test_a_frame_of_several_rows_is_refused_with_a_message_and_counted(
    make_monitor: MakeMonitor, registry: CollectorRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    mon = make_monitor()
    batch = pd.DataFrame({"age": [41, 52, 33], "plan": ["pro", "free", "team"]})
    with caplog.at_level(logging.WARNING, logger="driftline"):
        with mon.observe(batch) as obs:  # never raises into the service
            obs.record(prediction=np.array([1, 0, 1]))
        with mon.observe(np.ones((4, 2))) as obs:
            obs.record(prediction=[1, 1, 1, 1])
    assert mon.flush(5)
    assert mon.sink.events == []  # type: ignore[attr-defined]  # no event of list-valued features
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "Monitor.observe() takes one input, got a DataFrame of 3 rows" in said
    assert "for row in df.to_dict('records')" in said
    assert mon.stats()["dropped"]["batch_input"] == 2
    assert (
        registry.get_sample_value(
            "driftline_sdk_events_dropped_total", {"model": "credit_risk", "reason": "batch_input"}
        )
        == 2
    )
    labels = {"model": "credit_risk", "version": "v3", "outcome": "ok"}
    assert registry.get_sample_value("driftline_predictions_total", labels) == 2
