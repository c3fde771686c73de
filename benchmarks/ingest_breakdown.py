"""Where a collector's ingest time goes today (issue 19, item 7): cProfile over the in-process path.

    .venv/bin/python benchmarks/ingest_breakdown.py [--events 50000] [--batch 500] [--features 20]
                                                    [--postgres URL]

Runs what ``benchmarks/ingest.py`` runs (decode -> validate -> insert -> window profiles),
timing each stage directly: decode and validation once on their own, then the whole ingest
with ``store.insert_events`` timed inside it; the rest is the window profiles (buffering,
folds, the final flush). Validation is counted once (ingest runs it again; subtracted).
"""

from __future__ import annotations

import argparse
import time

from benchmarks.ingest import _warm_kernels, make_bodies

from driftline.sdk.clock import SystemClock
from driftline.server.collector import Collector, tune_gc
from driftline.server.ingest import decode_body, validate
from driftline.server.settings import Settings
from driftline.store import open_store
from driftline.store.testing import fresh_database


def run(url: str, bodies: list[bytes]) -> None:
    """Stage times measured directly (no profiler), then the split of the store+windows part."""
    store = open_store(url)
    c = Collector(Settings(), store, SystemClock())
    warm = make_bodies(50, 50, 20, seed=9999)[0]
    c.ingest("prediction", decode_body(warm, None, "application/json", 1 << 30))
    _warm_kernels(c.windows.schema("bench", "v1", []))
    tune_gc()
    t0 = time.perf_counter()
    items = [decode_body(b, None, "application/json", 1 << 30) for b in bodies]
    t_decode = time.perf_counter() - t0
    t0 = time.perf_counter()
    for batch in items:
        validate("prediction", batch, c.limits())
    t_validate = time.perf_counter() - t0
    inserted = 0.0
    real_insert = store.insert_events

    def timed_insert(rows):  # type: ignore[no-untyped-def]
        nonlocal inserted
        t = time.perf_counter()
        try:
            return real_insert(rows)
        finally:
            inserted += time.perf_counter() - t

    store.insert_events = timed_insert  # type: ignore[method-assign]
    t0 = time.perf_counter()
    n = sum(c.ingest("prediction", batch).accepted for batch in items)
    c.windows.flush(force=True)
    t_ingest = time.perf_counter() - t0
    total = t_decode + t_ingest
    rest = t_ingest - t_validate - inserted
    rate = n / total
    name = url.split(":")[0]
    print(f"{name}: {n:,} events; decode + ingest {total:.2f} s = {rate:,.0f} events/s")
    for label, sec in (
        ("JSON decode (orjson, decode_body)", t_decode),
        ("validation + normalisation (validate)", t_validate),
        ("raw-event row inserts (store.insert_events)", inserted),
        ("window profiles + the rest (buffer, folds, flush)", rest),
    ):
        print(
            f"  {label:<52} {sec:6.2f} s {100 * sec / total:5.1f} %  {1e6 * sec / n:6.1f} us/event"
        )
    store.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=50_000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--features", type=int, default=20)
    ap.add_argument("--postgres", default="")
    args = ap.parse_args()
    bodies = make_bodies(args.events, args.batch, args.features)
    run("sqlite:////tmp/driftline-breakdown.db", bodies)
    if args.postgres:
        with fresh_database("driftline_breakdown") as url:
            run(url, bodies)


if __name__ == "__main__":
    main()
