"""What recording an LLM request and judging it costs the request path (issue 20).

    .venv/bin/python benchmarks/sdk_llm_judges.py            # 20,000 requests per variant
    .venv/bin/python benchmarks/sdk_llm_judges.py --quick    # 4,000

One process, a MemorySink, the shipper running. Each variant times every request's
``observe()`` block on its own (the service's own work is not in it):

1. ``observe`` + ``record`` (a classifier-style event, the baseline);
2. ``observe`` + ``record_llm`` (query, 384-d embedding, 5 retrieved items with text,
   answer, tokens, stages, session);
3. as 2, with two judges sampling every request (rate 1.0): a fast local one and one
   that takes 50 ms a call, both with concurrency 2, so their queues fill and the
   rest is skipped (``queue_full``);
4. as 2, with a judge that hangs (never answers; timeout 1 s);
5. as 2, with a judge that raises on every call.

The bar: the judges add nothing to the request path (variants 3-5 within noise of
variant 2), whatever the judge does. Printed: median and p99 of the added time per
request against a bare block, and the judges' outcomes.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry

from driftline.sdk import Judge, MemorySink, Monitor
from driftline.sdk.judges import overlap_scorer

CONTEXT = "Vienna lies on the Danube, the second-longest river in Europe, and is Austria's capital."


def slow(question: str, answer: str, contexts: list[str]) -> dict[str, Any]:
    time.sleep(0.05)
    return overlap_scorer(question, answer, contexts)


def hang(question: str, answer: str, contexts: list[str]) -> dict[str, Any]:
    threading.Event().wait()
    return {}


def broken(question: str, answer: str, contexts: list[str]) -> dict[str, Any]:
    raise ConnectionError("judge down")


def run(name: str, n: int, judges: list[Judge], llm: bool) -> tuple[list[int], dict[str, Any]]:
    sink = MemorySink()
    mon = Monitor(
        "bench", "v1", sink=sink, registry=CollectorRegistry(), judges=judges,
        queue_size=10 * n, flush_interval=0.05,
    )  # fmt: skip
    rng = np.random.default_rng(0)
    vec = rng.normal(size=384).astype(np.float32)
    retrieved = [(f"doc-{k}", 0.9 - 0.1 * k, CONTEXT) for k in range(5)]
    out: list[int] = []
    clock = time.perf_counter_ns
    gc.disable()
    try:
        for i in range(n):
            t = clock()
            with mon.observe({"channel": "web"}, prediction_id=f"{name}-{i}") as obs:
                if llm:
                    obs.record_llm(
                        query="Which river flows through Vienna?", query_embedding=vec,
                        retrieved=retrieved, answer="The Danube flows through Vienna.",
                        prompt_tokens=420, completion_tokens=12, llm_model="small-llm",
                        stages={"retrieve": 0.01, "generate": 0.2}, session_id=f"s{i % 50}",
                    )  # fmt: skip
                else:
                    obs.record(prediction="yes", scores={"yes": 0.8, "no": 0.2})
            out.append(clock() - t)
            if i % 256 == 255:
                time.sleep(0)  # let the shipper and the judges run, as a service's idle time does
    finally:
        gc.enable()
    mon.flush(30)
    outcomes = {k: dict(v) for k, v in (mon.judges.results.items() if mon.judges else [])}
    mon.close(timeout=2)
    return out, outcomes


def bare(n: int) -> list[int]:
    out = []
    clock = time.perf_counter_ns
    for _ in range(n):
        t = clock()
        with _Nothing():
            pass
        out.append(clock() - t)
    return out


class _Nothing:
    def __enter__(self) -> _Nothing:
        return self

    def __exit__(self, *a: object) -> None:
        return None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    n = 4000 if args.quick else 20_000
    base = statistics.median(bare(n))

    def judges(*scorers: tuple[str, Callable[..., Any], float]) -> list[Judge]:
        return [Judge(name, f, rate=1.0, timeout=t, concurrency=2, queue_size=1000)
                for name, f, t in scorers]  # fmt: skip

    variants = [
        ("observe+record", [], False),
        ("observe+record_llm", [], True),
        ("+ fast and 50 ms judges (rate 1.0)",
         judges(("fast", overlap_scorer, 5.0), ("slow", slow, 5.0)), True),
        ("+ a hanging judge", judges(("hang", hang, 1.0)), True),
        ("+ a raising judge", judges(("broken", broken, 5.0)), True),
    ]  # fmt: skip
    print(f"{n} requests per variant; bare block median {base} ns")
    print(f"{'variant':40s} {'median us':>10s} {'p99 us':>10s}  judges")
    for name, js, llm in variants:
        times, outcomes = run(name.split()[0], n, js, llm)
        times.sort()
        med = (statistics.median(times) - base) / 1000
        p99 = (times[int(0.99 * len(times))] - base) / 1000
        shown = {j: {k: v for k, v in o.items() if v} for j, o in outcomes.items()}
        print(f"{name:40s} {med:10.1f} {p99:10.1f}  {shown}")


if __name__ == "__main__":
    main()
