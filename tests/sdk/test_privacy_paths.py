"""The canary PII test on every path a value or a name takes out of the process (issue 13, item 5).

The canaries of test_privacy (also inside lists, nested objects, feature names
and class names) go through a Monitor with the masking policy: first into a
disk spool while the collector is down, then into a real collector on
loopback, stored in SQLite or PostgreSQL, folded into window profiles and
evaluated. None reaches the spool files, any table of the store (window
profiles decompressed), the collector's /metrics or the SDK's own metrics.
"""

from __future__ import annotations

import contextlib
import gzip
import time
import zlib
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import select

from driftline.sdk import Monitor, PrivacyPolicy
from driftline.sdk.clock import ManualClock
from driftline.server import Settings, create_app
from driftline.server.auth import create_key
from driftline.store import open_store
from driftline.store import tables as t
from postgres_db import store_url_fixture
from support import free_port, serving

from .test_privacy import CANARIES, KEY, _plant_canaries


@pytest.fixture
def policy() -> PrivacyPolicy:
    """test_privacy's policy: mask text by default, hash ids, drop passwords."""
    return PrivacyPolicy(
        {"user_id": "hash", "prediction_id": "hash", "password": "drop",
         "complaint": ("length", "tokens"), "embedding": ("norm", "dim"), "tags.contact": "mask"},
        text_default="mask",
        hash_key=KEY,
    )  # fmt: skip


store_url = store_url_fixture("driftline_privacy")


def _leaks(text: str) -> list[str]:
    return [c for c in CANARIES if c in text]


def test_canary_pii_reaches_no_spool_file_store_table_or_metric(
    store_url: str, tmp_path: Path, policy: PrivacyPolicy
) -> None:
    port = free_port()
    spool = tmp_path / "spool"
    registry = CollectorRegistry()
    clock = ManualClock(time.time())
    store = open_store(store_url)
    key, _ = create_key(store, clock, name="sdk", scopes=("admin",))
    mon = Monitor(
        model="credit_risk", version="v3", sink=f"http://127.0.0.1:{port}", api_key=key,
        privacy=policy, spool_dir=spool, registry=registry, flush_interval=0.05,
    )  # fmt: skip
    try:
        _plant_canaries(mon)  # the collector is not up yet: batches go to the spool
        assert mon.flush(10, durable_ok=True)
        files = [p for p in spool.rglob("*") if p.is_file() and p.suffix in (".json", ".gz")]
        assert files, "the batches were spooled to disk"
        for f in files:
            data = f.read_bytes()
            text = (gzip.decompress(data) if f.suffix == ".gz" else data).decode()
            assert _leaks(text) == [], f.name
        # now the collector comes up and the spool drains into it
        app = create_app(Settings(), store, clock, background=False, dashboard=False)
        with serving(app, port=port):
            assert mon.flush(30), "the spool drained into the collector"
            collector = app.state.collector
            collector.tick(force_flush=True)
            clock.advance(400)  # the windows close: evaluate them (drift, quality, schema)
            collector.tick(force_flush=True)
            metrics = httpx.get(
                f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {key}"}
            ).text
        dump: list[str] = [metrics]
        engine = store.engine  # type: ignore[attr-defined]
        with engine.connect() as conn:
            for table in t.metadata.sorted_tables:
                for row in conn.execute(select(table)):
                    for v in row:
                        if isinstance(v, bytes | memoryview):
                            raw = bytes(v)
                            with contextlib.suppress(zlib.error):
                                raw = zlib.decompress(raw)
                            dump.append(raw.decode("utf-8", "replace"))
                        else:
                            dump.append(str(v))
        text = "\n".join(dump)
        assert "credit_risk" in text and "<email>" in text  # the events are there, masked
        assert sum(1 for _ in store.models()) == 1
        assert _leaks(text) == []
        store.close()
    finally:
        mon.close()
    sdk_metrics = generate_latest(registry).decode()
    assert "driftline_predicted_class_total" in sdk_metrics
    assert 'class="refer <email>"' in sdk_metrics  # as sent, not as predicted
    assert _leaks(sdk_metrics) == []
