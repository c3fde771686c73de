"""Two real ``driftline serve`` processes on PostgreSQL: SIGKILL the alerting leader.

The in-process version (test_alerting_lease.py) stops a replica's ticks; here the
leader is a real collector process killed with ``kill -9`` (no shutdown hook, no
lease release). The other process takes the lease once it expired (within the lease
plus a tick, plus what a busy machine adds), and a real webhook receiver on loopback
gets every alert exactly once: the one the dead leader sent is not sent again, the
one that fires after the kill is sent by the new leader.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import pytest

from driftline.alerts.store import SQLAlertStore
from driftline.server.collector import ALERTING_LEASE
from driftline.store import open_store
from postgres_db import fresh_database, require_postgres
from support import free_port

from .test_processes import Server

LEASE = 4.0
TICK = 0.5
WINDOW = 60


def _errors(model: str, start: float) -> list[dict[str, Any]]:
    """40 failed predictions in the closed window starting at ``start``."""
    return [
        {"event_id": f"{model}-{i}", "timestamp": start + i, "model": model, "version": "v1",
         "features": {"x": 1.0}, "prediction": 1, "status": "error", "error_type": "Timeout"}
        for i in range(40)
    ]  # fmt: skip


def _firing(got: list[dict[str, Any]]) -> list[str]:
    return sorted(
        a["labels"]["model"]
        for body in list(got)
        for a in body.get("alerts", [])
        if a["status"] == "firing"
    )


def _until(what: str, check: Any, timeout: float) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if check():
            return time.monotonic() - t0
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {timeout:.0f} s")


@pytest.mark.slow
def test_sigkill_of_the_alerting_leader_process_hands_over_without_loss_or_repeat(
    tmp_path: Path, receiver: tuple[str, list[dict[str, Any]]]
) -> None:
    require_postgres()
    hook, got = receiver
    config = tmp_path / "driftline.yaml"
    config.write_text(
        f"""
collector:
  alerting_lease_seconds: {LEASE}
  tick_seconds: {TICK}
  windows: {{sizes: [{WINDOW}], grace_seconds: 1, checkpoint_seconds: 1}}
alerts:
  rules:
    - {{name: errors, metric: error_rate, op: ">", threshold: 0.5, for: 1,
       severity: critical, team: ops}}
  receivers: [{{name: hook, webhook: {{url: "{hook}", format: json}}}}]
  route: {{receiver: hook, group_wait: 0s, group_interval: 1m, repeat_interval: 1000h}}
"""
    )
    # windows that closed minutes ago: evaluated on the next tick, no waiting for real time
    base = (int(time.time()) // WINDOW - 5) * WINDOW
    started: list[Server] = []
    store: Any = None
    with fresh_database("driftline_failover") as url:
        try:
            a = Server(url, free_port(), tmp_path / "a.log", config=config)
            b = Server(url, free_port(), tmp_path / "b.log", config=config)
            started += [a, b]
            a.start()
            store = open_store(url)

            def holder() -> str | None:
                lease = store.lease(ALERTING_LEASE)
                return None if lease is None else str(lease["holder"])

            _until("a takes the lease", lambda: holder() == f"port{a.port}", 60)
            b.start()
            assert a.post("/v1/events", _errors("fraud", base)).json()["accepted"] == 40
            _until("fraud's alert", lambda: _firing(got) == ["fraud"], 90)
            # delivery is at least once: a notification sent but not yet recorded as delivered
            # when its sender dies is sent again by the next leader (docs/collector.md); kill
            # a after it recorded the delivery, so that any repeat below is a real double
            outbox = SQLAlertStore(store.engine)  # type: ignore[attr-defined]
            _until(
                "fraud's delivery recorded",
                lambda: [d.status for d in outbox.deliveries()] == ["delivered"],
                30,
            )

            a.kill(signal.SIGKILL)  # no lease release, no shutdown
            killed = time.monotonic()
            assert b.post("/v1/events", _errors("churn", base + WINDOW)).json()["accepted"] == 40
            _until("b takes the lease", lambda: holder() == f"port{b.port}", 60)
            took = time.monotonic() - killed
            print(f"failover {took:.1f} s after the SIGKILL (lease {LEASE} s, tick {TICK} s)")
            # the lease's expiry plus one tick of b; a busy machine delays ticks a little
            assert took <= LEASE + TICK + 5.0, f"failover took {took:.1f} s"
            _until("churn's alert", lambda: "churn" in _firing(got), 90)
            time.sleep(3 * TICK + 1)  # a few more ticks: nothing is sent twice
            assert _firing(got) == ["churn", "fraud"]
        finally:
            if store is not None:  # a failed assertion must not leak its connections
                store.close()
            for s in started:
                s.kill()
