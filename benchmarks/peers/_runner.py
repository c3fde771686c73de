"""Shared plumbing for the per-tool runners of benchmarks/compare_speed.py.

Each runner is started by the harness with its own venv's python and prints exactly
one line ``BENCH_RESULT {json}`` on stdout. This module uses the standard library
and pandas only, so it works in every peer venv. Timing rules, the same for all:

- ``load_s``: reading both Parquet files with ``pandas.read_parquet``;
- ``compute_s``: the comparison itself, after the frames are in memory, up to a
  per-column drift verdict (serialising a report or rendering HTML is not timed).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
import traceback
from collections.abc import Callable, Iterable
from typing import Any

MARKER = "BENCH_RESULT "
_state: dict[str, float] = {}  # RSS after the frames were read; CPU s of the last timed()

NUMERIC = [f"num_{i}" for i in range(10)]
CATEGORICAL = [f"cat_{i}" for i in range(10)]


def parse_args(extra: Callable[[argparse.ArgumentParser], None] | None = None) -> Any:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ref", required=True, help="reference Parquet file")
    parser.add_argument("--cur", required=True, help="current Parquet file")
    if extra is not None:
        extra(parser)
    return parser.parse_args()


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def read_frames(ref_path: str | None, cur_path: str | None) -> tuple[Any, Any, float]:
    """Read the Parquet files with pandas; either may be None. Returns (ref, cur, seconds)."""
    import pandas as pd

    start = time.perf_counter()
    ref = pd.read_parquet(ref_path) if ref_path else None
    cur = pd.read_parquet(cur_path) if cur_path else None
    seconds = time.perf_counter() - start
    _state["load_peak_rss_mb"] = round(peak_rss_mb(), 1)
    _forget_load_peak()
    _state["rss_after_load_mb"] = round(peak_rss_mb(), 1)
    return ref, cur, seconds


def _forget_load_peak() -> None:
    """Hand back what reading the files left unused, then reset the peak RSS.

    pandas' Parquet reader briefly holds the Arrow table and the frame (about 1.8x the
    frame at 5M rows) and Arrow's allocator keeps the freed pages; that is the
    harness's memory, not the tool's. Every tool gets the same treatment: the kernel's
    high-water mark (VmHWM, which is also what ``wait4`` reports) is reset through
    /proc/self/clear_refs, so the peak counts what the process holds while comparing,
    the frames included. Without Linux's clear_refs the load peak stays in.
    """
    import gc

    gc.collect()
    try:
        import pyarrow as pa

        pa.default_memory_pool().release_unused()
    except (ImportError, AttributeError):
        pass
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass


def frame_mb(*frames: Any) -> float:
    return sum(f.memory_usage(deep=True).sum() for f in frames if f is not None) / 2**20


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    """Run fn; return its value and wall seconds. Its CPU seconds (all threads of this
    process) are kept for ``emit``: unlike wall time they barely move when other jobs
    share the machine."""
    cpu = time.process_time()
    start = time.perf_counter()
    value = fn()
    seconds = time.perf_counter() - start
    _state["compute_cpu_s"] = round(time.process_time() - cpu, 3)
    return value, seconds


def emit(**fields: Any) -> None:
    fields.setdefault("peak_rss_self_mb", round(peak_rss_mb(), 1))
    fields.setdefault("rss_after_load_mb", _state.get("rss_after_load_mb"))
    fields.setdefault("compute_cpu_s", _state.get("compute_cpu_s"))
    print(MARKER + json.dumps(fields, default=str), flush=True)


def drifted_list(columns: Iterable[str]) -> list[str]:
    order = {c: i for i, c in enumerate(NUMERIC + CATEGORICAL)}
    return sorted(set(columns), key=lambda c: order.get(c, len(order)))


def run_guarded(main: Callable[[], None], tool: str) -> None:
    """Run a runner's main; any failure becomes a result line with the error."""
    try:
        main()
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        emit(tool=tool, ok=False, error=f"{type(exc).__name__}: {exc}")
        sys.exit(1)
