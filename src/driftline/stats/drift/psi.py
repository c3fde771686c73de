"""Population stability index over shared bins."""

from __future__ import annotations

import numpy as np

from driftline.stats.drift._common import distance_result, floored, proportions
from driftline.stats.drift._result import DriftResult
from driftline.stats.drift.registry import BOTH, DriftMethod, on_bins


def psi(
    ref_counts: np.ndarray,
    cur_counts: np.ndarray,
    *,
    threshold: float = 0.2,
    computed: str = "bins",
) -> DriftResult:
    """PSI = sum((q - p) * ln(q / p)) with proportions floored at 1e-4 (p: reference)."""
    p = floored(proportions(ref_counts))
    q = floored(proportions(cur_counts))
    value = float(np.sum((q - p) * np.log(q / p)))
    return distance_result("psi", value, threshold, ref_counts, cur_counts, computed)


METHOD = DriftMethod(
    name="psi",
    kinds=BOTH,
    is_test=False,
    compute=on_bins(psi),
    default_threshold=0.2,
    description="PSI over shared bins (proportions floored at 1e-4)",
    by_default=True,
)
