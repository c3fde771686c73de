"""Location, spread and quantile shifts, in units a person can read."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from driftline.stats.drift._result import DriftResult
from driftline.stats.drift.registry import NUMERIC, DriftInputs, DriftMethod


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
    return _shift(
        "mean_shift",
        value,
        threshold,
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
    return _shift(
        "std_ratio",
        value,
        threshold,
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
    return _shift(
        "quantile_shift",
        value,
        threshold,
        n_ref,
        n_cur,
        "sketch",
        {
            "probs": [float(p) for p in probs],
            "reference": [float(x) for x in ref_q],
            "current": [float(x) for x in cur_q],
        },
    )


def _shift(
    method: str,
    value: float,
    threshold: float,
    n_ref: int,
    n_cur: int,
    computed: str,
    details: dict[str, Any],
) -> DriftResult:
    """A shift's result: it drifts at ``value >= threshold``; no p-value."""
    drifted = bool(value >= threshold)
    return DriftResult(
        method, float(value), None, threshold, drifted, n_ref, n_cur, computed, details
    )  # fmt: skip


def _counts(inputs: DriftInputs) -> tuple[int, int]:
    ref, cur = inputs.reference, inputs.current
    return ref.present - ref.non_finite, cur.present - cur.non_finite


def _mean_shift(inputs: DriftInputs, threshold: float) -> DriftResult:
    ref, cur = inputs.reference.moments, inputs.current.moments
    return mean_shift(ref.mean, ref.std, cur.mean, *_counts(inputs), threshold=threshold)


def _std_ratio(inputs: DriftInputs, threshold: float) -> DriftResult:
    ref, cur = inputs.reference.moments, inputs.current.moments
    return std_ratio(ref.std, cur.std, *_counts(inputs), threshold=threshold)


def _quantile_shift(inputs: DriftInputs, threshold: float) -> DriftResult:
    probs = np.array([0.05, 0.25, 0.5, 0.75, 0.95])
    return quantile_shift(
        probs,
        inputs.reference.quantiles.quantiles(probs),
        inputs.current.quantiles.quantiles(probs),
        inputs.reference.moments.std,
        *_counts(inputs),
        threshold=threshold,
    )


METHODS = (
    DriftMethod(
        "mean_shift", NUMERIC, False, _mean_shift, 0.1,
        "|mean shift| in reference standard deviations", by_default=True,
    ),
    DriftMethod(
        "std_ratio", NUMERIC, False, _std_ratio, 0.2,
        "|log(std_cur / std_ref)|", by_default=True,
    ),
    DriftMethod(
        "quantile_shift", NUMERIC, False, _quantile_shift, 0.25,
        "largest shift of the 5/25/50/75/95 % quantiles, in reference std", by_default=True,
    ),
)  # fmt: skip
