"""``driftline serve --workers 2``: real processes on 127.0.0.1 sharing one port and store."""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from driftline.store import open_store
from driftline.windows import ALL
from postgres_db import fresh_database, require_postgres
from support import free_port

from .test_processes import KEY, STARTUP_SECONDS, Server, evaluate_everything, stored_events
from .test_processes import servers as servers  # the fixture

N_EVENTS = 20_000
BATCH = 250


def workers_of(parent: int) -> dict[int, int]:
    """Worker index -> pid of the live workers of supervisor ``parent`` (from /proc)."""
    out: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            args = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) != parent or fields[0] == "Z" or b"--worker" not in args:
            continue
        out[int(args[args.index(b"--worker") + 1])] = int(entry)
    return out


def wait_for_workers(server: Server, n: int, other_than: set[int] = frozenset()) -> dict[int, int]:
    """The ``n`` workers of ``server`` once they run (none of pids ``other_than``)."""
    assert server.proc is not None
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        found = workers_of(server.proc.pid)
        if len(found) == n and not set(found.values()) & set(other_than):
            return found
        time.sleep(0.1)
    raise AssertionError(f"not {n} workers within {STARTUP_SECONDS} s: {found}")


def answered_by_each(server: Server, pids: dict[int, int]) -> None:
    """Each worker alone answers the port: the others are stopped (SIGSTOP) meanwhile."""
    for index in pids:
        others = [p for i, p in pids.items() if i != index]
        for p in others:
            os.kill(p, signal.SIGSTOP)
        try:
            deadline = time.monotonic() + STARTUP_SECONDS  # a restarted worker may still load
            while True:
                try:  # a new connection each time: one of the stopped workers cannot take it
                    r = httpx.get(server.url + "/healthz", timeout=2)
                    break
                except httpx.HTTPError:
                    assert time.monotonic() < deadline, f"worker {index} does not answer"
        finally:
            for p in others:
                os.kill(p, signal.SIGCONT)
        assert r.status_code == 200, index


def events(n: int, t0: float) -> list[dict[str, Any]]:
    return [
        {"event_id": f"w{i}", "timestamp": t0 + i % 900, "model": "workers", "version": "v1",
         "features": {"x": float(i % 101), "c": "abcd"[i % 4]}, "prediction": i % 2}
        for i in range(n)
    ]  # fmt: skip


def send_all(server: Server, evs: list[dict[str, Any]], threads: int = 4) -> int:
    """POST ``evs`` in batches from ``threads`` threads, a new connection per request (so both
    workers take some), each batch again until acknowledged; the events acknowledged."""
    headers = {"Authorization": f"Bearer {KEY}"}

    def send(batch: list[dict[str, Any]]) -> int:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                r = httpx.post(server.url + "/v1/events", json=batch, headers=headers, timeout=30)
                if r.status_code == 200:
                    body = r.json()
                    assert not body["rejected"], body["rejected"][:3]
                    return int(body["accepted"] + body["duplicates"])
            time.sleep(0.05)
        raise AssertionError("a batch was never acknowledged")

    batches = [evs[i : i + BATCH] for i in range(0, len(evs), BATCH)]
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        return sum(pool.map(send, batches))


def window_total(url: str) -> float:
    """Events counted by the 5-minute windows (segment ``*``) once every window is evaluated."""
    points = evaluate_everything(url)
    return sum(
        v or 0
        for (_, seg, size, _, metric, _, _), v in points.items()
        if metric == "events" and seg == ALL and size == 300
    )


def stop(server: Server, pids: dict[int, int]) -> None:
    """SIGTERM the supervisor: it exits 0 and no worker is left."""
    assert server.proc is not None
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(timeout=90) == 0, server.log.read_text()[-3000:]
    for pid in pids.values():
        assert not Path(f"/proc/{pid}").exists(), f"worker {pid} still runs"


@contextlib.contextmanager
def store_url(kind: str, tmp_path: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path}/workers.db"
        return
    require_postgres()
    with fresh_database("driftline_workers") as url:
        yield url


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_two_workers_share_the_port_and_store_every_event_once(
    tmp_path: Path, servers: list[Server], kind: str
) -> None:
    with store_url(kind, tmp_path) as url:
        log = tmp_path / "serve.log"
        server = Server(url, free_port(), log, args=["--workers", "2"]).start()
        servers.append(server)
        pids = wait_for_workers(server, 2)
        answered_by_each(server, pids)
        evs = events(N_EVENTS, time.time() - 1800)
        assert send_all(server, evs) == N_EVENTS
        stop(server, pids)  # each worker saves its live partials
        assert stored_events(url) == N_EVENTS
        store = open_store(url)
        try:
            starts = {int(e["timestamp"] // 300 * 300) for e in evs}
            parts = [
                p for start in starts for p in store.partials("workers", "v1", start, start + 300)
            ]
        finally:
            store.close()
        assert sum(p.n_events for p in parts) == N_EVENTS  # saved on SIGTERM, none twice
        assert window_total(url) == N_EVENTS
        out = log.read_text()
        assert "workers    2 processes on this port" in out
        assert "Traceback" not in out


@pytest.mark.slow
def test_sigkill_of_a_worker_mid_stream_loses_no_acknowledged_event(
    tmp_path: Path, servers: list[Server]
) -> None:
    url = f"sqlite:///{tmp_path}/kill.db"
    log = tmp_path / "serve.log"
    server = Server(url, free_port(), log, args=["--workers", "2"]).start()
    servers.append(server)
    pids = wait_for_workers(server, 2)
    evs = events(N_EVENTS * 2, time.time() - 1800)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        sending = pool.submit(send_all, server, evs)
        deadline = time.monotonic() + 120
        while stored_events(url) < len(evs) // 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert 0 < stored_events(url) < len(evs), "the kill must land mid-stream"
        os.kill(pids[1], signal.SIGKILL)  # the worker that evaluates windows
        assert sending.result(timeout=600) == len(evs)  # every batch acknowledged
    assert stored_events(url) == len(evs)
    again = wait_for_workers(server, 2, other_than={pids[1]})
    assert again[2] == pids[2]
    answered_by_each(server, again)  # the restarted worker serves the port
    out = log.read_text()
    assert f"worker 1 (pid {pids[1]}) exited" in out and "killed by SIGKILL" in out
    stop(server, again)
    assert window_total(url) == len(evs)  # the killed worker's live windows recovered once


def test_workers_is_a_setting_of_the_flag_the_environment_and_the_file() -> None:
    from driftline.errors import ConfigError
    from driftline.server.config import parse_serve_config
    from driftline.server.settings import Settings

    assert Settings().workers == 1
    assert Settings.from_env({"DRIFTLINE_WORKERS": "3"}).workers == 3
    assert parse_serve_config({"collector": {"workers": 2}}).settings(env={}).workers == 2
    with pytest.raises(ConfigError, match="workers=0"):
        Settings.from_env({"DRIFTLINE_WORKERS": "0"})


def test_a_worker_that_never_stays_up_stops_the_supervisor(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Restarted with a growing pause, then given up on: exit code 1, not a restart loop."""
    from driftline.server.workers import Supervisor

    sup = Supervisor(
        2,
        lambda i: [sys.executable, "-c", f"raise SystemExit({2 + i})"],
        lambda i: dict(os.environ),
        [],
        give_up=3,
        max_pause=0.2,
        poll_seconds=0.05,
    )
    assert sup.run() == 1
    assert sup.restarts >= 2
    text = caplog.text
    assert "worker 1 (pid" in text and "(exit code 3); starting it again" in text
    assert "exited within 10 s of its start 3 times in a row; stopping the collector" in text


async def test_a_worker_closes_a_connection_open_for_a_few_seconds_after_its_response() -> None:
    """So that its client reconnects, to whichever worker accepts first (Rebalance)."""
    from starlette.responses import PlainTextResponse

    from driftline.server.workers import Rebalance

    now = [100.0]
    app = Rebalance(PlainTextResponse("ok"), seconds=5.0, clock=lambda: now[0])

    async def close_header(client: tuple[str, int]) -> str | None:
        transport = httpx.ASGITransport(app=app, client=client)
        async with httpx.AsyncClient(transport=transport, base_url="http://w") as c:
            return (await c.get("/")).headers.get("connection")

    assert await close_header(("10.0.0.1", 5001)) is None  # first seen now
    now[0] += 4.9
    assert await close_header(("10.0.0.1", 5001)) is None
    assert await close_header(("10.0.0.2", 5001)) is None  # another connection: its own time
    now[0] += 0.1
    assert await close_header(("10.0.0.1", 5001)) == "close"
    assert await close_header(("10.0.0.1", 5001)) is None  # a new connection on that port


def _stop_soon(sig: int, after: float = 1.5, once: Path | None = None) -> None:
    """Send ``sig`` to this process ``after`` seconds (from when file ``once`` exists)."""
    import threading

    def later() -> None:
        deadline = time.monotonic() + 120
        while once is not None and not once.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(after)
        os.kill(os.getpid(), sig)

    threading.Thread(target=later, daemon=True).start()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_stop_signal_stops_every_worker_and_exits_0(sig: int) -> None:
    from driftline.server.workers import Supervisor

    sup = Supervisor(
        2,
        lambda i: [sys.executable, "-c", "import time; time.sleep(120)"],
        lambda i: dict(os.environ),
        [],
        poll_seconds=0.05,
    )
    _stop_soon(sig)
    t0 = time.monotonic()
    assert sup.run() == 0
    assert time.monotonic() - t0 < 30
    assert all(w.proc is None for w in sup.workers) and sup.restarts == 0


def test_a_worker_that_ignores_sigterm_is_killed_after_stop_seconds_exit_1(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    from driftline.server.workers import Supervisor

    up = tmp_path / "up"
    stubborn = "import pathlib, signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    stubborn += f"pathlib.Path({str(up)!r}).touch(); time.sleep(120)"
    sup = Supervisor(
        1,
        lambda i: [sys.executable, "-c", stubborn],
        lambda i: dict(os.environ),
        [],
        stop_seconds=1.0,
        poll_seconds=0.05,
    )
    _stop_soon(signal.SIGTERM, after=0.2, once=up)  # once the worker ignores SIGTERM
    assert sup.run() == 1
    assert "did not stop within 1 s; killing it" in caplog.text
