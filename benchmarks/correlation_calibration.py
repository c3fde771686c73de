"""Calibration of the ``correlation`` multivariate method on real data (scikit-learn's).

1. No drift: ``--splits`` random splits of each dataset into two halves (reference,
   current); the share of splits the method flags at alpha 0.05 (false alarms;
   target <= 5 %), with its 95 % Wilson interval (over 100 splits a 5 % test shows
   2-11 %). digits: 1,797 8x8 images whose border pixels are 0 in nearly every image
   (near-constant columns); breast_cancer: 569 rows of skewed, heavy-tailed
   measurements; wine: 178 rows (89 a side, so ``min_rows`` is lowered to 50);
   digits_categories: 12 of digits' pixels read as categories (8 of them border pixels,
   '0' in 93-99.6 % of the images) and the digit itself, so Cramér's V pairs only.
2. A real change: the same splits with one strongly correlated column of the current
   half shuffled (its own distribution unchanged, its correlations gone); the share
   flagged, and how often that column is in the pair that changed most.

Run:  .venv/bin/python benchmarks/correlation_calibration.py [--splits 100] [--datasets a,b]
(benchmarks/stat_calibration.py runs it too, ``--correlation-splits``). Prints a
Markdown table; the CPU time is process time.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import pandas as pd

from driftline.stats.multivariate import MultivariateOptions, multivariate_drift
from driftline.stats.profile import build_profile

#: dataset -> (loader name, the column shuffled for the real change)
DATASETS = {
    "digits": ("load_digits", "pixel_3_4"),
    "breast_cancer": ("load_breast_cancer", "mean perimeter"),
    "wine": ("load_wine", "flavanoids"),
    "digits_categories": ("load_digits", "digit"),
}
#: digits_categories: border pixels (near-constant) and central ones, read as categories
CATEGORY_PIXELS = [
    *("pixel_1_0", "pixel_5_0", "pixel_0_7", "pixel_1_7", "pixel_2_7", "pixel_5_7"),
    *("pixel_6_7", "pixel_7_7", "pixel_3_4", "pixel_4_4", "pixel_2_3", "pixel_5_5"),
]


def load(name: str) -> pd.DataFrame:
    import sklearn.datasets

    loader = getattr(sklearn.datasets, DATASETS[name][0])
    if name == "digits_categories":
        bunch = loader(as_frame=True)
        cat = bunch.data[CATEGORY_PIXELS].astype(int).astype(str)
        return cat.assign(digit=bunch.target.astype(str))  # type: ignore[no-any-return]
    return loader(as_frame=True).data  # type: ignore[no-any-return]


def result(ref: pd.DataFrame, cur: pd.DataFrame, seed: int) -> dict[str, Any]:
    opts = MultivariateOptions(methods=("correlation",), min_rows=50, seed=seed)
    section = multivariate_drift(
        build_profile(ref, seed=seed), build_profile(cur, seed=seed + 1), opts
    )
    return section["methods"]["correlation"]  # type: ignore[no-any-return]


def run(splits: int, names: list[str] | None = None) -> list[dict[str, Any]]:
    rows = []
    for name, (_, shuffled) in DATASETS.items():
        if names and name not in names:
            continue
        data = load(name)
        started = time.process_time()
        false, caught, named, excluded = 0, 0, 0, []
        for s in range(splits):
            rng = np.random.default_rng(s)
            idx = rng.permutation(len(data))
            half = len(data) // 2
            ref = data.iloc[idx[:half]].reset_index(drop=True)
            cur = data.iloc[idx[half:]].reset_index(drop=True)
            same = result(ref, cur, s)
            false += bool(same["drifted"])
            excluded.append(int(same["details"].get("pairs_excluded", 0)))
            changed = cur.assign(**{shuffled: rng.permutation(cur[shuffled].to_numpy())})
            moved = result(ref, changed, s)
            caught += bool(moved["drifted"])
            top = (moved["details"].get("top_pairs") or [{"columns": []}])[0]["columns"]
            named += shuffled in top
        rows.append(
            {
                "dataset": name,
                "rows": len(data),
                "columns": data.shape[1],
                "splits": splits,
                "false_alarms": false / splits,
                "pairs_excluded": float(np.median(excluded)),
                "shuffled": shuffled,
                "detected": caught / splits,
                "named": named / splits,
                "cpu": time.process_time() - started,
            }
        )
    return rows


def wilson(rate: float, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    centre = (rate + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def print_table(rows: list[dict[str, Any]]) -> None:
    print(
        "| dataset | rows x columns | splits | no drift: flagged (95% interval) | pairs "
        "excluded (median) | one column shuffled: flagged | its pair named first | CPU s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        lo, hi = wilson(r["false_alarms"], r["splits"])
        print(
            f"| {r['dataset']} | {r['rows']:,} x {r['columns']} | {r['splits']} | "
            f"{r['false_alarms']:.0%} ({lo:.0%}-{hi:.0%}) | {r['pairs_excluded']:.0f} | "
            f"`{r['shuffled']}`: {r['detected']:.0%} | {r['named']:.0%} | {r['cpu']:.1f} |"
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--splits", type=int, default=100)
    ap.add_argument("--datasets", default="", help="comma-separated (default: all)")
    args = ap.parse_args()
    print_table(run(args.splits, [n for n in args.datasets.split(",") if n]))


if __name__ == "__main__":
    main()
