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
    _state["rss_after_load_mb"] = round(peak_rss_mb(), 1)
    return ref, cur, seconds


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
