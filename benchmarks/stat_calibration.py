"""Statistical calibration of driftline's default drift rule.

Measures, with the default settings of ``driftline.compare``:

1. the dataset-level false-alarm rate with no drift (20 features: 10 numeric
   of assorted shapes, 10 categorical), over many trials;
2. the detection rate of a 0.1 sigma mean shift in one of the 20 features,
   50k rows each side;
3. the detection rate of an unseen category at 1% share;
4. the version verdict's calibration (rollout_calibration.py, ``--rollouts``);
5. the embedding drift methods on real sentence embeddings
   (embedding_calibration.py, ``--embedding-splits``): false alarms over random
   halves of one collection, detection of a topic shift;
6. the ``correlation`` multivariate method on scikit-learn's digits,
   breast_cancer, wine and digits pixels read as categories
   (correlation_calibration.py, ``--correlation-splits``):
   false alarms over random halves, detection of one column's correlations
   removed. (Sections 1-3 include every multivariate method in the dataset
   verdict, on independent synthetic columns only.)
7. the ``domain_classifier`` multivariate method (gradient boosting) at alpha 0.05 on 50 to
   500 rows a side (classifier_null.py ``--multivariate``, ``--classifier-trials``): false
   alarms on generated and scikit-learn data, detection of breast_cancer's patient mix moved.

Run:  .venv/bin/python benchmarks/stat_calibration.py [--trials 500] [--rows 50000] [--method ks]
          [--rollouts 500] [--embedding-splits 100] [--correlation-splits 100]
          [--classifier-trials 100]

``--method ks`` makes Kolmogorov-Smirnov (bounded from the histograms past the
reservoir, docs/drift.md) decide alone on the numeric columns.
Prints a Markdown table for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

import driftline

CATS = [f"cat_{i}" for i in range(12)]
CAT_P = np.array([0.3, 0.2, 0.1, 0.1, 0.08, 0.06, 0.05, 0.04, 0.03, 0.02, 0.01, 0.01])


def make(rng: np.random.Generator, n: int, shift: float = 0.0, unseen: float = 0.0) -> pd.DataFrame:
    cols: dict[str, object] = {}
    gens: list[Callable[[], np.ndarray]] = [
        lambda: rng.normal(size=n),
        lambda: rng.lognormal(size=n),
        lambda: rng.uniform(size=n),
        lambda: rng.exponential(size=n),
        lambda: rng.gamma(2.0, size=n),
        lambda: rng.standard_t(5, size=n),
        lambda: rng.poisson(3, size=n).astype(float),
        lambda: rng.beta(2, 5, size=n),
        lambda: rng.normal(100, 15, size=n),
        lambda: rng.integers(0, 1000, size=n).astype(float),
    ]
    for i, g in enumerate(gens):
        cols[f"num_{i}"] = g()
    cols["num_0"] = np.asarray(cols["num_0"]) + shift  # std 1: shift is in sigmas
    for i in range(10):
        c = rng.choice(CATS[: 3 + i], size=n, p=CAT_P[: 3 + i] / CAT_P[: 3 + i].sum())
        cols[f"cat_{i}"] = c
    if unseen:
        c = np.asarray(cols["cat_9"]).astype(object)
        c[rng.random(n) < unseen] = "never_seen_before"
        cols["cat_9"] = c
    return pd.DataFrame(cols)


def trial(
    rng: np.random.Generator, n: int, shift: float, unseen: float, method: str = "auto"
) -> dict[str, object]:
    rep = driftline.compare(
        make(rng, n), make(rng, n, shift, unseen), seed=int(rng.integers(2**31)), method=method
    )
    d = rep.to_dict()
    unseen_flag = any(
        q["check"] == "unseen_categories" and q["status"] == "fail"
        for q in d["columns"]["cat_9"]["quality"]
    )
    return {
        "dataset": rep.drifted,
        "columns": set(rep.drifted_columns),
        "unseen": unseen_flag or "cat_9" in rep.drifted_columns,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=500)
    ap.add_argument("--rows", type=int, default=50_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument(
        "--method", default="auto", help="global drift method (ks: KS alone on numeric columns)"
    )
    ap.add_argument(
        "--rollouts", type=int, default=500,
        help="simulated rollouts for the version verdict (rollout_calibration.py; 0: skip)",
    )  # fmt: skip
    ap.add_argument(
        "--embedding-splits", type=int, default=100,
        help="random halves of real sentence embeddings per embedding method "
        "(embedding_calibration.py; 0: skip)",
    )  # fmt: skip
    ap.add_argument(
        "--correlation-splits", type=int, default=100,
        help="random halves of digits, breast_cancer and wine for the correlation method "
        "(correlation_calibration.py; 0: skip)",
    )  # fmt: skip
    ap.add_argument(
        "--classifier-trials", type=int, default=100,
        help="trials per dataset and size for the multivariate domain classifier "
        "(classifier_null.py --multivariate; 0: skip)",
    )  # fmt: skip
    args = ap.parse_args()
    m = args.method
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    fa = [trial(rng, args.rows, 0.0, 0.0, m) for _ in range(args.trials)]
    fa_rate = np.mean([t["dataset"] for t in fa])
    col_fa = np.mean([len(t["columns"]) for t in fa]) / 20
    det_trials = max(args.trials // 2, 100)
    det = [trial(rng, args.rows, 0.1, 0.0, m) for _ in range(det_trials)]
    det_rate = np.mean(["num_0" in t["columns"] for t in det])
    other = np.mean([len(t["columns"] - {"num_0"}) for t in det]) / 19
    un_trials = max(args.trials // 5, 50)
    un = [trial(rng, args.rows, 0.0, 0.01, m) for _ in range(un_trials)]
    un_rate = np.mean([t["unseen"] for t in un])
    took = time.perf_counter() - t0
    print(
        f"rows per side: {args.rows}; 20 features (10 numeric, 10 categorical); "
        f"method {m}, alpha 0.05; {took:.0f} s"
    )
    print()
    print("| scenario | trials | measured | target |")
    print("|---|---|---|---|")
    print(f"| no drift: dataset false-alarm rate | {args.trials} | {fa_rate:.1%} | <= 7% |")
    print(f"| no drift: per-column false-alarm rate | {args.trials} | {col_fa:.2%} | - |")
    print(f"| 0.1 sigma mean shift in 1 of 20: detected | {det_trials} | {det_rate:.1%} | >= 95% |")
    print(f"| 0.1 sigma shift: other columns flagged | {det_trials} | {other:.2%} | - |")
    print(f"| unseen category at 1% share: flagged | {un_trials} | {un_rate:.1%} | flagged |")
    if args.rollouts:
        from rollout_calibration import print_table, run

        print()
        print_table(run(args.rollouts, args.seed))
    if args.embedding_splits:
        import embedding_calibration as emb

        print()
        print("Embedding drift methods on real sentence embeddings (embedding_calibration.py):")
        print()
        emb.print_table(emb.run(args.embedding_splits))
    if args.correlation_splits:
        import correlation_calibration as corr

        print()
        print("The correlation multivariate method on real data (correlation_calibration.py):")
        print()
        corr.print_table(corr.run(args.correlation_splits))
    if args.classifier_trials:
        import classifier_null

        print()
        print("The multivariate domain classifier on small samples (classifier_null.py):")
        print()
        classifier_null.multivariate(
            args.classifier_trials, 0.05, [50, 100, 200, 500], list(classifier_null.MV_DATASETS)
        )


if __name__ == "__main__":
    main()
