"""Real local receivers for the alert tests: an HTTP server, an SMTP server, Alertmanager."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from driftline.sdk.clock import ManualClock
from support import free_port, http_server

START = 1_767_225_600.0  # 2026-01-01T00:00:00Z, a multiple of 300


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "binary(name): needs a Debian binary (fails instead of skipping with CI=true)"
    )


def require_binary(name: str) -> str:
    """The path of ``name``; a missing binary fails the test on CI and skips it elsewhere."""
    path = shutil.which(name)
    if path is None:
        msg = f"{name} is not installed (apt-get install -y prometheus prometheus-alertmanager)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    return path


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 that records requests and answers from a script."""

    url: str
    requests: list[Request] = field(default_factory=list)
    script: list[tuple[int, dict[str, str], bytes]] = field(default_factory=list)
    default: tuple[int, dict[str, str], bytes] = (200, {}, b"ok")

    def respond(self, *answers: tuple[int, dict[str, str], bytes]) -> None:
        self.script.extend(answers)

    def bodies(self, path: str | None = None) -> list[Any]:
        return [r.body for r in self.requests if path is None or r.path == path]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    lock = threading.Lock()
    state: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return None

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode(errors="replace")
            rec = state["r"]
            with lock:
                rec.requests.append(
                    Request(
                        self.command,
                        self.path,
                        {k.lower(): v for k, v in self.headers.items()},
                        body,
                    )
                )
                status, headers, payload = rec.script.pop(0) if rec.script else rec.default
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_POST = do_PUT = _handle  # noqa: N815

    with http_server(Handler) as url:
        state["r"] = Receiver(url=url)
        yield state["r"]


@dataclass
class AlertmanagerProcess:
    url: str
    proc: subprocess.Popen[bytes]


@contextlib.contextmanager
def local_server(
    name: str, args: list[str], url: str, directory: Path, *, ready_within: float
) -> Iterator[subprocess.Popen[bytes]]:
    """Run Debian binary ``name`` with ``args`` (its output in ``directory/name.log``) until
    its ``url/-/ready`` answers 200; the test fails if it exits or is not ready in time. On
    exit it is stopped by its PID (terminate, then kill)."""
    import httpx

    binary = require_binary(name)
    log_path = directory / f"{name}.log"
    log = log_path.open("wb")
    proc = subprocess.Popen([binary, *args], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + ready_within
        while True:
            if proc.poll() is not None:
                log.flush()
                pytest.fail(f"{name} exited with {proc.returncode}: {log_path.read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"{name} not ready after {ready_within:g} s")
            time.sleep(0.05)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        log.close()


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[AlertmanagerProcess]:
    """A real Alertmanager on 127.0.0.1 with a temp storage dir, no gossip port."""
    port = free_port()
    config = tmp_path / "alertmanager.yml"
    config.write_text(
        "route:\n  receiver: blackhole\n  group_wait: 1s\n"
        "receivers:\n  - name: blackhole\n"
        "inhibit_rules:\n"
        "  - source_matchers: [alertname=schema_violation]\n"
        "    target_matchers: ['alertname=~drift_top_feature|missing_spike']\n"
        "    equal: [model, version, column]\n"
    )
    url = f"http://127.0.0.1:{port}"
    args = [
        f"--config.file={config}",
        f"--storage.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
        f"--web.external-url={url}",
    ]
    with local_server("prometheus-alertmanager", args, url, tmp_path, ready_within=15) as proc:
        yield AlertmanagerProcess(url, proc)


# -- helpers shared by the engine tests -----------------------------------


def point(
    metric: str,
    value: float,
    i: int,
    column: str = "",
    *,
    model: str = "m",
    version: str = "v1",
    window: float = 300.0,
    **labels: str,
) -> Any:
    """The metric point of window ``i`` (windows of ``window`` seconds from START)."""
    from driftline.alerts.points import MetricPoint

    start = START + i * window
    return MetricPoint(model, version, "*", metric, column, start, start + window, value, labels)


def set_time(clock: ManualClock, t: float) -> None:
    clock.advance(t - clock.time())


@pytest.fixture
def helpers() -> Any:
    class H:
        point = staticmethod(point)
        set_time = staticmethod(set_time)
        start = START

    return H


@dataclass
class PrometheusProcess:
    url: str
    proc: subprocess.Popen[bytes]

    def query(self, expr: str) -> dict[str, Any]:
        """``/api/v1/query`` now; the whole answer (status, data or error)."""
        import httpx

        r = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=30)
        answer: dict[str, Any] = r.json()
        return answer

    def get(self, path: str, **params: Any) -> Any:
        import httpx

        r = httpx.get(f"{self.url}{path}", params=params, timeout=30)
        r.raise_for_status()
        return r.json()["data"]


@contextlib.contextmanager
def prometheus_server(directory: Path, config: dict[str, Any]) -> Iterator[PrometheusProcess]:
    """A real Prometheus on 127.0.0.1 with ``config`` (prometheus.yml as a dict), a temporary
    TSDB in ``directory``; stopped by its PID on exit."""
    import yaml

    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "prometheus.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = [
        f"--config.file={path}",
        f"--storage.tsdb.path={directory / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}",
        f"--web.external-url={url}",
    ]
    with local_server("prometheus", args, url, directory, ready_within=30) as proc:
        yield PrometheusProcess(url, proc)
