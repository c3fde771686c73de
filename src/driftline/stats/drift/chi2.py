"""Chi-squared test of homogeneity on category (or bin) counts."""

from __future__ import annotations

import numpy as np
from scipy.stats import chi2_contingency

from driftline.stats.drift._result import DriftResult
from driftline.stats.drift.registry import BOTH, DriftInputs, DriftMethod


def chi_squared(
    ref_counts: np.ndarray,
    cur_counts: np.ndarray,
    *,
    alpha: float = 0.05,
    computed: str = "exact",
) -> DriftResult:
    """``scipy.stats.chi2_contingency`` (its defaults) on the 2 x k table minus empty categories.

    As scipy does by default, a 2 x 2 table (a boolean column, or two
    categories) gets Yates' continuity correction; ``details["yates"]`` says
    whether it was applied.
    """
    ref = np.asarray(ref_counts, dtype=np.float64)
    cur = np.asarray(cur_counts, dtype=np.float64)
    keep = (ref + cur) > 0
    table = np.vstack([ref[keep], cur[keep]])
    n_ref, n_cur = int(ref.sum()), int(cur.sum())
    if table.shape[1] < 2 or n_ref == 0 or n_cur == 0:
        stat, p, dof = 0.0, 1.0, 0
    else:
        res = chi2_contingency(table, correction=True)
        stat, p, dof = float(res.statistic), float(res.pvalue), int(res.dof)
    return DriftResult(
        method="chi_squared",
        statistic=stat,
        p_value=p,
        threshold=alpha,
        drifted=bool(p < alpha),
        n_reference=n_ref,
        n_current=n_cur,
        computed=computed,
        details={"dof": dof, "yates": dof == 1},
    )


def _compute(inputs: DriftInputs, threshold: float) -> DriftResult:
    return chi_squared(
        inputs.reference_counts,
        inputs.current_counts,
        alpha=threshold,
        computed=inputs.bins_computed,
    )


METHOD = DriftMethod(
    name="chi_squared",
    kinds=BOTH,
    is_test=True,
    compute=_compute,
    description="chi-squared test of homogeneity on the shared bins (Yates on 2 x 2)",
    by_default=True,
)
