"""CPU per event of each part of a collector deployment, and a check of docs/scaling.md's model.

    .venv/bin/python -m benchmarks.scaling --postgres postgresql://postgres@127.0.0.1:5432/test \\
        [--events 60000] [--collectors 1,3] [--clients 6] [--models 6] [--format json|arrow]
        [--batch 500]

For each number of collectors: a fresh PostgreSQL database, that many ``driftline serve``
processes sharing it, and ``--clients`` threads sending gzip'd JSON batches of ``--batch`` events
(20 features; ``--format arrow``: the SDK's Arrow IPC batches, LZ4-compressed) of ``--models``
models, each model to one collector (partitioned by model, as docs/scaling.md advises).
Measured from /proc: CPU seconds of the collector processes, of the PostgreSQL server
processes and of this (client) process, per event. The model of
docs/scaling.md predicts the throughput of N collectors on C cores from the one-collector
run's CPU per event: ``C / (cpu_collector + cpu_postgres + cpu_client)`` while no part is
capped by a single core (a collector process is: ``1 / cpu_collector`` each). On a shared
machine the deployment gets less than C cores: the check uses the cores this run actually
got (its processes' CPU seconds over the wall time), so that what it tests is the model's
claim that CPU per event stays the same as collectors are added.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from benchmarks.ingest import _gzip, _wait_healthy, arrow_bodies, make_bodies

# throw-away PostgreSQL databases: a test helper (tests/postgres_db.py), not in the package
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from postgres_db import fresh_database

TICK = os.sysconf("SC_CLK_TCK")


def _cpu(pid: int) -> float:
    """CPU seconds (user + system) of process ``pid`` so far; 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def _postgres_pids() -> list[int]:
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if (p / "comm").read_text().strip() == "postgres":
                    out.append(int(p.name))
            except OSError:
                continue
    return out


def _postgres_cpu() -> dict[int, float]:
    return {pid: _cpu(pid) for pid in _postgres_pids()}


def _wal(url: str) -> int:
    """PostgreSQL's WAL position in bytes (the whole server's: nothing else should write)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            lsn = conn.execute(text("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")).scalar_one()
    finally:
        engine.dispose()
    return int(lsn)


def _retag(bodies: list[bytes], models: int, fmt: str = "json") -> list[tuple[int, bytes]]:
    """Each batch as the events of one of ``models`` models: (model number, body as the SDK
    sends it: JSON gzip'd, Arrow as LZ4-compressed IPC)."""
    out = []
    for i, body in enumerate(bodies):
        m = i % models
        body = body.replace(b'"model":"bench"', f'"model":"m{m}"'.encode())
        out.append((m, arrow_bodies([body])[0] if fmt == "arrow" else _gzip(body)))
    return out


def run(
    url: str, batches: list[tuple[int, bytes]], n_collectors: int, clients: int, fmt: str = "json"
) -> dict[str, Any]:
    ports = []
    for _ in range(n_collectors):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    key = "bench-key-0123456789abcdef"
    env = dict(
        os.environ, DRIFTLINE_BOOTSTRAP_KEY=key, DRIFTLINE_MAX_INFLIGHT=str(clients),
        DRIFTLINE_MAX_INFLIGHT_PER_KEY=str(clients),
    )  # fmt: skip
    base = [f"http://127.0.0.1:{p}" for p in ports]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for i, port in enumerate(ports):
            cmd = [sys.executable, "-m", "driftline.server", "serve", "--store", url]
            procs.append(
                subprocess.Popen(
                    [*cmd, "--port", str(port)],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            if i == 0:
                _wait_healthy(base[0])
        for b in base:
            _wait_healthy(b)
        headers = {"Authorization": f"Bearer {key}", "Content-Encoding": "gzip"}
        # warm each collector (first request loads the kernels), not counted
        warm = make_bodies(500, 500, 20, seed=7)[0]
        for b in base:
            httpx.post(b + "/v1/events", content=_gzip(warm), headers=headers, timeout=120)
        if fmt == "arrow":
            headers = {"Authorization": f"Bearer {key}"}
            headers["Content-Type"] = "application/vnd.apache.arrow.stream"

        def send(i: int) -> int:
            n = 0
            with httpx.Client(timeout=120) as client:
                for m, body in batches[i::clients]:
                    while True:
                        r = client.post(base[m % n_collectors] + "/v1/events", content=body,
                                        headers=headers)  # fmt: skip
                        if r.status_code not in (429, 503):
                            break
                        time.sleep(0.05)  # back-pressure: retry, as the SDK does
                    r.raise_for_status()
                    n += r.json()["accepted"]
            return n

        wal0 = _wal(url)
        pg0 = _postgres_cpu()
        col0 = [_cpu(p.pid) for p in procs]
        me0 = time.process_time()
        load0 = os.getloadavg()[0]
        t0 = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(clients) as pool:
            n = sum(pool.map(send, range(clients)))
        wall = time.perf_counter() - t0
        me = time.process_time() - me0
        col = [_cpu(p.pid) - c for p, c in zip(procs, col0, strict=True)]
        pg1 = _postgres_cpu()
        pg = sum(pg1[pid] - pg0.get(pid, 0.0) for pid in pg1)
        wal = _wal(url) - wal0
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=60)
    return {
        "collectors": n_collectors, "events": n, "wall": wall, "rate": n / wall,
        "cpu_collectors": sum(col), "cpu_each": col, "cpu_postgres": pg, "cpu_client": me,
        "wal": wal,
        "load": (load0, os.getloadavg()[0]),
    }  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--postgres", required=True)
    ap.add_argument("--events", type=int, default=60_000)
    ap.add_argument("--collectors", default="1,3")
    ap.add_argument("--clients", type=int, default=6)
    ap.add_argument("--models", type=int, default=6)
    ap.add_argument("--cores", type=float, default=float(os.cpu_count() or 1))
    ap.add_argument("--format", choices=("json", "arrow"), default="json")
    ap.add_argument("--batch", type=int, default=500, help="events per request")
    args = ap.parse_args()
    os.environ["DRIFTLINE_TEST_POSTGRES"] = args.postgres
    batches = _retag(make_bodies(args.events, args.batch, 20), args.models, args.format)
    first: dict[str, Any] | None = None
    for n_col in (int(x) for x in args.collectors.split(",")):
        with fresh_database(f"driftline_scaling_{n_col}") as url:
            r = run(url, batches, n_col, args.clients, args.format)
        n = r["events"]
        per = {k: 1e6 * r[f"cpu_{k}"] / n for k in ("collectors", "postgres", "client")}
        print(
            f"{n_col} collector(s): {n:,} events in {r['wall']:.1f} s = {r['rate']:,.0f} events/s "
            f"(load {r['load'][0]:.1f} -> {r['load'][1]:.1f}); CPU per event: collectors "
            f"{per['collectors']:.1f} us, PostgreSQL {per['postgres']:.1f} us, client "
            f"{per['client']:.1f} us; WAL {r['wal'] / n:,.0f} bytes; busiest collector "
            f"{max(r['cpu_each']) / r['wall']:.0%} of a core"
        )
        if first is None:
            first = per
        total = sum(first.values())
        used = (r["cpu_collectors"] + r["cpu_postgres"] + r["cpu_client"]) / r["wall"]
        at_share = min(used * 1e6 / total, n_col * 1e6 / first["collectors"])
        idle = min(args.cores * 1e6 / total, n_col * 1e6 / first["collectors"])
        print(
            f"  model (the first run's CPU per event, {total:.1f} us): at the {used:.2f} cores "
            f"this run got, predicted {at_share:,.0f} events/s, measured {r['rate']:,.0f} "
            f"({r['rate'] / at_share:.0%}); on {args.cores:g} idle cores: {idle:,.0f} events/s"
        )


if __name__ == "__main__":
    main()
