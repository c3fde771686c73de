"""CPU per event of the store's write of raw-event rows (``Store.insert_events``), at scale.

    .venv/bin/python benchmarks/events_insert.py [--events 1000000] [--batch 5000]
        [--ids sdk|random] [--inline] [--known] [--postgres] [--repeat 1]

Rows as the collector makes them for an Arrow batch (windows/live.py): one per event with an
empty payload, naming its row of the batch's segment, stored with a segment of
``--segment-bytes`` (an LZ4 segment of 5000 events of 20 features is about that size);
``--inline``: the JSON path's rows (each with its payload, no segment). ``--ids sdk``: the
SDK's version-7 UUIDs (one millisecond per batch, random order within it); ``random``:
version-4 UUIDs, as a client that does not use the SDK may send. Event and prediction ids
are the same (the SDK's default). Each batch is inserted into a store that already holds
the batches before it, so the last batches meet indexes of ``--events`` rows: measure at
1M events or more (random ids cost little while the indexes fit the page cache).
``--known``: of every three batches one is new, one resends the batch before it and one has
a known id at its end; CPU per event is printed for each kind.

Prints this process's CPU per event inside ``insert_events`` (``time.process_time``) and,
on PostgreSQL (``--postgres``: a throw-away database on the server DRIFTLINE_TEST_POSTGRES
names, tests/postgres_db.py), the CPU of the server's processes (``/proc/<pid>/stat``): the
backends of the benchmark's database, and the WAL writer, checkpointer and background
writer, which other work on the same server may also use. On one machine the two add up.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from driftline.sdk._ids import uuid7_hex_batch
from driftline.store import open_store
from driftline.store.base import EventSegment

# throw-away PostgreSQL databases: a test helper (tests/postgres_db.py), not in the package
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from postgres_db import fresh_database

_TICK = os.sysconf("SC_CLK_TCK")


def _cpu(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def _server_pids(store: Any) -> tuple[list[int], list[int]]:
    """The benchmark database's backends, and the server's background writers."""
    from sqlalchemy import text

    with store.engine.connect() as conn:
        rows = conn.execute(text("SELECT pid, datname, backend_type FROM pg_stat_activity")).all()
        db = conn.execute(text("SELECT current_database()")).scalar()
    mine = [r[0] for r in rows if r[1] == db and r[2] == "client backend"]
    aux = [r[0] for r in rows if r[2] in ("walwriter", "checkpointer", "background writer")]
    return mine, aux


def batches(n_events: int, batch: int, ids: str) -> list[list[str]]:
    ms = int(time.time() * 1000) - n_events // batch
    if ids == "sdk":
        return [uuid7_hex_batch(batch, ms + k // batch) for k in range(0, n_events, batch)]
    return [[uuid.uuid4().hex for _ in range(batch)] for _ in range(0, n_events, batch)]


def with_known(work: list[list[str]]) -> list[tuple[str, list[str], int]]:
    """``(kind, ids, new)``: of every three batches one new, one the batch before it resent
    (as a client resends after a timeout), one new but for a known id at its end."""
    out: list[tuple[str, list[str], int]] = []
    for j, part in enumerate(work):
        if j % 3 == 1:
            out.append(("resent", work[j - 1], 0))
        elif j % 3 == 2:
            out.append(("known id at the end", [*part[:-1], work[j - 2][0]], len(part) - 1))
        else:
            out.append(("new", part, len(part)))
    return out


def run(
    url: str, n_events: int, batch: int, ids: str, inline: bool, seg_bytes: int, known: bool
) -> None:
    store: Any = open_store(url)
    data = os.urandom(seg_bytes)
    payload = '{"type":"prediction","features":{"x0":0.25,"x1":-1.5,"c0":"v3"}}'
    postgres = url.startswith("postgresql")
    plain = batches(n_events, batch, ids)
    work = with_known(plain) if known else [("new", p, len(p)) for p in plain]
    t0 = time.time()
    spent: dict[str, list[float]] = {}  # kind: [client CPU, backend CPU, events]
    aux = 0.0
    pids: tuple[list[int], list[int]] = ([], [])
    for j, (what, part, n_new) in enumerate(work):
        now = t0 + j * 0.05
        start = int(now) // 60 * 60
        pid = f"{j // 100:032x}"
        sid = uuid.uuid4().hex
        if inline:
            rows: list[tuple[Any, ...]] = [
                (e, "bench", "v1", e, now - 1.0 + i * 1e-4, now, start, pid, j, "ok", False,
                 payload)
                for i, e in enumerate(part)
            ]  # fmt: skip
            segment = None
        else:
            rows = [
                (e, "bench", "v1", e, now - 1.0 + i * 1e-4, now, start, pid, j, "ok", False, "",
                 sid, i)
                for i, e in enumerate(part)
            ]  # fmt: skip
            segment = EventSegment(sid, now, len(rows), data)
        if postgres and j == 0:
            store.insert_events(rows[-1:])  # the session's first batch; then measure
            rows, n_new = rows[:-1], n_new - 1
            pids = _server_pids(store)
        s0 = [_cpu(p) for p in pids[0]], [_cpu(p) for p in pids[1]]
        c0 = time.process_time()
        new = store.insert_events(rows, segment)
        c1 = time.process_time() - c0
        acc = spent.setdefault(what, [0.0, 0.0, 0])
        acc[0] += c1
        acc[2] += len(rows)
        if postgres:
            acc[1] += sum(_cpu(p) for p in pids[0]) - sum(s0[0])
            aux += sum(_cpu(p) for p in pids[1]) - sum(s0[1])
        assert len(new) == n_new, (len(new), n_new)
    kind = "inline (JSON path)" if inline else f"segment rows ({seg_bytes} B segments)"
    print(f"{url.split(':')[0]}: {n_events:,} events, batches of {batch}, ids {ids}, {kind}:")
    for what, (client, server, n) in spent.items():
        line = f"  {what} batches: insert_events {1e6 * client / n:.2f} us CPU/event"
        if postgres:
            line += f" + backend {1e6 * server / n:.2f} = {1e6 * (client + server) / n:.2f}"
        print(line, flush=True)
    if postgres:
        print(f"  WAL writer, checkpointer, bgwriter {1e6 * aux / n_events:.2f} us/event")
    store.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=5000)
    ap.add_argument("--ids", choices=("sdk", "random"), default="sdk")
    ap.add_argument("--inline", action="store_true", help="the JSON path's rows")
    ap.add_argument("--segment-bytes", type=int, default=150_000)
    ap.add_argument(
        "--postgres", action="store_true", help="a throw-away database on DRIFTLINE_TEST_POSTGRES"
    )
    ap.add_argument("--known", action="store_true", help="batches with known ids (with_known)")
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    print(f"load (uptime): {os.getloadavg()[0]:.2f}")
    for _ in range(args.repeat):
        if args.postgres:
            with fresh_database("driftline_events_insert") as url:
                run(
                    url,
                    args.events,
                    args.batch,
                    args.ids,
                    args.inline,
                    args.segment_bytes,
                    args.known,
                )
        else:
            path = Path("/tmp/driftline-events-insert.db")
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            run(f"sqlite:///{path}", args.events, args.batch, args.ids, args.inline,
                args.segment_bytes, args.known)  # fmt: skip
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
    print(f"load (uptime): {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
