"""Baseline: a plain scipy loop (KS + PSI on decile bins for numeric, chi2 for categorical).

Runs in the project venv. Verdict per column: p-value below 0.05 / 20 (Bonferroni).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy
from _runner import (
    CATEGORICAL,
    NUMERIC,
    drifted_list,
    emit,
    frame_mb,
    parse_args,
    read_frames,
    run_guarded,
    timed,
)
from scipy import stats

ALPHA = 0.05 / 20
EPS = 1e-6


def psi_deciles(ref: np.ndarray, cur: np.ndarray) -> float:
    edges = np.unique(np.quantile(ref, np.linspace(0.0, 1.0, 11)[1:-1]))
    p_ref = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=edges.size + 1)
    p_cur = np.bincount(np.searchsorted(edges, cur, side="right"), minlength=edges.size + 1)
    p_ref = p_ref / ref.size + EPS
    p_cur = p_cur / cur.size + EPS
    return float(np.sum((p_cur - p_ref) * np.log(p_cur / p_ref)))


def compare(ref: pd.DataFrame, cur: pd.DataFrame) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for column in NUMERIC:
        r = ref[column].to_numpy(dtype=np.float64, na_value=np.nan)
        c = cur[column].to_numpy(dtype=np.float64, na_value=np.nan)
        r, c = r[~np.isnan(r)], c[~np.isnan(c)]
        ks = stats.ks_2samp(r, c)
        out[column] = {"ks": ks.statistic, "p": ks.pvalue, "psi": psi_deciles(r, c)}
    for column in CATEGORICAL:
        counts = pd.concat([ref[column].value_counts(), cur[column].value_counts()], axis=1).fillna(
            0
        )
        chi2, p, _, _ = stats.chi2_contingency(counts.to_numpy().T)
        out[column] = {"chi2": chi2, "p": p}
    return out


def main() -> None:
    args = parse_args()
    ref, cur, load_s = read_frames(args.ref, args.cur)
    result, compute_s = timed(lambda: compare(ref, cur))
    emit(
        tool="scipy loop",
        version=f"scipy {scipy.__version__}",
        ok=True,
        rows=len(cur),
        load_s=load_s,
        compute_s=compute_s,
        frames_mb=frame_mb(ref, cur),
        drifted=drifted_list(c for c, r in result.items() if r["p"] < ALPHA),
    )


if __name__ == "__main__":
    run_guarded(main, "scipy loop")
