"""Two-sample Kolmogorov-Smirnov test."""

from __future__ import annotations

import numpy as np
from scipy.stats import ks_2samp

from driftline.stats.drift._result import DriftResult


def kolmogorov_smirnov(
    ref: np.ndarray, cur: np.ndarray, *, alpha: float = 0.05, computed: str = "exact"
) -> DriftResult:
    """``scipy.stats.ks_2samp`` (two-sided, method 'auto') on two samples of finite values."""
    res = ks_2samp(ref, cur)
    p = float(res.pvalue)
    return DriftResult(
        method="ks",
        statistic=float(res.statistic),
        p_value=p,
        threshold=alpha,
        drifted=bool(p < alpha),
        n_reference=int(ref.size),
        n_current=int(cur.size),
        computed=computed,
    )
