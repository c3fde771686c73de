"""False alarms of the embedding domain classifier on small windows (no drift at all).

The method (driftline.stats.drift.embedding_classifier, cross-fitted logistic regression)
takes the one-sided Mann-Whitney test of its held-out scores as its p-value. Here both
samples come from one distribution, so a calibrated test rejects ``alpha`` of the time.
Samples: Gaussian vectors, and rows drawn from the real sentence embeddings of
tests/data/debian_descriptions.npz (the science collection, loaded as embedding_calibration.py
does). For each size: the share of trials with p < alpha and the share the method flags
(p < alpha and AUC >= its effect threshold), with 95 % Wilson intervals.

Run:  cd benchmarks && ../.venv/bin/python classifier_null.py [--trials 200] [--alpha 0.05]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from driftline.stats.drift.embedding_classifier import vector_classifier

#: (reference rows, current rows, dimension or "real")
SIZES = ((200, 60, 4), (200, 60, 32), (120, 60, 384), (200, 60, "real"), (1000, 500, 32),
         (1000, 500, "real"))  # fmt: skip


def _wilson(k: int, n: int) -> str:
    from statsmodels.stats.proportion import proportion_confint

    lo, hi = proportion_confint(k, n, alpha=0.05, method="wilson")
    return f"{k / n:.1%} ({lo:.1%}-{hi:.1%})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--alpha", type=float, default=0.05)
    args = ap.parse_args()
    from embedding_calibration import load  # the fixture's vectors by section

    pool = load()["science"].astype(np.float64)
    rng = np.random.default_rng(2026)
    print(f"load average {os.getloadavg()[0]:.1f}, {args.trials} trials a row, alpha {args.alpha}")
    print("| reference rows | current rows | vectors | p < alpha | flagged | CPU s |")
    print("|---|---|---|---|---|---|")
    for n_ref, n_cur, dim in SIZES:
        t0 = time.process_time()
        low = flagged = 0
        for t in range(args.trials):
            if dim == "real":
                rows = pool[rng.choice(pool.shape[0], n_ref + n_cur, replace=False)]
                ref, cur = rows[:n_ref], rows[n_ref:]
            else:
                ref = rng.normal(size=(n_ref, int(dim)))
                cur = rng.normal(size=(n_cur, int(dim)))
            res = vector_classifier(ref, cur, alpha=args.alpha, seed=t)
            low += bool(res.p_value is not None and res.p_value < args.alpha)
            flagged += bool(res.drifted)
        what = "MiniLM (384)" if dim == "real" else f"Gaussian ({dim})"
        print(f"| {n_ref} | {n_cur} | {what} | {_wilson(low, args.trials)} | "
              f"{_wilson(flagged, args.trials)} | {time.process_time() - t0:.1f} |")  # fmt: skip


if __name__ == "__main__":
    main()
