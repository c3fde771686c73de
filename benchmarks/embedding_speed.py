"""Embedding profile update speed and memory (issue 20's bar).

Times one ``ColumnProfile.update`` of an embedding column (100,000 x 384
float32, an Arrow fixed-size list, as ``driftline.profile`` passes a numpy 2-D
array) against one numpy pass computing the norms and the centroid
(``np.sqrt(np.einsum("ij,ij->i", X, X))`` and ``X.mean(axis=0)``). Bar: at most
2x. Also prints the serialised size of the column's profile after 10k, 100k and
1M vectors (memory per window must not grow with traffic).

Run:  .venv/bin/python benchmarks/embedding_speed.py [--rows 100000] [--dim 384] [--repeat 7]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pyarrow as pa

from driftline.schema import ColumnSpec, Kind
from driftline.stats.accumulators import bottom_k_keys
from driftline.stats.accumulators._kernels import warm_up
from driftline.stats.column_profile import ColumnProfile


def arrow_column(x: np.ndarray) -> pa.ChunkedArray:
    return pa.chunked_array([pa.FixedSizeListArray.from_arrays(pa.array(x.ravel()), x.shape[1])])


def best(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times)), float(min(times))  # type: ignore[return-value]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.rows, args.dim)).astype(np.float32)
    col = arrow_column(x)
    warm_up()

    def numpy_pass() -> None:
        np.sqrt(np.einsum("ij,ij->i", x, x))
        x.mean(axis=0)

    def profile_update() -> None:
        p = ColumnProfile(ColumnSpec("e", Kind.EMBEDDING))
        idx, keys = bottom_k_keys(args.rows, 10_000, rng)
        p.update(col, idx, keys, rng)

    profile_update()  # compile / load the kernel
    base_med, base_min = best(numpy_pass, args.repeat)
    ours_med, ours_min = best(profile_update, args.repeat)
    print(f"{args.rows:,} x {args.dim} float32, median (min) of {args.repeat}")
    print()
    print("| what | time | ratio |")
    print("|---|---|---|")
    print(
        f"| numpy pass: norms + centroid | {base_med * 1e3:.0f} ms ({base_min * 1e3:.0f}) | 1.0 |"
    )
    print(
        f"| embedding profile update | {ours_med * 1e3:.0f} ms ({ours_min * 1e3:.0f}) | "
        f"{ours_med / base_med:.2f} ({ours_min / base_min:.2f}) |"
    )
    print()
    print("| vectors profiled | serialised column profile |")
    print("|---|---|")
    p = ColumnProfile(ColumnSpec("e", Kind.EMBEDDING))
    done = 0
    for target in (10_000, 100_000, 1_000_000):
        while done < target:
            n = min(100_000, target - done)
            chunk = rng.standard_normal((n, args.dim)).astype(np.float32)
            idx, keys = bottom_k_keys(n, 10_000, rng)
            p.update(arrow_column(chunk), idx, keys, rng)
            done += n
        print(f"| {done:,} | {len(p.to_bytes()) / 1e6:.2f} MB |")


if __name__ == "__main__":
    main()
