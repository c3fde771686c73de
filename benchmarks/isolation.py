"""Issue 13's tenant attacks against a fresh ``driftline serve``, while an innocent tenant ingests.

For each store (SQLite, and the PostgreSQL on 127.0.0.1:5432) a fresh
collector is started as a subprocess on loopback. For each attack, an
innocent tenant (its own project and key) sends batches of 50 events every
20 ms for ``--seconds`` while the attacker (another project's key) runs the
attack. The script reports the innocent tenant's request latency (p50, p99,
max), its non-200 answers, and its lost events: events acknowledged (200,
not listed as rejected) but not in the store afterwards.

    python benchmarks/isolation.py                    # both stores, 20 s per attack
    python benchmarks/isolation.py --store sqlite --seconds 10 --attack feature_flood

Attacks (issue 13, items 1, 2, 4, 6, 7): ``feature_flood`` (versions whose
first events carry 2,000 distinct feature names each, then a forced
checkpoint), ``nul_ids`` (NUL characters in ids of events, labels, feedback
and job runs), ``slowloris`` (16 connections trickling a byte every 2 s),
``deep_nesting`` (features nested 300 and 1,000 levels), ``gzip_members``
(two concatenated gzip members), ``id_squatting`` (the attacker sends the ids
the innocent tenant will use next). ``baseline`` runs no attack.
``--checkpoint`` instead times, in one process, the checkpoint of a version
whose first events carry 10 x 2,000 distinct names, with the default column
cap and with the cap lifted.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson

from driftline.sdk.clock import SystemClock
from driftline.server.auth import create_key
from driftline.store import open_store

ATTACKS = (
    "baseline",
    "feature_flood",
    "nul_ids",
    "slowloris",
    "deep_nesting",
    "gzip_members",
    "id_squatting",
)
BATCH = 50
PERIOD = 0.02


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def store_url(kind: str, tmp: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp / 'collector.db'}"
        return
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from postgres_db import fresh_database  # a test helper, not in the package

    with fresh_database("driftline_isolation_bench") as url:
        yield url


@contextlib.contextmanager
def collector(url: str, tmp: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A fresh ``driftline serve`` on ``url``; yields its base URL and keys by role."""
    store = open_store(url)
    clock = SystemClock()
    keys = {
        "innocent": create_key(
            store, clock, name="innocent", scopes=("ingest", "read"), project="innocent"
        )[0],
        "evil": create_key(store, clock, name="evil", scopes=("ingest",), project="evil")[0],
        "admin": create_key(store, clock, name="admin", scopes=("admin",))[0],
    }
    store.close()
    port = free_port()
    env = {**os.environ, "DRIFTLINE_TICK_SECONDS": "1"}
    cmd = [sys.executable, "-m", "driftline.server", "serve", "--store", url, "--port", str(port)]
    log = (tmp / "serve.log").open("ab")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"serve exited: {(tmp / 'serve.log').read_text()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise SystemExit("serve did not start within 60 s")
            time.sleep(0.1)
        yield base, keys
    finally:
        proc.terminate()
        proc.wait(60)
        log.close()


def event(eid: str, model: str, version: str = "v1", **kw: Any) -> dict[str, Any]:
    e = {
        "event_id": eid,
        "timestamp": time.time(),
        "model": model,
        "version": version,
        "features": {"x": 1.5, "c": "a"},
        "prediction": 1,
        "latency_ms": 3.0,
    }
    e.update(kw)
    return e


class Innocent:
    """Sends ``BATCH`` events every ``PERIOD`` seconds and records what was acknowledged."""

    def __init__(self, base: str, key: str, model: str) -> None:
        self.base = base
        self.key = key
        self.model = model
        self.latencies: list[float] = []
        self.acked: set[str] = set()
        self.errors: dict[int, int] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run)

    def ids(self, i: int) -> list[str]:
        return [f"{self.model}-{i}-{j}" for j in range(BATCH)]

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.key}"}
        with httpx.Client(base_url=self.base, timeout=30) as client:
            i = 0
            while not self.stop.is_set():
                ids = self.ids(i)
                body = orjson.dumps([event(x, self.model) for x in ids])
                t0 = time.perf_counter()
                try:
                    r = client.post("/v1/events", content=body, headers=headers)
                except httpx.HTTPError:
                    self.errors[0] = self.errors.get(0, 0) + 1
                    continue
                self.latencies.append(time.perf_counter() - t0)
                if r.status_code == 200:
                    bad = {x["index"] for x in r.json()["rejected"]}
                    self.acked.update(x for k, x in enumerate(ids) if k not in bad)
                else:
                    self.errors[r.status_code] = self.errors.get(r.status_code, 0) + 1
                i += 1
                time.sleep(max(0.0, PERIOD - (time.perf_counter() - t0)))


# -- attacks -----------------------------------------------------------------------------------


def names(i: int) -> list[str]:
    return [f"f{i}_{j}" for j in range(2000)]


def feature_flood(base: str, keys: dict[str, str], stop: threading.Event, _: Innocent) -> str:
    evil = {"Authorization": f"Bearer {keys['evil']}"}
    admin = {"Authorization": f"Bearer {keys['admin']}"}
    n = 0
    with httpx.Client(base_url=base, timeout=600) as client:
        while not stop.is_set():
            evs = [
                event(
                    f"flood-{n}-{i}",
                    "evil",
                    f"v{n}",
                    features={f"f{i}_{j}": "x" for j in range(2000)},
                )
                for i in range(10)
            ]
            client.post("/v1/events", content=orjson.dumps(evs), headers=evil)
            client.post("/v1/admin/flush", headers=admin)  # a checkpoint of everything
            n += 1
    return f"{n} versions of 10 events x 2,000 names, each followed by a checkpoint"


def nul_ids(base: str, keys: dict[str, str], stop: threading.Event, _: Innocent) -> str:
    evil = {"Authorization": f"Bearer {keys['evil']}"}
    n, answers = 0, set()
    with httpx.Client(base_url=base, timeout=60) as client:
        while not stop.is_set():
            evs = [event(f"nul-{n}-{i}\x00", "evil", prediction_id=f"p\x00{i}") for i in range(50)]
            evs.append(event(f"ok-{n}", "evil"))
            labels = [{"event_id": f"l{n}\x00", "prediction_id": "p\x00", "timestamp": time.time(),
                       "model": "evil", "label": 1}]  # fmt: skip
            jobs = [{"job": "etl", "run_id": f"r{n}\x00", "started_at": time.time() - 5,
                     "finished_at": time.time(), "status": "failed", "error": "x\x00"}]  # fmt: skip
            for path, body in (("/v1/events", evs), ("/v1/labels", labels), ("/v1/jobs", jobs)):
                answers.add(client.post(path, content=orjson.dumps(body), headers=evil).status_code)
            n += 1
    return f"{n} rounds; answers {sorted(answers)}"


def slowloris(base: str, keys: dict[str, str], stop: threading.Event, _: Innocent) -> str:
    port = int(base.rsplit(":", 1)[1])
    answers: list[bytes] = []

    def one() -> None:
        while not stop.is_set():
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                head = (
                    "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    f"Authorization: Bearer {keys['evil']}\r\nContent-Length: 100000\r\n\r\n["
                )
                s.sendall(head.encode())
                s.settimeout(2.0)
                got = b""
                while not stop.is_set() and b"\r\n\r\n" not in got:
                    try:
                        chunk = s.recv(4096)
                    except TimeoutError:
                        with contextlib.suppress(OSError):
                            s.sendall(b" ")
                        continue
                    if not chunk:
                        break
                    got += chunk
                answers.append(got.split(b" ", 2)[1] if got.count(b" ") >= 2 else b"closed")

    threads = [threading.Thread(target=one) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    counts: dict[str, int] = {}
    for a in answers:
        counts[a.decode()] = counts.get(a.decode(), 0) + 1
    return f"16 connections trickling 1 byte / 2 s; their answers {counts}"


def deep_nesting(base: str, keys: dict[str, str], stop: threading.Event, _: Innocent) -> str:
    evil = {"Authorization": f"Bearer {keys['evil']}", "Content-Type": "application/json"}
    n, answers = 0, set()
    with httpx.Client(base_url=base, timeout=60) as client:
        while not stop.is_set():
            depth = 300 if n % 2 else 1000
            deep = b"[" * depth + b"1" + b"]" * depth
            evs = [event(f"deep-{n}", "evil", features={"deep": "DEEP"}), event(f"ok-d{n}", "evil")]
            body = orjson.dumps(evs).replace(b'"DEEP"', deep)
            answers.add(client.post("/v1/events", content=body, headers=evil).status_code)
            n += 1
    return f"{n} requests nested 300 / 1,000 deep; answers {sorted(answers)}"


def gzip_members(base: str, keys: dict[str, str], stop: threading.Event, _: Innocent) -> str:
    evil = {"Authorization": f"Bearer {keys['evil']}", "Content-Encoding": "gzip"}
    n, answers = 0, set()
    with httpx.Client(base_url=base, timeout=60) as client:
        while not stop.is_set():
            a = gzip.compress(orjson.dumps([event(f"gz-{n}-a", "evil")]))
            b = gzip.compress(orjson.dumps([event(f"gz-{n}-b", "evil")]))
            answers.add(client.post("/v1/events", content=a + b, headers=evil).status_code)
            n += 1
            time.sleep(0.01)
    return f"{n} bodies of two gzip members; answers {sorted(answers)}"


def id_squatting(base: str, keys: dict[str, str], stop: threading.Event, inn: Innocent) -> str:
    evil = {"Authorization": f"Bearer {keys['evil']}"}
    n = 0
    with httpx.Client(base_url=base, timeout=60) as client:
        while not stop.is_set():  # the ids of the innocent's next batches, before it sends them
            ahead = len(inn.latencies) + 5
            evs = [event(x, "evil") for i in range(ahead, ahead + 5) for x in inn.ids(i)]
            client.post("/v1/events", content=orjson.dumps(evs), headers=evil)
            n += 1
            time.sleep(0.05)
    return f"{n} batches of the innocent tenant's next ids"


ATTACK_FUNCS: dict[str, Callable[[str, dict[str, str], threading.Event, Innocent], str]] = {
    "feature_flood": feature_flood,
    "nul_ids": nul_ids,
    "slowloris": slowloris,
    "deep_nesting": deep_nesting,
    "gzip_members": gzip_members,
    "id_squatting": id_squatting,
}


def stored(url: str, model: str) -> int:
    from sqlalchemy import func, select

    from driftline.store import tables as t

    store = open_store(url)
    try:
        with store.engine.connect() as conn:  # type: ignore[attr-defined]
            q = select(func.count()).select_from(t.events).where(t.events.c.model == model)
            return int(conn.execute(q).scalar_one())
    finally:
        store.close()


def run_attack(
    url: str, base: str, keys: dict[str, str], name: str, seconds: float
) -> dict[str, Any]:
    inn = Innocent(base, keys["innocent"], f"innocent-{name.replace('_', '-')}")
    warm = [event(f"{inn.model}-warm-{j}", inn.model) for j in range(BATCH)]
    auth = {"Authorization": f"Bearer {keys['innocent']}"}
    httpx.post(base + "/v1/events", content=orjson.dumps(warm), headers=auth, timeout=60)
    inn.acked.update(e["event_id"] for e in warm)  # the model's first batch makes its schema
    stop = threading.Event()
    note: list[str] = []
    attacker = None
    if name != "baseline":
        fn = ATTACK_FUNCS[name]
        attacker = threading.Thread(target=lambda: note.append(fn(base, keys, stop, inn)))
        attacker.start()
        time.sleep(0.5)
    inn.thread.start()
    time.sleep(seconds)
    inn.stop.set()
    inn.thread.join()
    stop.set()
    if attacker is not None:
        attacker.join(600)
    lat = np.array(inn.latencies) * 1000
    have = stored(url, inn.model)
    return {
        "attack": name,
        "requests": len(lat),
        "p50_ms": float(np.percentile(lat, 50)) if len(lat) else float("nan"),
        "p99_ms": float(np.percentile(lat, 99)) if len(lat) else float("nan"),
        "max_ms": float(lat.max()) if len(lat) else float("nan"),
        "non_200": dict(inn.errors),
        "acked": len(inn.acked),
        "lost": max(0, len(inn.acked) - have),
        "attack_note": note[0] if note else "",
    }


def checkpoint_cost() -> None:
    """One collector in process: 10 events of 2,000 distinct names each, then a checkpoint."""
    from driftline.sdk.clock import ManualClock
    from driftline.server import Settings, create_app

    for cap in (1000, 20000):
        with tempfile.TemporaryDirectory() as d:
            clock = ManualClock(1_700_000_000.0)
            store = open_store(f"sqlite:///{d}/c.db")
            settings = Settings(max_version_columns=cap)
            app = create_app(settings, store, clock, background=False, dashboard=False)
            c = app.state.collector
            evs = [
                event(f"e{i}", "evil", features=dict.fromkeys(names(i), "x" * 10))
                | {"timestamp": 1_700_000_000.0}
                for i in range(10)
            ]
            t0 = time.perf_counter()
            c.ingest("prediction", evs)
            ingest = time.perf_counter() - t0
            t0 = time.perf_counter()
            c.tick(force_flush=True)
            tick = time.perf_counter() - t0
            print(f"max_version_columns={cap}: ingest {ingest:.2f} s, checkpoint {tick:.2f} s")
            store.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--store", choices=("sqlite", "postgres", "both"), default="both")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--attack", choices=ATTACKS, action="append")
    ap.add_argument(
        "--checkpoint", action="store_true", help="time the feature-flood checkpoint in process"
    )
    args = ap.parse_args()
    if args.checkpoint:
        print(f"load: {os.getloadavg()}")
        checkpoint_cost()
        return
    stores = ("sqlite", "postgres") if args.store == "both" else (args.store,)
    attacks = args.attack or list(ATTACKS)
    print(f"load: {os.getloadavg()}")
    print(
        "| store | attack | innocent requests | p50 ms | p99 ms | max ms | non-200 | acked "
        "| lost | attack |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for kind in stores:
        with contextlib.ExitStack() as stack:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            url = stack.enter_context(store_url(kind, tmp))
            base, keys = stack.enter_context(collector(url, tmp))
            for name in attacks:
                r = run_attack(url, base, keys, name, args.seconds)
                print(
                    f"| {kind} | {name} | {r['requests']} | {r['p50_ms']:.1f} | "
                    f"{r['p99_ms']:.1f} | {r['max_ms']:.0f} | {r['non_200'] or 0} | "
                    f"{r['acked']} | {r['lost']} | {r['attack_note']} |",
                    flush=True,
                )
    print(f"load: {os.getloadavg()}")


if __name__ == "__main__":
    main()
