"""The SDK drops what the collector refuses as invalid, counts it, and goes on (issue 13, item 2).

Before, a NUL character in a prediction id made PostgreSQL fail the whole
batch with 500 and the SDK retried it forever: nothing sent later arrived.
Now the collector rejects that record alone (200 listing it, or 422 when it
was the only one) and the SDK counts it as dropped (``reason="rejected"``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry

from driftline.sdk import Monitor
from driftline.sdk.clock import ManualClock
from driftline.server import Settings, create_app
from driftline.server.auth import create_key
from driftline.store import open_store
from support import serving

from .test_privacy_paths import store_url  # noqa: F401 - the SQLite / PostgreSQL fixture


@pytest.fixture
def collector(store_url: str) -> Iterator[tuple[str, str, object]]:  # noqa: F811
    clock = ManualClock(time.time())
    store = open_store(store_url)
    key, _ = create_key(store, clock, name="sdk", scopes=("ingest",))
    app = create_app(Settings(), store, clock, background=False, dashboard=False)
    try:
        with serving(app) as served:
            yield served.url, key, store
    finally:
        store.close()


def test_invalid_records_are_dropped_counted_and_later_events_arrive(
    collector: tuple[str, str, object],
) -> None:
    url, key, store = collector
    registry = CollectorRegistry()
    mon = Monitor(model="m", version="v1", sink=url, api_key=key, registry=registry)
    try:
        for i in range(5):  # one record of the batch has a NUL in its prediction id
            with mon.observe({"x": 1.0}, prediction_id="bad\x00id" if i == 2 else f"p{i}") as o:
                o.record(prediction=1)
        assert mon.flush(10)
        with mon.observe({"x": 1.0}, prediction_id="\x00") as o:  # a batch of only that: 422
            o.record(prediction=1)
        assert mon.flush(10)
        for i in range(100):
            with mon.observe({"x": float(i)}) as o:
                o.record(prediction=1)
        assert mon.flush(10)
    finally:
        mon.close()
    dropped = registry.get_sample_value(
        "driftline_sdk_events_dropped_total", {"model": "m", "reason": "rejected"}
    )
    assert dropped == 2
    sent = registry.get_sample_value(
        "driftline_sdk_events_sent_total", {"model": "m", "kind": "prediction"}
    )
    assert sent == 104
    assert sum(v["events"] for m in store.models() for v in m["versions"]) == 104  # type: ignore[attr-defined]
