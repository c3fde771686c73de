"""Anderson-Darling k-sample test (k = 2)."""

from __future__ import annotations

import warnings

import numpy as np
from scipy.stats import anderson_ksamp

from driftline.stats.drift._result import DriftResult
from driftline.stats.drift.registry import NUMERIC, DriftInputs, DriftMethod


def anderson_darling(
    ref: np.ndarray, cur: np.ndarray, *, alpha: float = 0.05, computed: str = "exact"
) -> DriftResult:
    """``scipy.stats.anderson_ksamp``; its p-value is capped to [0.001, 0.25] (said in details)."""
    if np.unique(np.concatenate([ref, cur])).size < 2:  # one value on both sides: no difference
        return DriftResult(
            "anderson_darling",
            0.0,
            1.0,
            alpha,
            False,
            int(ref.size),
            int(cur.size),
            computed,
            {"p_value_capped": False},
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        res = anderson_ksamp([ref, cur])
    p = float(res.pvalue)
    return DriftResult(
        method="anderson_darling",
        statistic=float(res.statistic),
        p_value=p,
        threshold=alpha,
        drifted=bool(p < alpha),
        n_reference=int(ref.size),
        n_current=int(cur.size),
        computed=computed,
        details={"p_value_capped": bool(p <= 0.001 or p >= 0.25)},
    )


def _compute(inputs: DriftInputs, threshold: float) -> DriftResult:
    return anderson_darling(
        inputs.reference_sample,
        inputs.current_sample,
        alpha=threshold,
        computed=inputs.sample_computed,
    )


METHOD = DriftMethod(
    name="anderson_darling",
    kinds=NUMERIC,
    is_test=True,
    compute=_compute,
    description="Anderson-Darling k-sample test (costly: computed only when named)",
)
