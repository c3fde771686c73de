"""Cost of a challenger window's verdict as its labelled history grows (issue 15).

Each base window of a challenger is compared with its champion on every
labelled request since the challenger's first event (windows/versions.py).
This drives a real in-process collector over SQLite (ingest API, manual
clock): a champion and a shadow challenger both score ``--per-window``
labelled requests (binary, with scores: McNemar, DeLong, paired bootstraps)
per 5-minute window. After ``--windows`` windows it times, at several points
of that history, one window's comparison as the evaluator makes it (the
champion's look-up, which counts the model's events in the look-back, then
the comparison):

- re-read: ``Rollouts(carry=False)``, every labelled request read again
  (median of ``--repeat``);
- carried: ``Rollouts()`` walked window by window from the challenger's
  first, as the evaluator does; the step at that window (it reads the new
  window only) and the mean step over the preceding half of the history
  (which includes the paired bootstraps' refresh each 10 % of growth).

Run:  .venv/bin/python benchmarks/rollout_reread.py [--windows 96] [--per-window 300]
Prints a Markdown table for RESULTS.md; the load average is printed first.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from typing import Any

import httpx
import numpy as np

from driftline.sdk.clock import ManualClock
from driftline.server import Settings, create_app
from driftline.server.auth import create_key
from driftline.store import open_store
from driftline.windows.versions import Rollouts

T0 = 1_700_000_100.0 - 1_700_000_100.0 % 300
W = 300


def _batch(rng: np.random.Generator, w: int, n: int) -> tuple[list[Any], list[Any]]:
    events, labels = [], []
    for i in range(n):
        k = w * n + i
        ts = T0 + w * W + (i % 250)
        y = int(rng.integers(0, 2))
        for version, acc, shadow in (("v1", 0.9, False), ("v2", 0.88, True)):
            p = y if rng.random() < acc else 1 - y
            s = float(np.clip(0.5 + (0.3 if p == 1 else -0.3) + rng.normal(0, 0.15), 0, 1))
            events.append({
                "type": "prediction", "event_id": f"{version}-{k}", "prediction_id": f"p{k}",
                "timestamp": ts, "model": "m", "version": version,
                "features": {"x": float(rng.normal())}, "prediction": p,
                "scores": {"1": s, "0": 1 - s}, "segment": {}, "latency_ms": 2.0,
                "status": "ok", "error_type": None, "shadow": shadow, "tags": {},
            })  # fmt: skip
        labels.append({"type": "label", "event_id": f"l{k}", "prediction_id": f"p{k}",
                       "timestamp": ts + 1, "model": "m", "label": y})  # fmt: skip
    return events, labels


def _evaluate(rollouts: Rollouts, end: float, grace: int) -> dict[str, Any]:
    """What the evaluator does for the challenger's window ending at ``end``."""
    assert rollouts.champion("m", end, end + grace) == "v1"
    return rollouts.compare("m", "v1", "v2", end=end, now=end + grace)


async def main_async(args: argparse.Namespace) -> None:
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        clock = ManualClock(T0)
        store = open_store(f"sqlite:///{tmp}/c.db")
        key, _ = create_key(store, clock, name="bench", scopes=("admin",))
        auth = {"Authorization": f"Bearer {key}"}
        settings = Settings(max_batch_events=5000, max_body_bytes=20_000_000,
                            max_decoded_bytes=80_000_000)  # fmt: skip
        app = create_app(settings, store, clock, background=False)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://c") as client:
            t = time.perf_counter()
            for w in range(args.windows):
                events, labels = _batch(rng, w, args.per_window)
                for kind, rows in (("events", events), ("labels", labels)):
                    for i in range(0, len(rows), 2000):
                        r = await client.post(f"/v1/{kind}", json=rows[i : i + 2000], headers=auth)
                        r.raise_for_status()
            print(f"ingested {args.windows} windows in {time.perf_counter() - t:.0f} s")
            collector = app.state.collector
            config, options = collector.evaluator.config, collector.evaluator.rollouts.options
            marks = sorted({max(1, args.windows * f // 8) for f in (1, 2, 4, 8)})
            grace = config.grace_seconds

            def cpu(f: Any) -> tuple[float, Any]:
                c0 = time.process_time()
                out = f()
                return time.process_time() - c0, out

            carried = Rollouts(store, config, options)
            steps: dict[int, float] = {}
            outs: dict[int, Any] = {}
            for m in range(1, args.windows + 1):
                end = T0 + m * W
                steps[m], outs[m] = cpu(lambda e=end: _evaluate(carried, e, grace))
            print("\n| windows since the challenger's first | labelled requests per version | "
                  "re-read CPU ms | carried: this window's step CPU ms | carried: mean step "
                  "over the last half CPU ms | same verdict |")  # fmt: skip
            print("|---|---|---|---|---|---|")
            for m in marks:
                end = T0 + m * W
                reread = Rollouts(store, config, options, carry=False)
                times, out = [], {}
                for _ in range(args.repeat):
                    t_, out = cpu(lambda e=end, r=reread: _evaluate(r, e, grace))
                    times.append(t_)
                half = [steps[k] for k in range(m // 2 + 1, m + 1)]
                same = out["verdict"] == outs[m]["verdict"] and [
                    (x["verdict"], round(x["difference"], 12)) for x in out["metrics"]
                ] == [(x["verdict"], round(x["difference"], 12)) for x in outs[m]["metrics"]]
                print(f"| {m} | {out.get('n_a')} | {statistics.median(times) * 1000:.0f} | "
                      f"{steps[m] * 1000:.0f} | {statistics.mean(half) * 1000:.0f} | "
                      f"{'yes' if same else 'NO'} |")  # fmt: skip
        store.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--windows", type=int, default=96)
    ap.add_argument("--per-window", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} (1, 5 min)")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
