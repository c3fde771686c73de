"""Slow uploads on one key cannot lock other keys out (issue 13, item 4), over a real socket.

The attack: connections that send their headers and then trickle the body one
byte at a time. Before the fix they held the process's ingest slots and every
other project got 429. Now a body must arrive within ``body_timeout_seconds``
(408), one key has at most ``max_inflight_per_key`` requests in flight, and
the process's slots are taken only once a body has arrived.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from driftline.sdk.clock import ManualClock
from driftline.server import Settings, create_app
from driftline.server.auth import create_key
from driftline.store import open_store
from support import serving

from .conftest import T0, prediction


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str, str, object]]:
    clock = ManualClock(T0)
    store = open_store(f"sqlite:///{tmp_path / 'c.db'}")
    evil, _ = create_key(store, clock, name="evil", scopes=("ingest",), project="evil")
    good, _ = create_key(store, clock, name="good", scopes=("ingest",), project="good")
    settings = Settings(body_timeout_seconds=1.0, max_inflight_per_key=2, max_inflight=4)
    app = create_app(settings, store, clock, background=False, dashboard=False)
    try:
        with serving(app) as served:
            yield served.url, evil, good, app
    finally:
        store.close()


def _trickle(port: int, key: str, stop: threading.Event, answers: list[bytes]) -> None:
    """Headers, then one body byte every 0.2 s until the server answers or ``stop``."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        head = (
            "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {key}\r\nContent-Length: 100000\r\n\r\n["
        )
        s.sendall(head.encode())
        s.settimeout(0.2)
        got = b""
        while not stop.is_set():
            try:
                chunk = s.recv(4096)
            except TimeoutError:
                try:
                    s.sendall(b" ")
                except OSError:
                    break
                continue
            if not chunk:
                break
            got += chunk
            if b"\r\n\r\n" in got:
                break
        answers.append(got)


def test_a_slowloris_on_one_key_never_makes_another_key_get_429(
    served: tuple[str, str, str, object],
) -> None:
    url, evil, good, app = served
    port = int(url.rsplit(":", 1)[1])
    innocent = {"Authorization": f"Bearer {good}"}
    warm = httpx.post(url + "/v1/events", json=[prediction(99, model="innocent")], headers=innocent)
    assert warm.status_code == 200  # the model's first event (its schema) before the attack
    stop = threading.Event()
    answers: list[bytes] = []
    attackers = [
        threading.Thread(target=_trickle, args=(port, evil, stop, answers)) for _ in range(8)
    ]
    for t in attackers:
        t.start()
    time.sleep(0.3)  # the trickling connections are in
    statuses, waits = [], []
    try:
        with httpx.Client(base_url=url, timeout=10) as client:
            for i in range(10):
                t0 = time.perf_counter()
                r = client.post(
                    "/v1/events",
                    json=[prediction(i, model="innocent")],
                    headers=innocent,
                )
                waits.append(time.perf_counter() - t0)
                statuses.append(r.status_code)
    finally:
        for t in attackers:
            t.join(15)
        stop.set()
    assert statuses == [200] * 10
    assert max(waits) < 1.0, waits
    codes = sorted(a.split(b" ", 2)[1].decode() for a in answers if a)
    # two trickling requests were admitted (the key's limit) and timed out; the rest got 429
    assert codes == ["408"] * 2 + ["429"] * 6, answers
    registry = app.state.collector.metrics.registry  # type: ignore[attr-defined]
    limit = {"limit": "max_inflight_per_key"}
    assert registry.get_sample_value("driftline_limit_rejects_total", limit) == 6
    timeout = {"limit": "body_timeout_seconds"}
    assert registry.get_sample_value("driftline_limit_rejects_total", timeout) == 2
