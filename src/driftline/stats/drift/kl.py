"""Kullback-Leibler divergence KL(current || reference), in nats."""

from __future__ import annotations

import numpy as np

from driftline.stats.drift._common import distance_result, floored, proportions
from driftline.stats.drift._result import DriftResult
from driftline.stats.drift.registry import BOTH, DriftMethod, on_bins


def kl_divergence(
    ref_counts: np.ndarray,
    cur_counts: np.ndarray,
    *,
    threshold: float = 0.1,
    computed: str = "bins",
) -> DriftResult:
    """sum(q * ln(q / p)) with proportions floored at 1e-4 (q: current, p: reference)."""
    p = floored(proportions(ref_counts))
    q = floored(proportions(cur_counts))
    value = float(np.sum(q * np.log(q / p)))
    return distance_result("kl_divergence", value, threshold, ref_counts, cur_counts, computed)


METHOD = DriftMethod(
    name="kl_divergence",
    kinds=BOTH,
    is_test=False,
    compute=on_bins(kl_divergence),
    default_threshold=0.1,
    description="KL divergence of current from reference over shared bins",
    by_default=True,
)
