"""Maximum mean discrepancy on vectors (embedding columns).

:func:`driftline.stats.multivariate.mmd.mmd` (RBF kernel, median-heuristic
width, unbiased MMD², permutation p-value) on the sampled vectors: at most
1,000 a side, 200 permutations. A test: drifted when the p-value is below alpha.
"""

from __future__ import annotations

from dataclasses import replace

from driftline.stats.drift._result import DriftResult
from driftline.stats.drift._vectors import excluded, sample_computed, samples_or_reason
from driftline.stats.drift.registry import EMBEDDING, DriftInputs, DriftMethod

NAME = "mmd"
MAX_ROWS = 1000
PERMUTATIONS = 200


def _compute(inputs: DriftInputs, threshold: float) -> DriftResult:
    from driftline.stats.multivariate.mmd import mmd

    rv, cv = inputs.reference_vectors, inputs.current_vectors
    r, c, why = samples_or_reason(rv, cv, NAME)
    if why is not None:
        return why
    res = mmd(r, c, alpha=threshold, max_rows=MAX_ROWS, permutations=PERMUTATIONS, seed=0)
    computed = sample_computed(rv, cv, r.shape[0], c.shape[0])
    if r.shape[0] > MAX_ROWS or c.shape[0] > MAX_ROWS:
        computed = "reservoir"
    return replace(res, method=NAME, computed=computed, details={**res.details, **excluded(rv, cv)})


METHOD = DriftMethod(
    name=NAME,
    kinds=EMBEDDING,
    is_test=True,
    compute=_compute,
    description="maximum mean discrepancy (RBF kernel) with a permutation p-value",
    by_default=True,
)
