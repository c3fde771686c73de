"""CPU the SDK's Mahalanobis scoring costs the model service, with and without BLAS.

    python benchmarks/sdk_outlier_blas.py [--batches 60] [--rows 500] [--columns 15,60,200]
                                          [--scoring both|blas|einsum]

The SDK scores each batch of predictions on its shipper thread
(``_utils/outlier_wire.WireModel``). A matrix product there goes to OpenBLAS,
whose worker threads run it in parallel and then spin-wait on the service's
cores; ``einsum`` (``mahalanobis(..., blas=False)``, what the SDK uses) runs
in numpy's own loop on the calling thread. Per batch: CPU of the calling
thread (``time.thread_time``) and of the whole process (``time.process_time``,
which includes the BLAS threads' work and spinning), and wall time. BLAS is
left as numpy starts it (as in a user's service); the process CPU is the
figure that matters on a shared machine. ``both`` runs each way in its own
process (a product's spinning threads would otherwise bleed into the next
measurement); the process figure includes 0.2 s after the last call.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import numpy as np

from driftline._utils.outlier_wire import mahalanobis


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", type=int, default=60)
    ap.add_argument("--rows", type=int, default=500)
    ap.add_argument("--columns", default="15,60,200")
    ap.add_argument("--scoring", choices=("both", "blas", "einsum"), default="both")
    args = ap.parse_args()
    if args.scoring == "both":
        print(f"load average {os.getloadavg()[0]:.1f}; ms per batch of {args.rows} rows")
        print("columns  scoring        thread CPU  process CPU   wall")
        for k in args.columns.split(","):
            for way in ("blas", "einsum"):
                cmd = [sys.executable, __file__, "--scoring", way, "--columns", k]
                cmd += ["--batches", str(args.batches), "--rows", str(args.rows)]
                subprocess.run(cmd, check=True)
        return
    rng = np.random.default_rng(0)
    for k in (int(c) for c in args.columns.split(",")):
        x = rng.normal(size=(args.rows, k))
        a = rng.normal(size=(k, k))
        precision, centre = a @ a.T, np.zeros(k)
        blas = args.scoring == "blas"
        for name in ("matmul (BLAS)" if blas else "einsum",):
            mahalanobis(x, centre, precision, blas=blas)
            t0, p0, w0 = time.thread_time(), time.process_time(), time.perf_counter()
            for _ in range(args.batches):
                mahalanobis(x, centre, precision, blas=blas)
            w1 = time.perf_counter()
            time.sleep(0.2)  # spinning BLAS threads go on for a while after the last call
            t1, p1 = time.thread_time(), time.process_time()
            n = args.batches
            print(
                f"{k:7d}  {name:13s} {(t1 - t0) / n * 1e3:10.3f} {(p1 - p0) / n * 1e3:12.3f} "
                f"{(w1 - w0) / n * 1e3:7.3f}"
            )


if __name__ == "__main__":
    main()
