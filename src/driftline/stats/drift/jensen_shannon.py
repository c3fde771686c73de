"""Jensen-Shannon distance (base 2, so it lies in [0, 1])."""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import jensenshannon

from driftline.stats.drift._common import distance_result, proportions
from driftline.stats.drift._result import DriftResult
from driftline.stats.drift.registry import BOTH, DriftMethod, on_bins


def jensen_shannon(
    ref_counts: np.ndarray,
    cur_counts: np.ndarray,
    *,
    threshold: float = 0.1,
    computed: str = "bins",
) -> DriftResult:
    """The square root of the JS divergence, as ``scipy.spatial.distance.jensenshannon``."""
    p, q = proportions(ref_counts), proportions(cur_counts)
    value = float(jensenshannon(p, q, base=2.0)) if p.sum() and q.sum() else 0.0
    return distance_result("jensen_shannon", value, threshold, ref_counts, cur_counts, computed)


METHOD = DriftMethod(
    name="jensen_shannon",
    kinds=BOTH,
    is_test=False,
    compute=on_bins(jensen_shannon),
    default_threshold=0.1,
    description="Jensen-Shannon distance, base 2, in [0, 1]",
    by_default=True,
)
