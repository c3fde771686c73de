"""Fixtures for SDK tests: a real HTTP collector stand-in on 127.0.0.1, fresh registries."""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from driftline.sdk import Monitor
from support import free_port


class Receiver:
    """A minimal collector: stores every request; can fail, stall or be down on purpose."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.fail_next = 0  # answer this many requests with `fail_status`
        self.fail_status = 503
        self.fail_headers: dict[str, str] = {}
        self.always_status: int | None = None
        self.delay = 0.0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if receiver.delay:
                    time.sleep(receiver.delay)
                with receiver.lock:
                    status, headers = 202, {}
                    if receiver.always_status is not None:
                        status = receiver.always_status
                    elif receiver.fail_next > 0:
                        receiver.fail_next -= 1
                        status, headers = receiver.fail_status, receiver.fail_headers
                    body = raw
                    if self.headers.get("Content-Encoding") == "gzip":
                        body = gzip.decompress(raw)
                    receiver.requests.append(
                        {
                            "path": self.path,
                            "headers": dict(self.headers),
                            "raw": raw,
                            "body": body,
                            "records": json.loads(body),
                            "status": status,
                        }
                    )
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def accepted(self, path: str = "/v1/events") -> list[dict[str, Any]]:
        """Records of accepted (2xx) requests to ``path``, in arrival order."""
        with self.lock:
            return [
                r
                for req in self.requests
                if req["path"] == path and 200 <= req["status"] < 300
                for r in req["records"]
            ]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def make_monitor(registry: CollectorRegistry) -> Iterator[Callable[..., Monitor]]:
    """Builds Monitors on the test's registry and closes them afterwards."""
    made: list[Monitor] = []

    def make(**kwargs: Any) -> Monitor:
        kwargs.setdefault("model", "credit_risk")
        kwargs.setdefault("version", "v3")
        kwargs.setdefault("registry", registry)
        kwargs.setdefault("flush_interval", 0.05)
        mon = Monitor(**kwargs)
        made.append(mon)
        return mon

    yield make
    for mon in made:
        mon.close(timeout=0.5)


def wait_until(check: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Poll ``check`` every 10 ms, at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.01)
    return check()
