"""Collector ingest throughput (SQLite, PostgreSQL) and window-profile memory (issue 6).

    python benchmarks/ingest.py [--events 100000] [--batch 500] [--features 20]
                                [--postgres postgresql://postgres@127.0.0.1:5432/test]
                                [--skip-memory] [--repeat N] [--ids sdk|random|serial]
                                [--format json|arrow] [--http CLIENTS --replicas N --workers N]

Each batch goes through what a request does after the HTTP layer: JSON bytes
-> decode -> per-event validation -> INSERT ... ON CONFLICT (commit) -> live
window profiles updated (blocks of columns, folded every ``fold_rows`` rows).
The figure is events per second of wall time over the whole run, including a final flush
of the partials. ``--format arrow``: the same events as the SDK's Arrow IPC batches
(``HTTPSink(arrow=True)``, RFC 3339 timestamps), validated column by column and stored as
one segment per batch. Memory: the serialised size and the traced Python heap of one
window's profile after 1k and after 1M events.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import tracemalloc
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa

from driftline.schema import Kind, Schema
from driftline.sdk._ids import uuid7_hex_batch
from driftline.sdk.clock import SystemClock
from driftline.server.collector import Collector, tune_gc
from driftline.server.ingest import Limits, decode_body, validate
from driftline.server.ingest_arrow import decode_arrow, validate_arrow
from driftline.server.settings import Settings
from driftline.store import open_store
from driftline.windows import WindowStats, infer_schema

# throw-away PostgreSQL databases: a test helper (tests/postgres_db.py), not in the package
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from postgres_db import fresh_database


def make_bodies(
    n_events: int, batch: int, n_features: int, seed: int = 0, ids: str = "sdk"
) -> list[bytes]:
    """JSON bodies of ``batch`` events; ``ids``: "sdk" (the SDK's time-ordered version-7
    UUIDs, one millisecond per batch), "random" (version-4 UUIDs, e.g. random request ids)
    or "serial" (zero-padded counters)."""
    rng = np.random.default_rng(seed)
    now = time.time()
    n_cat = n_features // 4
    bodies = []
    ms = int(now * 1000) - n_events // batch
    for b in range(0, n_events, batch):
        if ids == "sdk":
            batch_ids = uuid7_hex_batch(batch, ms + b // batch)
        elif ids == "random":
            batch_ids = [uuid.uuid4().hex for _ in range(batch)]
        else:
            batch_ids = [f"{seed:04d}{k:012d}" for k in range(b, b + batch)]
        xs = rng.normal(size=(batch, n_features - n_cat)).round(4)
        cats = rng.integers(0, 8, size=(batch, n_cat))
        events = []
        for i in range(batch):
            feats: dict[str, Any] = {f"x{j}": float(xs[i, j]) for j in range(n_features - n_cat)}
            feats.update({f"c{j}": f"v{cats[i, j]}" for j in range(n_cat)})
            k = b + i
            events.append(
                {
                    "type": "prediction",
                    "event_id": batch_ids[i],
                    "prediction_id": batch_ids[i],
                    "timestamp": now - 30 + (k % 60) * 0.5,
                    "model": "bench",
                    "version": "v1",
                    "features": feats,
                    "prediction": int(k % 2),
                    "scores": [0.3, 0.7],
                    "segment": {"region": "eu"},
                    "latency_ms": 3.2,
                    "status": "ok",
                    "error_type": None,
                    "shadow": False,
                    "tags": {},
                }
            )
        bodies.append(orjson.dumps(events))
    return bodies


def arrow_bodies(bodies: list[bytes]) -> list[bytes]:
    """The events of ``bodies`` as the SDK sends them with ``arrow=True`` (pyarrow installed)."""
    from datetime import datetime, timezone

    from driftline.sdk.arrow_batch import encode_arrow

    out = []
    for body in bodies:
        records = orjson.loads(body)
        for r in records:  # the SDK's timestamps: RFC 3339 strings
            t = datetime.fromtimestamp(r["timestamp"], timezone.utc)
            r["timestamp"] = t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        data = encode_arrow(records)
        assert data is not None
        out.append(data)
    return out


def run_ingest(
    url: str, bodies: list[bytes], clients: int = 1, fmt: str = "json"
) -> dict[str, float]:
    """Ingest ``bodies`` into a collector over ``url`` from ``clients`` threads.

    As in ``driftline serve``: the collector's GC settings (``tune_gc``), and
    the compiled profile kernels loaded once before the clock starts.
    """
    import concurrent.futures

    store = open_store(url)
    c = Collector(Settings(), store, SystemClock())
    warm = make_bodies(50, 50, 20, seed=9999)[0]  # imports, schema, first window
    c.ingest("prediction", decode_body(warm, None, "application/json", 1 << 30))
    _warm_kernels(c.windows.schema("bench", "v1", []))
    tune_gc()

    def send(chunk: list[bytes]) -> int:
        n = 0
        for body in chunk:
            if fmt == "arrow":
                batch = validate_arrow(decode_arrow(body, 1 << 30), c.limits())
                n += c.ingest_batch("prediction", batch).accepted
                continue
            items = decode_body(body, None, "application/json", 1 << 30)
            n += c.ingest("prediction", items).accepted
        return n

    t0, cpu0 = time.perf_counter(), time.process_time()
    if clients == 1:
        n = send(bodies)
    else:
        with concurrent.futures.ThreadPoolExecutor(clients) as pool:
            n = sum(pool.map(send, [bodies[i::clients] for i in range(clients)]))
    c.windows.flush(force=True)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    store.close()
    return {
        "events": n,
        "seconds": elapsed,
        "events_per_second": n / elapsed,
        "events_per_cpu_second": n / cpu,
    }


def _warm_kernels(schema: Schema) -> None:
    """One fold of ``fold_rows`` rows: numba loads its cached kernels (once per process)."""
    n = Settings().windows.fold_rows
    rng = np.random.default_rng(2)
    cols = {
        s.name: rng.normal(size=n) if s.kind is Kind.NUMERIC else rng.choice(["a", "b"], n)
        for s in schema
    }
    WindowStats(schema).profile.update(pa.table(cols), rng)


def run_http(
    url: str,
    bodies: list[bytes],
    clients: int,
    replicas: int = 1,
    fmt: str = "json",
    workers: int = 1,
    features: int = 20,
) -> dict[str, Any]:
    """The same batches over HTTP (as the SDK sends them) to ``replicas`` ``driftline serve``
    processes, each
    with ``workers`` worker processes on its port (``serve --workers``).

    Replicas share the store, as behind a load balancer; client ``i`` sends to
    replica ``i % replicas``. CPU: user + system time of every collector process
    (each ``serve`` and its workers, from /proc) while the batches are sent, and of
    this process (the clients).
    """
    import concurrent.futures
    import socket
    import subprocess
    import sys
    import threading

    import httpx

    ports = []
    for _ in range(replicas):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    key = "bench-key-0123456789abcdef"
    env = dict(
        os.environ, DRIFTLINE_BOOTSTRAP_KEY=key, DRIFTLINE_MAX_INFLIGHT=str(clients),
        DRIFTLINE_MAX_INFLIGHT_PER_KEY=str(clients),  # all clients use one key
    )  # fmt: skip
    base = [f"http://127.0.0.1:{port}" for port in ports]
    procs: list[subprocess.Popen[bytes]] = []
    started = threading.Semaphore(0)  # one release per worker (uvicorn's start-up line)
    try:
        for i, port in enumerate(ports):
            cmd = [sys.executable, "-m", "driftline.server", "serve", "--store", url]
            cmd += ["--port", str(port), "--workers", str(workers), "--log-level", "info"]
            proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE)
            procs.append(proc)
            threading.Thread(target=_count_starts, args=(proc, started), daemon=True).start()
            if i == 0:  # the first one migrates the store and creates the key
                _wait_healthy(base[0])
        for _ in range(replicas * workers):  # every worker serves, not only the first
            if not started.acquire(timeout=300):
                raise RuntimeError("a collector process did not start")
        for b in base:
            _wait_healthy(b)
        # as the SDK sends them: JSON gzipped, Arrow as LZ4-compressed IPC (no gzip)
        headers = {"Authorization": f"Bearer {key}"}
        if fmt == "arrow":
            headers["Content-Type"] = "application/vnd.apache.arrow.stream"
            sent = bodies
        else:
            headers["Content-Encoding"] = "gzip"
            sent = [_gzip(b) for b in bodies]
        # one batch per connection first, untimed: each worker loads its kernels and the
        # version's schema before the clock starts (a serving collector has long since)
        warm = make_bodies(clients * 50, 50, features, seed=4242)
        warm = arrow_bodies(warm) if fmt == "arrow" else [_gzip(b) for b in warm]
        ready = threading.Barrier(clients + 1)

        def post(client: httpx.Client, url: str, body: bytes) -> int:
            """One batch, retried on 429/503 after the answer's Retry-After (as the SDK)."""
            while True:
                r = client.post(url, content=body, headers=headers)
                if r.status_code not in (429, 503):
                    r.raise_for_status()
                    return int(r.json()["accepted"])
                time.sleep(min(float(r.headers.get("retry-after") or 0.05), 1.0))

        def send(i: int) -> int:
            n = 0
            url = base[i % replicas] + "/v1/events"
            with httpx.Client(timeout=120) as client:
                try:
                    post(client, url, warm[i])
                except BaseException:
                    ready.abort()  # the others stop waiting: the error is raised below
                    raise
                ready.wait()
                for body in sent[i::clients]:
                    n += post(client, url, body)
            return n

        collectors = [p.pid for p in procs]
        collectors += [c for p in procs for c in _children(p.pid)]
        with concurrent.futures.ThreadPoolExecutor(clients) as pool:
            futures = [pool.submit(send, i) for i in range(clients)]
            try:
                ready.wait()
            except threading.BrokenBarrierError:
                for f in futures:
                    f.result()  # raises the error that broke it
                raise
            cpu0 = {pid: _cpu_seconds(pid) for pid in collectors}
            t0, client0 = time.perf_counter(), time.process_time()
            n = sum(f.result() for f in futures)
        elapsed, client = time.perf_counter() - t0, time.process_time() - client0
        cpu = {pid: _cpu_seconds(pid) - cpu0[pid] for pid in collectors}
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=60)
    return {
        "events": n,
        "seconds": elapsed,
        "events_per_second": n / elapsed,
        "collector_cpu": sum(cpu.values()),
        "process_cpu": sorted(cpu.values(), reverse=True),
        "client_cpu": client,
    }


def _count_starts(proc: Any, started: Any) -> None:
    """Pass a collector's stderr on, releasing ``started`` at each worker's start-up line."""
    for line in proc.stderr:
        sys.stderr.buffer.write(line)
        if b"Application startup complete" in line:
            started.release()


def _children(pid: int) -> list[int]:
    """The pids whose parent is ``pid`` (a ``serve --workers`` process's workers)."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry))
    return out


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of process ``pid`` (every thread), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait_healthy(base: str) -> None:
    import httpx

    for _ in range(600):
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{base} did not start")


def _gzip(body: bytes) -> bytes:
    import zlib

    c = zlib.compressobj(1, zlib.DEFLATED, 31)
    return c.compress(body) + c.flush()


def stage_rates(bodies: list[bytes]) -> dict[str, float]:
    """Events per CPU-second of each stage alone: parse+validate, and window folding."""
    limits = Limits(time.time(), 86_400.0, 2_000)
    cpu0 = time.process_time()
    validated = [
        validate("prediction", decode_body(b, None, "application/json", 1 << 30), limits).accepted
        for b in bodies
    ]
    parse = time.process_time() - cpu0
    schema = infer_schema(validated[0][:100])
    st = WindowStats(schema, reservoir_size=Settings().windows.reservoir_size)
    cpu0 = time.process_time()
    fold_rows = Settings().windows.fold_rows
    for batch in validated:
        st.update(batch)
        if st.buffered >= fold_rows:
            st.fold()
    st.fold()
    fold = time.process_time() - cpu0
    n = sum(len(b) for b in validated)
    return {"parse_validate": n / parse, "window_fold": n / fold}


def window_memory(n_events: int, n_features: int) -> dict[str, float]:
    rng = np.random.default_rng(1)
    n_cat = n_features // 4
    feats: dict[str, Any] = {f"x{j}": 0.5 for j in range(n_features - n_cat)}
    feats.update({f"c{j}": "a" for j in range(n_cat)})
    schema = infer_schema([{"features": feats}])
    tracemalloc.start()
    st = WindowStats(schema, reservoir_size=Settings().windows.reservoir_size)
    chunk = 4096
    for start in range(0, n_events, chunk):
        m = min(chunk, n_events - start)
        cols = {f"x{j}": rng.normal(size=m) for j in range(n_features - n_cat)}
        cols.update({f"c{j}": rng.choice(["a", "b", "c", "d"], m) for j in range(n_cat)})
        st.profile.update(pa.table(cols).select(schema.names), st._rng)
        st.n_events += m
    current, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"events": n_events, "serialised_bytes": len(st.to_bytes()), "heap_bytes": current}


def _line(name: str, r: dict[str, float]) -> str:
    return (
        f"{name:<11} {r['events_per_second']:>9,.0f} events/s wall ({r['seconds']:.1f} s); "
        f"{r['events_per_cpu_second']:>9,.0f} events per CPU-second of the collector process"
    )


def _http_line(name: str, r: dict[str, Any], how: str) -> str:
    us = 1e6 / r["events"]
    split = " + ".join(f"{c:.1f}" for c in r["process_cpu"])
    return (
        f"{name:<11} {r['events_per_second']:>9,.0f} events/s wall ({r['seconds']:.1f} s), {how}; "
        f"CPU per event: collector processes {r['collector_cpu'] * us:.1f} us "
        f"({split} s by process), clients {r['client_cpu'] * us:.1f} us"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--features", type=int, default=20)
    ap.add_argument("--postgres", default=os.environ.get("DRIFTLINE_TEST_POSTGRES", ""))
    ap.add_argument("--sqlite-dir", default="/tmp")
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--http", type=int, default=0, metavar="CLIENTS", help="also over HTTP")
    ap.add_argument(
        "--replicas", type=int, default=1, help="HTTP: collector processes sharing the store"
    )
    ap.add_argument(
        "--workers",
        type=int,
        default=1,
        help="HTTP: worker processes of each collector, on its one port (serve --workers)",
    )
    ap.add_argument(
        "--clients",
        type=int,
        default=1,
        help="in-process: threads calling the collector at once, as the server's thread pool",
    )
    ap.add_argument("--repeat", type=int, default=1, help="in-process runs (median shown)")
    ap.add_argument(
        "--format",
        choices=("json", "arrow"),
        default="json",
        help="the bodies: JSON arrays (default) or the SDK's Arrow IPC batches",
    )
    ap.add_argument(
        "--ids",
        choices=("sdk", "random", "serial"),
        default="sdk",
        help="event ids: the SDK's time-ordered UUIDv7 (default), random UUIDv4, or counters",
    )
    args = ap.parse_args()
    print(f"# host: {platform.node()} cpus={os.cpu_count()} load(1,5,15)={os.getloadavg()}")
    bodies = make_bodies(args.events, args.batch, args.features, ids=args.ids)
    sent = arrow_bodies(bodies) if args.format == "arrow" else bodies
    print(
        f"# {args.events} events in batches of {args.batch}, {args.features} features, "
        f"{args.clients} client thread(s), {args.ids} ids, {args.format} bodies"
    )
    runs: dict[str, list[float]] = {"sqlite": [], "postgresql": []}
    for rep in range(args.repeat):
        path = f"{args.sqlite_dir}/driftline-bench-{os.getpid()}-{rep}.db"
        r = run_ingest(f"sqlite:///{path}", sent, args.clients, args.format)
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)
        print(_line("sqlite", r))
        runs["sqlite"].append(r["events_per_second"])
        if args.postgres:
            os.environ["DRIFTLINE_TEST_POSTGRES"] = args.postgres
            with fresh_database("driftline_bench") as url:
                r = run_ingest(url, sent, args.clients, args.format)
            print(_line("postgresql", r))
            runs["postgresql"].append(r["events_per_second"])
    if args.repeat > 1:
        for name, xs in runs.items():
            if xs:
                print(
                    f"{name}: median {statistics.median(xs):,.0f} events/s over {len(xs)} runs "
                    f"(min {min(xs):,.0f}, max {max(xs):,.0f})"
                )
    if args.http:
        hp = f"{args.sqlite_dir}/driftline-bench-http-{os.getpid()}.db"
        http = (args.http, args.replicas, args.format, args.workers, args.features)
        r = run_http(f"sqlite:///{hp}", sent, *http)
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(hp + suffix):
                os.remove(hp + suffix)
        how = (
            f"{args.http} clients, {'LZ4 Arrow' if args.format == 'arrow' else 'gzip JSON'}, "
            f"{args.replicas} collector(s) "
            f"x {args.workers} worker(s)"
        )
        print(_http_line("http+sqlite", r, how))
        if args.postgres:
            with fresh_database("driftline_bench_http") as url:
                r = run_http(url, sent, *http)
            print(_http_line("http+pg", r, how))
    st = stage_rates(bodies)
    print(
        f"stages alone: parse+validate {st['parse_validate']:,.0f}, "
        f"window add+fold {st['window_fold']:,.0f} events per CPU-second"
    )
    if not args.skip_memory:
        for n in (1_000, 1_000_000):
            m = window_memory(n, args.features)
            print(
                f"window after {n:>9,} events: {m['serialised_bytes']:>10,} bytes serialised, "
                f"{m['heap_bytes']:>12,} bytes heap"
            )
    print(f"# load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
