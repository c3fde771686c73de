"""CPU of one window fold alone (issue 19): DatasetProfile.update of the ingest benchmark's data.

    PYTHONPATH=src .venv/bin/python -m benchmarks.window_folds [--rows 500,2000,8000,70000]
                                                               [--repeat 5] [--updates 5]

The 20 features of ``benchmarks/ingest.py`` (15 numeric, normal and rounded to 4 places; 5
categorical of 8 values), folded as a collector folds them: the profile's thread pool, one BLAS
thread, the compiled kernels loaded first, a window's reservoir (1,000 rows). A collector folds
"all traffic" every ``fold_rows`` (65,536) rows, so 70,000 rows at batches of 5,000; each segment
value gets its share of those rows (a few thousand with ten values). Prints the process CPU (all
threads) per update and per row, the best of ``--repeat`` runs of ``--updates`` updates.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pyarrow as pa

from driftline.schema import Schema
from driftline.server.collector import one_blas_thread
from driftline.stats.accumulators._kernels import warm_up
from driftline.stats.profile import DatasetProfile


def table(n: int, rng: np.random.Generator) -> pa.Table:
    cols: dict[str, pa.Array] = {f"x{j}": pa.array(rng.normal(size=n).round(4)) for j in range(15)}
    for j in range(5):
        cols[f"c{j}"] = pa.array([f"v{i}" for i in rng.integers(0, 8, n).tolist()])
    return pa.table(cols)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", default="500,2000,8000,70000")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--updates", type=int, default=5)
    args = ap.parse_args()
    one_blas_thread()
    warm_up()
    rng = np.random.default_rng(0)
    sample = table(100, rng)
    schema = Schema.infer(sample.schema, sample)
    print(f"load (uptime): {os.getloadavg()[0]:.2f}")
    for n in (int(r) for r in args.rows.split(",")):
        batches = [table(n, rng) for _ in range(args.updates)]
        profile = DatasetProfile(schema, 1000, None)
        profile.update(table(n, rng), rng)  # the sketches hold a batch already, as mid-window
        best = float("inf")
        for _ in range(args.repeat):
            t0 = time.process_time()
            for b in batches:
                profile.update(b, rng)
            best = min(best, (time.process_time() - t0) / len(batches))
        print(
            f"  {n:>7,} rows x 20 columns: {1e3 * best:7.2f} ms CPU per update, "
            f"{1e6 * best / n:6.2f} us per row (best of {args.repeat})"
        )
    print(f"load (uptime): {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
