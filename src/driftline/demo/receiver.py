"""A local webhook receiver for the demo's alert notifications (127.0.0.1, bounded memory)."""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_BODY = 1 << 20


class WebhookReceiver:
    """Records the last ``keep`` notifications; :meth:`messages` lists them newest first."""

    def __init__(self, now: Callable[[], float], keep: int = 200) -> None:
        self._now = now
        self._lock = threading.Lock()
        self._messages: deque[dict[str, Any]] = deque(maxlen=keep)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return None

            def do_POST(self) -> None:
                length = min(int(self.headers.get("Content-Length") or 0), MAX_BODY)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                receiver._record(body)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/alerts"

    def start(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _record(self, body: Any) -> None:
        alerts = body.get("alerts", []) if isinstance(body, dict) else []
        parts = []
        for a in alerts if isinstance(alerts, list) else []:
            ann = a.get("annotations") or {}
            parts.append(f"[{a.get('status', '?')}] {ann.get('summary') or a.get('labels', {})}")
        status = body.get("status", "?") if isinstance(body, dict) else "unreadable"
        with self._lock:
            self._messages.appendleft(
                {"at": self._now(), "status": status, "summary": "; ".join(parts), "body": body}
            )

    def messages(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._messages)
