"""`driftline serve` and `driftline live-demo` as a new user starts and stops them."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from support import free_port

DRIFTLINE = str(Path(sys.executable).with_name("driftline"))


def read_until(proc: subprocess.Popen[str], needle: str, seconds: float) -> str:
    """stdout until a line holding ``needle`` (the process is killed on timeout)."""
    assert proc.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if needle in line:
            return "".join(seen)
    proc.kill()
    raise AssertionError(f"no {needle!r} within {seconds} s; got: {''.join(seen)}")


@pytest.fixture
def started(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], int, Path]]:
    port = free_port()
    db = tmp_path / "c.db"
    env = {**os.environ, "DRIFTLINE_BOOTSTRAP_KEY": ""}
    env.pop("DRIFTLINE_BOOTSTRAP_KEY")
    proc = subprocess.Popen(
        [DRIFTLINE, "serve", "--port", str(port), "--store", f"sqlite:///{db}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        yield proc, port, db
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        for f in (proc.stdout, proc.stderr):
            if f is not None:
                f.close()


def test_serve_says_where_it_listens_the_dashboard_and_the_log_options(
    started: tuple[subprocess.Popen[str], int, Path],
) -> None:
    proc, port, _ = started
    out = read_until(proc, "logs", 60)
    url = f"http://127.0.0.1:{port}"
    assert "created the first admin API key" in out
    assert f"collector listening on {url}" in out
    assert f"dashboard  {url}/ui" in out
    assert f"metrics {url}/metrics" in out
    assert "--log-level" in out and "--access-log" in out
    assert httpx.get(f"{url}/readyz", timeout=10).status_code == 200
    assert httpx.get(f"{url}/ui/", timeout=10, follow_redirects=False).status_code in (302, 303)
    proc.send_signal(signal.SIGTERM)  # uvicorn shuts down, then re-raises the signal
    assert proc.wait(timeout=30) in (0, -signal.SIGTERM)
    assert proc.stderr is not None and "Traceback" not in proc.stderr.read()


def test_serve_on_a_busy_port_fails_before_minting_an_admin_key(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        db = tmp_path / "c.db"
        done = subprocess.run(
            [DRIFTLINE, "serve", "--port", str(port), "--store", f"sqlite:///{db}"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"error: cannot listen on 127.0.0.1:{port}: the port is already in use "
        "(is another collector running? choose another with --port)"
    )
    assert "admin API key" not in done.stdout  # no key printed for a server that never ran
    assert (
        not db.exists()
        or not sqlite3.connect(db)
        .execute("select name from sqlite_master where name = 'api_keys'")
        .fetchall()
    )


def test_serve_without_the_server_extra_is_one_line_naming_it() -> None:
    code = (
        "import sys; sys.modules['uvicorn'] = None; sys.argv = ['driftline', 'serve'];"
        "from driftline.__main__ import main; main()"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [
        "driftline serve: this needs the 'server' extra (module 'uvicorn' is not installed): "
        "pip install 'driftline[server]'"
    ]


@pytest.mark.slow
def test_sigterm_stops_the_live_demo_with_a_message(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [DRIFTLINE, "live-demo", "--port", "0", "--store", f"sqlite:///{tmp_path}/d.db"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        read_until(proc, "Dashboard:", 120)
        time.sleep(1.0)  # the story has begun
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "driftline live demo: stopping (SIGTERM) ..." in out
    assert out.rstrip().endswith("driftline live demo: stopped.")
    assert "Traceback" not in err
