"""Dashboard page-load benchmark (issue 8): p95 under 300 ms for 30 days of 5-minute windows.

    .venv/bin/python benchmarks/dashboard_speed.py            # 30 days, 20 columns, 30 loads
    .venv/bin/python benchmarks/dashboard_speed.py --days 7 --loads 10

A SQLite store gets the metric points the evaluator writes for one model
version over ``--days`` days: every 5-minute window, plus the hourly and daily
windows, with ``--columns`` feature columns (drift score, missing ratio and
out-of-range check per column; traffic, errors, shadow share, latency
p50/p95/p99/mean, label coverage, five realized performance metrics, CBPE's
estimated accuracy and ROC AUC, dataset drift per window); a challenger
version gets the same. Then the collector app with the dashboard is served by
uvicorn on 127.0.0.1 in its own process, built as ``driftline serve`` builds
it (background tick and garbage-collector tuning included; a server thread in
the measuring process would add some 40 ms of GIL hand-offs to every
request) and each page is loaded ``--loads`` times over HTTP (signed in
with a read key), after one warm-up load. Printed: p50 / p95 / max per page in
milliseconds, and the machine load from ``uptime``.
"""

from __future__ import annotations

import argparse
import math
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

import httpx
import orjson

from driftline.sdk.clock import ManualClock
from driftline.server import Settings, create_app
from driftline.server.auth import create_key
from driftline.store import open_store

END = 1_767_225_600.0  # 2026-01-01T00:00:00Z
SIZES = (300, 3600, 86400)


def points(model: str, version: str, days: int, columns: int, rng: random.Random) -> Any:
    """Batches of metric point rows for every window of every size."""
    for size in SIZES:
        n = int(days * 86400 // size)
        batch: list[dict[str, Any]] = []
        for i in range(n):
            ws = int(END - (n - i) * size)
            drifting = i > n * 0.8

            def row(
                metric: str,
                value: float,
                column: str = "",
                method: str = "",
                status: str = "ok",
                count: int = 500,
                size: int = size,
                ws: int = ws,
                **details: Any,
            ) -> dict[str, Any]:
                return {
                    "model": model, "version": version, "segment": "*", "window_size": size,
                    "window_start": ws, "metric": metric, "column": column, "method": method,
                    "value": value, "status": status, "n": count,
                    "details": orjson.dumps(details).decode(), "evaluated_at": ws + size,
                }  # fmt: skip

            events = 500 * size / 300
            batch += [
                row("events", events, count=int(events)),
                row("error_ratio", rng.uniform(0, 0.01), count=int(events)),
                row("shadow_ratio", 0.0, count=int(events)),
                row("latency_seconds", rng.uniform(0.01, 0.02), method="mean"),
                row("latency_seconds", rng.uniform(0.01, 0.02), method="p50"),
                row("latency_seconds", rng.uniform(0.02, 0.05), method="p95"),
                row("latency_seconds", rng.uniform(0.05, 0.1), method="p99"),
                row("label_coverage_ratio", 0.6, count=int(events * 0.6)),
                row("estimated.accuracy", rng.uniform(0.9, 0.95), method="cbpe"),
                row("estimated.roc_auc", rng.uniform(0.9, 0.95), method="cbpe"),
                row("drift_detected", 1.0 if drifting else 0.0, count=int(events)),
            ]
            for name in ("accuracy", "precision", "recall", "f1", "roc_auc"):
                batch.append(
                    row(f"performance.{name}", rng.uniform(0.9, 0.95), count=int(events * 0.6))
                )
            for c in range(columns):
                col = f"feature_{c:02d}"
                score = rng.uniform(0.01, 0.08) + (0.3 if drifting and c == 3 else 0.0)
                status = "drift" if score > 0.2 else "ok"
                batch += [
                    row(
                        "drift_score",
                        score,
                        col,
                        "wasserstein",
                        status,
                        threshold=0.05,
                        p_value=0.2,
                    ),
                    row("quality.missing_ratio", rng.uniform(0, 0.02), col, threshold=0.05),
                    row("quality.out_of_range", rng.uniform(0, 0.02), col, threshold=0.01),
                ]
            if len(batch) >= 20_000:
                yield batch
                batch = []
        if batch:
            yield batch


def serve(db: str, port: int) -> None:
    """The collector with the dashboard over the store in ``db`` (the child process)."""
    import uvicorn

    from driftline.windows import WindowConfig

    store = open_store(f"sqlite:///{db}/bench.db")
    clock = ManualClock(END + 60)
    settings = Settings(windows=WindowConfig(sizes=SIZES))
    app = create_app(settings, store, clock)  # what `driftline serve` runs, dashboard included
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--columns", type=int, default=20)
    ap.add_argument("--loads", type=int, default=30)
    ap.add_argument("--db", help="reuse the store of an earlier run (a directory it printed)")
    ap.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.db, args.serve)
        return

    tmp = args.db or tempfile.mkdtemp(prefix="driftline-dash-bench-")
    store = open_store(f"sqlite:///{tmp}/bench.db")
    clock = ManualClock(END + 60)
    rng = random.Random(0)
    t0 = time.perf_counter()
    n_points = 0
    for version in () if args.db else ("v1", "v2"):
        store.ensure_version("credit_risk", version, END - args.days * 86400)
        for batch in points("credit_risk", version, args.days, args.columns, rng):
            store.upsert_metric_points(batch)
            n_points += len(batch)
    print(f"stored {n_points:,} metric points in {time.perf_counter() - t0:.1f} s ({tmp})")
    key, _ = create_key(store, clock, name="bench", scopes=("read",))
    store.close()

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([sys.executable, __file__, "--db", tmp, "--serve", str(port)])
    url = f"http://127.0.0.1:{port}"
    pages = {
        "overview 30d": "/ui/?range=30d",
        "overview 24h": "/ui/?range=24h",
        "model 24h (5-min windows)": "/ui/models/credit_risk?range=24h",
        "model 7d (hourly)": "/ui/models/credit_risk?range=7d",
        "model 30d (hourly)": "/ui/models/credit_risk?range=30d",
        "column 30d": "/ui/models/credit_risk/columns/feature_03?range=30d",
        "versions 30d": "/ui/models/credit_risk/compare?range=30d&a=v1&b=v2",
        "alerts": "/ui/alerts?range=30d",
        "jobs": "/ui/jobs?range=30d",
    }
    print("uptime before:", subprocess.run(["uptime"], capture_output=True, text=True).stdout)
    print(f"{'page':<28} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'KiB':>6}")
    worst = 0.0
    try:
        with httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30
        ) as c:
            deadline = time.monotonic() + 30
            while True:
                try:
                    c.get("/healthz")
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            for name, path in pages.items():
                c.get(path).raise_for_status()  # warm-up
                times = []
                size = 0
                for _ in range(args.loads):
                    t = time.perf_counter()
                    r = c.get(path)
                    times.append((time.perf_counter() - t) * 1000)
                    r.raise_for_status()
                    size = len(r.content)
                times.sort()
                p95 = times[min(len(times) - 1, math.ceil(0.95 * len(times)) - 1)]
                worst = max(worst, p95)
                med = statistics.median(times)
                print(f"{name:<28} {med:8.1f} {p95:8.1f} {times[-1]:8.1f} {size / 1024:6.0f}")
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(f"\nworst p95: {worst:.1f} ms (target < 300 ms)")
    print(
        "uptime after:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    )


if __name__ == "__main__":
    main()
