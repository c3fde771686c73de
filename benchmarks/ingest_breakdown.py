"""Where a collector's ingest time goes today (issue 19, item 7): cProfile over the in-process path.

    .venv/bin/python -m benchmarks.ingest_breakdown [--events 50000] [--batch 500] [--features 20]
                                                    [--postgres URL] [--format json,arrow]

Runs what ``benchmarks/ingest.py`` runs (decode -> validate -> insert -> window profiles),
timing each stage directly: decode and validation once on their own, then the whole ingest
with ``store.insert_events`` timed inside it; the rest is the window profiles (buffering,
folds, the final flush). Validation is counted once (ingest runs it again; subtracted).
``--format arrow``: the same events as the SDK's Arrow IPC batches (sdk/arrow_batch.py, with
the SDK's RFC 3339 timestamps), decoded and validated column by column (server/ingest_arrow.py).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.ingest import _warm_kernels, arrow_bodies, make_bodies

from driftline.sdk.clock import SystemClock
from driftline.server.collector import Collector, one_blas_thread, tune_gc
from driftline.server.ingest import Limits, decode_body, validate
from driftline.server.ingest_arrow import decode_arrow, validate_arrow
from driftline.server.settings import Settings
from driftline.store import open_store
from driftline.windows.columns import EventBlock, infer_schema

# throw-away PostgreSQL databases: a test helper (tests/postgres_db.py), not in the package
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from postgres_db import fresh_database


def run(url: str, bodies: list[bytes], fmt: str = "json", cpu: bool = False) -> float:
    """Stage times measured directly (no profiler), then the split of the store+windows part.

    ``cpu``: stage times in this thread's CPU seconds (``time.thread_time``), which a busy
    machine disturbs far less than wall time (they leave out waits for the database server),
    and the CPU of every thread of the process (``time.process_time``): the folds run in
    worker threads, whose CPU the ingesting thread's time leaves out.
    """
    clock = time.thread_time if cpu else time.perf_counter
    wall0 = clock()
    store = open_store(url)
    c = Collector(Settings(), store, SystemClock())
    warm = make_bodies(50, 50, 20, seed=9999)[0]
    c.ingest("prediction", decode_body(warm, None, "application/json", 1 << 30))
    _warm_kernels(c.windows.schema("bench", "v1", []))
    tune_gc()
    one_blas_thread()  # as a serving collector (server/app.py)
    arrow = fmt == "arrow"
    wall0 = time.perf_counter()
    proc0 = time.process_time()
    t0 = clock()
    if arrow:
        items: list[Any] = [decode_arrow(b, 1 << 30) for b in bodies]
    else:
        items = [decode_body(b, None, "application/json", 1 << 30) for b in bodies]
    t_decode = clock() - t0
    t0 = clock()
    for batch in items:
        if arrow:
            validate_arrow(batch, c.limits())
        else:
            validate("prediction", batch, c.limits())
    t_validate = clock() - t0
    inserted = 0.0
    real_insert = store.insert_events

    def timed_insert(rows, *segment):  # type: ignore[no-untyped-def]
        nonlocal inserted
        t = clock()
        try:
            return real_insert(rows, *segment)
        finally:
            inserted += clock() - t

    store.insert_events = timed_insert  # type: ignore[method-assign]
    t0 = clock()
    if arrow:
        n = sum(c.ingest_batch("prediction", validate_arrow(b, c.limits())).accepted for b in items)
    else:
        n = sum(c.ingest("prediction", batch).accepted for batch in items)
    c.windows.flush(force=True)
    t_ingest = clock() - t0
    wall = time.perf_counter() - wall0
    # every thread of the process (the folds' worker threads, any BLAS threads), less the
    # stand-alone validation pass (single-threaded; ingest validates again)
    proc = time.process_time() - proc0 - (t_validate if cpu else 0.0)
    total = t_decode + t_ingest
    rest = t_ingest - t_validate - inserted
    rate = n / total
    name = url.split(":")[0]
    unit = "CPU s" if cpu else "s"
    print(
        f"{name} ({fmt}): {n:,} events; decode + ingest {total:.2f} {unit} = {rate:,.0f} "
        f"events/{unit} (wall {wall:.2f} s = {n / wall:,.0f} events/s)"
    )
    if cpu:
        print(
            f"  process CPU of decode + ingest, all threads: {proc:.2f} s = "
            f"{1e6 * proc / n:.1f} us/event = {n / proc:,.0f} events/CPU s"
        )
    what = "Arrow IPC (decode_arrow)" if arrow else "JSON (orjson, decode_body)"
    for label, sec in (
        (f"decode: {what}", t_decode),
        ("validation + normalisation (validate" + ("_arrow)" if arrow else ")"), t_validate),
        ("raw-event rows + segments (store.insert_events)", inserted),
        ("window profiles + the rest (buffer, folds, flush)", rest),
    ):
        print(
            f"  {label:<52} {sec:6.2f} {unit} {100 * sec / total:5.1f} %  "
            f"{1e6 * sec / n:6.1f} us/event"
        )
    store.close()
    return rate


def stage_pairs(json_bodies: list[bytes], arrow: list[bytes], rounds: int = 7) -> None:
    """The stages that differ between the formats, alone, alternating, best of ``rounds``
    (CPU of this thread): decode + validation, and the window columns of a batch."""
    lim = Limits(time.time(), 86_400.0, 1_000)
    jb = [validate("prediction", decode_body(b, None, "application/json", 1 << 30), lim)
          for b in json_bodies]  # fmt: skip
    ab = [validate_arrow(decode_arrow(b, 1 << 30), lim) for b in arrow]
    schema = infer_schema(jb[0].accepted)
    n = sum(len(b.accepted) for b in jb)
    tune_gc()  # as a collector process runs (the batches above are frozen out of its sight)
    pairs = {
        "decode + validate, JSON": lambda: [
            validate("prediction", decode_body(b, None, "application/json", 1 << 30), lim)
            for b in json_bodies
        ],
        "decode + validate, Arrow": lambda: [
            validate_arrow(decode_arrow(b, 1 << 30), lim) for b in arrow
        ],
        "window columns, from dicts (EventBlock.of)": lambda: [
            EventBlock.of(schema, b.accepted) for b in jb
        ],
        "window columns, from Arrow (EventBlock.of_arrow)": lambda: [
            EventBlock.of_arrow(schema, b.table, b.accepted) for b in ab
        ],
    }
    best = dict.fromkeys(pairs, math.inf)
    for _ in range(rounds):
        for name, fn in pairs.items():
            t = time.thread_time()
            fn()
            best[name] = min(best[name], time.thread_time() - t)
    for name, sec in best.items():
        print(f"  {name:<50} {1e6 * sec / n:6.2f} us CPU/event (best of {rounds})")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=50_000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--features", type=int, default=20)
    ap.add_argument("--postgres", default="")
    ap.add_argument("--format", default="json", help="json, arrow or json,arrow")
    ap.add_argument("--cpu", action="store_true", help="stage times in CPU seconds")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--pairs", action="store_true", help="only the stages the formats differ in")
    args = ap.parse_args()
    print(f"load (uptime): {os.getloadavg()[0]:.2f}")
    bodies = make_bodies(args.events, args.batch, args.features)
    formats = args.format.split(",")
    encoded = {f: arrow_bodies(bodies) if f == "arrow" else bodies for f in formats}
    if args.pairs:
        stage_pairs(bodies, arrow_bodies(bodies))
        print(f"load (uptime): {os.getloadavg()[0]:.2f}")
        return
    for _ in range(args.repeat):
        for fmt in formats:
            for suffix in ("", "-wal", "-shm"):
                Path("/tmp/driftline-breakdown.db" + suffix).unlink(missing_ok=True)
            run("sqlite:////tmp/driftline-breakdown.db", encoded[fmt], fmt, args.cpu)
        if args.postgres:
            for fmt in formats:
                with fresh_database("driftline_breakdown") as url:
                    run(url, encoded[fmt], fmt, args.cpu)
    print(f"load (uptime): {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
