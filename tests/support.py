"""Helpers shared by test packages (importable as ``support``: pytest puts tests/ on the path).

Real servers on loopback: an ASGI app in uvicorn on a thread, a plain HTTP handler (webhook
receivers, judges, ...) on a thread, a free port.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def free_port() -> int:
    """A loopback port nobody listens on (now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Served:
    url: str
    server: Any  # uvicorn.Server
    port: int


@contextmanager
def serving(app: Any, *, port: int | None = None, lifespan: str = "off") -> Iterator[Served]:
    """Run ``app`` in uvicorn on 127.0.0.1 (``port`` or a free one) until the block ends.

    Fails the test if uvicorn has not started within 10 s; stops it and joins the thread after.
    """
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", port or 0))
    bound: int = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan=lifespan))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.started, "uvicorn did not start within 10 s"
        yield Served(f"http://127.0.0.1:{bound}", server, bound)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@contextmanager
def http_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve ``handler`` on 127.0.0.1 (a free port, a thread per request) until the block
    ends; yields ``http://127.0.0.1:PORT``. Then the server stops and its thread is joined
    (a request still hanging in the handler is not waited for)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
