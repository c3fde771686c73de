"""Wasserstein-1 (earth mover's) distance, normalised by the reference standard deviation."""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import wasserstein_distance

from driftline.stats.drift._result import DriftResult
from driftline.stats.drift.registry import NUMERIC, DriftInputs, DriftMethod


def _result(
    value: float, scale: float, threshold: float, n_ref: int, n_cur: int, computed: str
) -> DriftResult:
    norm = value / scale if scale > 0 else (0.0 if value == 0 else math.inf)
    return DriftResult(
        method="wasserstein",
        statistic=float(norm),
        p_value=None,
        threshold=threshold,
        drifted=bool(norm >= threshold),
        n_reference=n_ref,
        n_current=n_cur,
        computed=computed,
        details={"distance": float(value), "reference_std": float(scale)},
    )


def wasserstein(
    ref: np.ndarray,
    cur: np.ndarray,
    *,
    ref_std: float | None = None,
    threshold: float = 0.1,
    computed: str = "exact",
) -> DriftResult:
    """``scipy.stats.wasserstein_distance(ref, cur) / ref_std`` (default: the sample std)."""
    scale = float(np.std(ref, ddof=1)) if ref_std is None else float(ref_std)
    value = float(wasserstein_distance(ref, cur))
    return _result(value, scale, threshold, int(ref.size), int(cur.size), computed)


def wasserstein_binned(
    edges: np.ndarray,
    ref_counts: np.ndarray,
    cur_counts: np.ndarray,
    *,
    ref_std: float,
    threshold: float = 0.1,
) -> DriftResult:
    """W1 = integral of |F_ref - F_cur| over fine bins with lower edges ``edges``.

    ``edges`` has one more entry than the counts (the last is the upper edge).
    Exact at the bin edges; the error is at most the widest bin the two CDFs
    differ over, times that difference.
    """
    r = np.cumsum(ref_counts) / max(float(np.sum(ref_counts)), 1.0)
    c = np.cumsum(cur_counts) / max(float(np.sum(cur_counts)), 1.0)
    widths = np.diff(edges)
    # CDF difference is piecewise linear inside a bin if values spread uniformly in it
    prev = np.concatenate([[0.0], r[:-1] - c[:-1]])
    diff = r - c
    value = float(np.sum(widths * (np.abs(prev) + np.abs(diff)) / 2.0))
    return _result(
        value, ref_std, threshold, int(np.sum(ref_counts)), int(np.sum(cur_counts)), "bins"
    )


def _compute(inputs: DriftInputs, threshold: float) -> DriftResult:
    ref_std = inputs.reference.moments.std
    if inputs.sample_computed == "exact":
        return wasserstein(
            inputs.reference_sample, inputs.current_sample, ref_std=ref_std, threshold=threshold
        )
    from driftline.stats.drift._bins import fine_bins

    edges, rc, cc = fine_bins(inputs.reference.histogram, inputs.current.histogram)
    return wasserstein_binned(edges, rc, cc, ref_std=ref_std, threshold=threshold)


METHOD = DriftMethod(
    name="wasserstein",
    kinds=NUMERIC,
    is_test=False,
    compute=_compute,
    default_threshold=0.1,
    description="Wasserstein-1 distance in reference standard deviations",
    by_default=True,
)
