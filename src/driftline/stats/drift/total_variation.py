"""Total variation distance, in [0, 1]."""

from __future__ import annotations

import numpy as np

from driftline.stats.drift._common import distance_result, proportions
from driftline.stats.drift._result import DriftResult
from driftline.stats.drift.registry import BOTH, DriftMethod, on_bins


def total_variation(
    ref_counts: np.ndarray,
    cur_counts: np.ndarray,
    *,
    threshold: float = 0.1,
    computed: str = "bins",
) -> DriftResult:
    """1/2 * sum(|p - q|): the largest difference in probability any event can have."""
    p, q = proportions(ref_counts), proportions(cur_counts)
    value = 0.5 * float(np.sum(np.abs(p - q)))
    return distance_result("total_variation", value, threshold, ref_counts, cur_counts, computed)


METHOD = DriftMethod(
    name="total_variation",
    kinds=BOTH,
    is_test=False,
    compute=on_bins(total_variation),
    default_threshold=0.1,
    description="Total variation distance over shared bins, in [0, 1]",
    by_default=True,
)
