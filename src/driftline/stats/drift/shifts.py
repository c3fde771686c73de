"""Location, spread and quantile shifts, in units a person can read."""

from __future__ import annotations

import math

import numpy as np

from driftline.stats.drift._result import DriftResult


def mean_shift(
    ref_mean: float,
    ref_std: float,
    cur_mean: float,
    n_ref: int,
    n_cur: int,
    *,
    threshold: float = 0.1,
) -> DriftResult:
    """|mean_cur - mean_ref| in reference standard deviations."""
    value = (
        abs(cur_mean - ref_mean) / ref_std
        if ref_std > 0
        else (0.0 if cur_mean == ref_mean else math.inf)
    )
    return DriftResult(
        "mean_shift",
        float(value),
        None,
        threshold,
        bool(value >= threshold),
        n_ref,
        n_cur,
        "exact",
        {"signed": float(cur_mean - ref_mean)},
    )


def std_ratio(
    ref_std: float, cur_std: float, n_ref: int, n_cur: int, *, threshold: float = 0.2
) -> DriftResult:
    """|log(std_cur / std_ref)|: 0 when the spread is unchanged, 0.69 when it doubles."""
    if ref_std > 0 and cur_std > 0:
        value = abs(math.log(cur_std / ref_std))
    else:
        value = 0.0 if ref_std == cur_std else math.inf
    return DriftResult(
        "std_ratio",
        float(value),
        None,
        threshold,
        bool(value >= threshold),
        n_ref,
        n_cur,
        "exact",
        {"ratio": cur_std / ref_std if ref_std else None},
    )


def quantile_shift(
    probs: np.ndarray,
    ref_q: np.ndarray,
    cur_q: np.ndarray,
    ref_std: float,
    n_ref: int,
    n_cur: int,
    *,
    threshold: float = 0.25,
) -> DriftResult:
    """Largest |q_cur(p) - q_ref(p)| over ``probs``, in reference standard deviations."""
    deltas = np.abs(np.asarray(cur_q) - np.asarray(ref_q))
    raw = float(np.nanmax(deltas)) if deltas.size else 0.0
    value = raw / ref_std if ref_std > 0 else (0.0 if raw == 0 else math.inf)
    return DriftResult(
        "quantile_shift",
        float(value),
        None,
        threshold,
        bool(value >= threshold),
        n_ref,
        n_cur,
        "sketch",
        {
            "probs": [float(p) for p in probs],
            "reference": [float(x) for x in ref_q],
            "current": [float(x) for x in cur_q],
        },
    )
