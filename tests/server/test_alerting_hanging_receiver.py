"""A hanging webhook does not freeze evaluation (issue 13, item 3), on a real loopback socket.

The receiver accepts the connection and answers only when the test ends. In
``serve`` notifications are sent by a delivery worker (one thread per
receiver), so the windows after the firing one are still evaluated on time;
before, the tick waited on the receiver and a closed window stayed
unevaluated for minutes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from driftline.sdk.clock import ManualClock
from driftline.server.auth import create_key
from driftline.store import MetricQuery, open_store
from support import http_server

from .test_alerting import GRACE, T0, WINDOW, Run, wait_for

CONFIG = """
collector:
  tick_seconds: 0.05
  windows: {{sizes: [1m], grace_seconds: {grace}}}
alerts:
  min_samples: 1
  rules:
    - name: traffic
      metric: request_count
      segment: "[*]"
      op: ">="
      threshold: 1
      for: 1
      severity: warning
  receivers:
    - name: hanging
      webhook: {{url: "{url}/hook", format: json}}
      retry: {{timeout: 60s, attempts: 1}}
    - name: prompt
      webhook: {{url: "{url}/prompt", format: json}}
  route:
    receiver: hanging
    group_wait: 0s
    group_interval: 1m
    routes:
      - {{matchers: [alertname=traffic], receiver: prompt, continue: true}}
      - {{matchers: [alertname=traffic], receiver: hanging}}
"""


@pytest.fixture
def hanging() -> Iterator[tuple[str, list[str], threading.Event]]:
    """A receiver whose ``/hook`` answers only once ``release`` is set; ``/prompt`` at once."""
    hits: list[str] = []
    release = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return None

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            hits.append(self.path)
            if self.path == "/hook":
                release.wait(60)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    with http_server(Handler) as url:
        try:
            yield url, hits, release
        finally:
            release.set()  # before the server stops: the hanging request ends


def test_windows_are_evaluated_on_time_while_a_receiver_hangs(
    tmp_path: Path, hanging: tuple[str, list[str], threading.Event]
) -> None:
    url, hits, release = hanging
    config = tmp_path / "driftline.yaml"
    config.write_text(CONFIG.format(url=url, grace=GRACE))
    clock = ManualClock(T0)
    store = open_store(f"sqlite:///{tmp_path / 'c.db'}")
    key, _ = create_key(store, clock, name="test", scopes=("admin",))
    auth = {"Authorization": f"Bearer {key}"}
    took: list[float] = []
    try:
        with Run(config, store, clock) as run:
            for w in range(4):
                batch = [
                    {"event_id": f"w{w}-{i}", "timestamp": T0 + w * WINDOW + i, "model": "m",
                     "version": "v1", "features": {"x": float(i)}, "prediction": 1}
                    for i in range(20)
                ]  # fmt: skip
                assert run.client.post("/v1/events", json=batch, headers=auth).status_code == 200
                clock.advance(T0 + (w + 1) * WINDOW + GRACE + 1 - clock.time())
                t0 = time.monotonic()
                start = T0 + w * WINDOW
                query = MetricQuery(model="m", metric="events", window_size=WINDOW, start=start)
                wait_for(f"window {w} evaluated", lambda q=query: bool(store.metric_points(q)))
                took.append(time.monotonic() - t0)
                if w == 0:  # the alert fired: its delivery to /hook hangs from now on
                    wait_for("the hanging receiver to be called", lambda: "/hook" in hits)
            # the other receiver was not held up by the hanging one
            wait_for("the prompt receiver", lambda: "/prompt" in hits, timeout=10)
            assert hits.count("/hook") == 1  # one attempt in flight, not retried meanwhile
            release.set()
            alerts = run.app.state.collector.alerts
            wait_for("the outbox to empty", lambda: alerts.delivered, timeout=30)
    finally:
        release.set()
        store.close()
    assert max(took) < 5.0, took  # each closed window evaluated within seconds, not minutes
