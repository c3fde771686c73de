"""The seeded KLL sketch against Apache DataSketches' KLL: speed, rank error, determinism.

    .venv/bin/python benchmarks/quantile_sketch.py

Both get 1,000,000 values (Student t, 3 df) in batches of 65,536, k=200. Rank
error: the largest |rank(estimate) - q| over 49 quantiles, the 99th percentile
over 100 runs of 100,000 values. Determinism: the quantiles of two runs of the
same input compared bit for bit (DataSketches' coin is seeded by the clock).
"""

from __future__ import annotations

import time

import datasketches as ds
import numpy as np

from driftline.stats.accumulators import QuantileSketch

PROBS = np.linspace(0.01, 0.99, 49)


def feed_ours(x: np.ndarray) -> np.ndarray:
    q = QuantileSketch()
    for i in range(0, x.size, 65_536):
        q.update(x[i : i + 65_536])
    return q.quantiles(PROBS)


def feed_theirs(x: np.ndarray) -> np.ndarray:
    s = ds.kll_doubles_sketch(200)
    for i in range(0, x.size, 65_536):
        s.update(np.ascontiguousarray(x[i : i + 65_536]))
    return np.asarray(s.get_quantiles(PROBS))


def timed(fn, x: np.ndarray, rounds: int = 5) -> float:  # type: ignore[no-untyped-def]
    best = np.inf
    for _ in range(rounds):
        t = time.perf_counter()
        fn(x)
        best = min(best, time.perf_counter() - t)
    return float(best)


def main() -> None:
    rng = np.random.default_rng(0)
    big = rng.standard_t(3, 1_000_000)
    for name, fn in (("driftline (seeded KLL)", feed_ours), ("DataSketches KLL", feed_theirs)):
        errors = []
        for _ in range(100):
            x = rng.standard_t(3, 100_000)
            ranks = np.searchsorted(np.sort(x), fn(x)) / x.size
            errors.append(np.max(np.abs(ranks - PROBS)))
        same = bool(np.array_equal(fn(big), fn(big)))
        print(
            f"{name:24s} 1M values: {timed(fn, big) * 1e3:6.1f} ms   "
            f"rank error p99 {np.quantile(errors, 0.99):.4f}   same twice: {same}"
        )


if __name__ == "__main__":
    main()
