"""``driftline serve`` with ``collector.stream``: a real collector reading a real NATS JetStream
that goes away and comes back.

The test runs its own ``nats-server`` (JetStream on, a file store in tmp_path) on a free
loopback port, so it can stop and restart it. Every event the broker acknowledged to the
publisher is stored exactly once; while the broker is away the collector logs one clear
error, keeps answering HTTP and ingests over HTTP.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from driftline.store import open_store
from support import free_port

from .test_processes import KEY, Server, stored_events

nats = pytest.importorskip("nats")
NATS_SERVER = shutil.which("nats-server")
pytestmark = pytest.mark.skipif(NATS_SERVER is None, reason="no nats-server binary")


class Broker:
    def __init__(self, root: Path) -> None:
        self.port = free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        self.root = root
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Broker:
        assert NATS_SERVER is not None
        cmd = [NATS_SERVER, "-a", "127.0.0.1", "-p", str(self.port), "-js",
               "-sd", str(self.root / "js")]  # fmt: skip
        with (self.root / "nats.log").open("ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        _until("nats-server listens", lambda: _reachable(self.port), 30)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)


def _reachable(port: int) -> bool:
    import socket

    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _until(what: str, check: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {timeout:.0f} s")


def _events(prefix: str, n: int) -> list[dict[str, Any]]:
    now = time.time() - 60
    return [
        {"event_id": f"{prefix}-{i}", "timestamp": now + i * 0.01, "model": "streamed",
         "version": "v1", "features": {"x": float(i)}, "prediction": i % 2}
        for i in range(n)
    ]  # fmt: skip


async def _publish(url: str, events: list[dict[str, Any]], per_message: int = 25) -> int:
    """Publish to JetStream; return how many events the broker acknowledged."""
    nc = await nats.connect(url)
    js = nc.jetstream()
    acked = 0
    try:
        for i in range(0, len(events), per_message):
            chunk = events[i : i + per_message]
            await js.publish("driftline.events", orjson.dumps(chunk))
            acked += len(chunk)
    finally:
        await nc.close()
    return acked


@pytest.mark.slow
def test_serve_reads_the_stream_and_survives_the_broker_going_away(tmp_path: Path) -> None:
    broker = Broker(tmp_path).start()
    config = tmp_path / "driftline.yaml"
    config.write_text(f"collector:\n  stream: {{nats_url: '{broker.url}', batch: 100}}\n")
    url = f"sqlite:///{tmp_path}/stream.db"
    log = tmp_path / "serve.log"
    server = Server(url, free_port(), log, config=config)
    try:
        # the stream is created by the collector: publish once it reads
        server.start()
        _until("the collector reads the stream", lambda: "reading driftline.events"
               in log.read_text(), 60)  # fmt: skip
        acked = asyncio.run(_publish(broker.url, _events("a", 200)))
        _until("first 200 stored", lambda: stored_events(url) == 200, 90)

        broker.stop()  # the broker goes away
        _until("a clear error", lambda: "cannot read from the broker" in log.read_text(), 60)
        assert httpx.get(server.url + "/healthz", timeout=10).status_code == 200
        r = httpx.post(server.url + "/v1/events", json=_events("http", 10),
                       headers={"Authorization": f"Bearer {KEY}"}, timeout=60)  # fmt: skip
        assert r.json()["accepted"] == 10  # HTTP ingest goes on

        broker.start()  # back, with its file store: the stream and the durable consumer
        acked += asyncio.run(_publish(broker.url, _events("b", 200)))
        _until("every acknowledged event stored", lambda: stored_events(url) == acked + 10, 120)
        assert "reading from the broker again" in log.read_text()
        time.sleep(2)
        assert stored_events(url) == 410  # exactly once
        store = open_store(url)
        try:
            (model,) = [m for m in store.models() if m["model"] == "streamed"]
            assert sum(v["events"] for v in model["versions"]) == 410
        finally:
            store.close()
    finally:
        server.kill()
        broker.stop()


def test_the_stream_section_is_checked_naming_the_key() -> None:
    from driftline.errors import ConfigError
    from driftline.server.config import parse_serve_config

    cfg = parse_serve_config({"collector": {"stream": {"nats_url": "nats://127.0.0.1:4222"}}})
    assert cfg.stream is not None and cfg.stream.subject == "driftline.events"
    assert parse_serve_config({}).stream is None
    with pytest.raises(ConfigError, match=r"collector\.stream\.nats_url"):
        parse_serve_config({"collector": {"stream": {"nats_url": "http://127.0.0.1:4222"}}})
