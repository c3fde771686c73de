"""False alarms of the domain classifiers on small samples (no drift at all), and power.

``--multivariate``: the multivariate ``domain_classifier`` (gradient boosting on numeric and
categorical columns, driftline.stats.multivariate.classifier), through profiles as
``compare()`` runs it (``min_rows`` lowered to 10 so that 50 rows a side decide), at
``alpha`` alone. Per side 50, 100, 200, 500 rows (``--sizes``), both sides drawn without
replacement from one dataset (``--datasets``): ``generated`` (stat_calibration.py's 10 numeric
columns of assorted shapes and 10 categorical ones of 3-12 levels), ``gaussian`` (8 independent
normal columns), and scikit-learn's ``breast_cancer``, ``digits`` and ``digits_categories``
(12 of digits' pixels and the digit read as categories; correlation_calibration.py's). Power:
``breast_cancer_prior`` draws the current side with 60 % malignant tumours against the
reference's 37 % (a real population shift: the same measurements, another mix of patients).
Rows: the share with p < alpha, the share flagged (p < alpha and AUC >= 0.55), 95 % Wilson
intervals; a size larger than half the dataset is skipped.

Without ``--multivariate``, the embedding classifier:

The method (driftline.stats.drift.embedding_classifier, cross-fitted logistic regression)
takes the one-sided Mann-Whitney test of its held-out scores as its p-value. Here both
samples come from one distribution, so a calibrated test rejects ``alpha`` of the time.
Samples: Gaussian vectors, and rows drawn from the real sentence embeddings of
tests/data/debian_descriptions.npz (the science collection, loaded as embedding_calibration.py
does). For each size: the share of trials with p < alpha and the share the method flags
(p < alpha and AUC >= its effect threshold), with 95 % Wilson intervals.

Run:  cd benchmarks && ../.venv/bin/python classifier_null.py [--trials 200] [--alpha 0.05]
      cd benchmarks && ../.venv/bin/python classifier_null.py --multivariate [--trials 200]
          [--sizes 50,100,200,500] [--datasets generated,gaussian,breast_cancer,...]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pandas as pd

from driftline.stats.drift.embedding_classifier import vector_classifier

#: (reference rows, current rows, dimension or "real")
SIZES = ((200, 60, 4), (200, 60, 32), (120, 60, 384), (200, 60, "real"), (1000, 500, 32),
         (1000, 500, "real"))  # fmt: skip


def _wilson(k: int, n: int) -> str:
    from statsmodels.stats.proportion import proportion_confint

    lo, hi = proportion_confint(k, n, alpha=0.05, method="wilson")
    return f"{k / n:.1%} ({lo:.1%}-{hi:.1%})"


#: The multivariate datasets: same distribution on both sides, except the ``_prior`` one.
MV_DATASETS = ("generated", "gaussian", "breast_cancer", "digits", "digits_categories",
               "breast_cancer_prior")  # fmt: skip


def _mv_pool(name: str) -> pd.DataFrame:
    if name in ("generated", "gaussian"):
        rng = np.random.default_rng(7)
        if name == "gaussian":
            return pd.DataFrame(rng.normal(size=(20_000, 8)), columns=[f"x{i}" for i in range(8)])
        from stat_calibration import make

        return make(rng, 20_000)
    if name == "breast_cancer_prior":
        from sklearn.datasets import load_breast_cancer

        bunch = load_breast_cancer(as_frame=True)
        return bunch.data.assign(_malignant=(bunch.target == 0).to_numpy())
    from correlation_calibration import load

    return load(name)


def _mv_sides(
    name: str, pool: pd.DataFrame, n: int, rng: np.random.Generator
) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    if name != "breast_cancer_prior":
        if 2 * n > len(pool):
            return None
        rows = rng.choice(len(pool), 2 * n, replace=False)
        return pool.iloc[rows[:n]], pool.iloc[rows[n:]]
    bad = np.flatnonzero(pool["_malignant"].to_numpy())
    good = np.flatnonzero(~pool["_malignant"].to_numpy())
    n_bad_ref, n_bad_cur = round(0.37 * n), round(0.60 * n)
    if n_bad_ref + n_bad_cur > bad.size or 2 * n - n_bad_ref - n_bad_cur > good.size:
        return None
    b, g = rng.permutation(bad), rng.permutation(good)
    ref = np.r_[b[:n_bad_ref], g[: n - n_bad_ref]]
    cur = np.r_[
        b[n_bad_ref : n_bad_ref + n_bad_cur], g[n - n_bad_ref : 2 * n - n_bad_ref - n_bad_cur]
    ]
    data = pool.drop(columns="_malignant")
    return data.iloc[ref], data.iloc[cur]


def multivariate(trials: int, alpha: float, sizes: list[int], names: list[str]) -> None:
    from driftline.stats.multivariate import MultivariateOptions, multivariate_drift
    from driftline.stats.profile import build_profile

    print(f"load average {os.getloadavg()[0]:.1f}, {trials} trials a row, alpha {alpha}")
    print("| data | rows a side | p < alpha | flagged | CPU s |")
    print("|---|---|---|---|---|")
    for name in names:
        pool = _mv_pool(name)
        for n in sizes:
            rng = np.random.default_rng(2026)
            t0 = time.process_time()
            low = flagged = 0
            for t in range(trials):
                sides = _mv_sides(name, pool, n, rng)
                if sides is None:
                    break
                opts = MultivariateOptions(
                    methods=("domain_classifier",), alpha=alpha, min_rows=10, seed=t
                )
                ref, cur = (build_profile(s.reset_index(drop=True), seed=2 * t) for s in sides)
                res = multivariate_drift(ref, cur, opts)["methods"]["domain_classifier"]
                low += bool(res["p_value"] is not None and res["p_value"] < alpha)
                flagged += bool(res["drifted"])
            else:
                print(f"| {name} | {n} | {_wilson(low, trials)} | {_wilson(flagged, trials)} | "
                      f"{time.process_time() - t0:.1f} |", flush=True)  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--alpha", type=float, default=0.05)
    ap.add_argument("--multivariate", action="store_true", help="the gradient-boosting one")
    ap.add_argument("--sizes", default="50,100,200,500", help="rows a side (--multivariate)")
    ap.add_argument("--datasets", default=",".join(MV_DATASETS), help="(--multivariate)")
    args = ap.parse_args()
    if args.multivariate:
        sizes = [int(x) for x in args.sizes.split(",")]
        names = args.datasets.split(",")
        unknown = sorted(set(names) - set(MV_DATASETS))
        if unknown:
            ap.error(f"unknown datasets {unknown}; allowed: {', '.join(MV_DATASETS)}")
        multivariate(args.trials, args.alpha, sizes, names)
        return
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
