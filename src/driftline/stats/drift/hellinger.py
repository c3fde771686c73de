"""Hellinger distance, in [0, 1]."""

from __future__ import annotations

import math

import numpy as np

from driftline.stats.drift._common import distance_result, proportions
from driftline.stats.drift._result import DriftResult
from driftline.stats.drift.registry import BOTH, DriftMethod, on_bins


def hellinger(
    ref_counts: np.ndarray,
    cur_counts: np.ndarray,
    *,
    threshold: float = 0.1,
    computed: str = "bins",
) -> DriftResult:
    """sqrt(1/2 * sum((sqrt(p) - sqrt(q))**2))."""
    p, q = proportions(ref_counts), proportions(cur_counts)
    value = math.sqrt(0.5 * float(np.sum((np.sqrt(p) - np.sqrt(q)) ** 2)))
    return distance_result("hellinger", value, threshold, ref_counts, cur_counts, computed)


METHOD = DriftMethod(
    name="hellinger",
    kinds=BOTH,
    is_test=False,
    compute=on_bins(hellinger),
    default_threshold=0.1,
    description="Hellinger distance over shared bins, in [0, 1]",
    by_default=True,
)
