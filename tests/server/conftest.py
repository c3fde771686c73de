"""An in-process collector over a SQLite store with a manual clock, and its keys."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from driftline.sdk.clock import ManualClock
from driftline.server import Settings, create_app
from driftline.server.auth import create_key
from driftline.server.collector import Collector
from driftline.store import Store, open_store
from support import http_server

T0 = 1_700_000_100.0


@dataclass
class Env:
    app: FastAPI
    client: httpx.AsyncClient
    store: Store
    clock: ManualClock
    keys: dict[str, str]

    @property
    def collector(self) -> Collector:
        c: Collector = self.app.state.collector
        return c

    def auth(self, scope: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[scope]}"}


def prediction(i: int, ts: float = T0, **kw: Any) -> dict[str, Any]:
    e = {
        "type": "prediction",
        "event_id": f"e{i}",
        "prediction_id": f"p{i}",
        "timestamp": ts,
        "model": "m",
        "version": "v1",
        "features": {"x": float(i % 10), "c": "abc"[i % 3]},
        "prediction": i % 2,
        "scores": None,
        "segment": {},
        "latency_ms": 1.5,
        "status": "ok",
        "error_type": None,
        "shadow": False,
        "tags": {},
    }
    e.update(kw)
    return e


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    clock = ManualClock(T0)
    store = open_store(f"sqlite:///{tmp_path}/c.db")
    keys = {
        scope: create_key(store, clock, name=scope, scopes=(scope,))[0]
        for scope in ("admin", "ingest", "read")
    }
    settings = Settings(
        max_batch_events=1000, max_body_bytes=2_000_000, max_decoded_bytes=8_000_000
    )
    app = create_app(settings, store, clock, background=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://collector") as client:
        yield Env(app, client, store, clock, keys)
    store.close()


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """An HTTP server on 127.0.0.1 that records the JSON bodies posted to it (any path):
    a webhook receiver for alert notifications."""
    got: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return None

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            got.append(json.loads(body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    with http_server(Handler) as url:
        yield url, got
