"""Random-projection drift: each fixed random direction's distribution, on all vectors.

Every vector sketch counts its unit vectors' projections on 16 fixed random
directions in 64 equal bins of [-1, 1] (exact and mergeable). Per direction the
Kolmogorov-Smirnov statistic on those bins (the CDF gap at bin edges, at most
the raw-value statistic) gets the asymptotic p-value at the full counts; the
smallest p-value, times 16 (Bonferroni), is the result's p-value. Cheap, exact
on all vectors, and blind to changes no direction shows (MMD and the classifier
see those on the sample).
"""

from __future__ import annotations

import numpy as np

from driftline.stats.drift._result import DriftResult
from driftline.stats.drift._vectors import undecided
from driftline.stats.drift.ks import ks_p_value
from driftline.stats.drift.registry import EMBEDDING, DriftInputs, DriftMethod

NAME = "projection_ks"


def projection_ks(
    ref_counts: np.ndarray, cur_counts: np.ndarray, *, alpha: float = 0.05
) -> DriftResult:
    """The method on two ``directions x bins`` count arrays."""
    used = (ref_counts.sum(axis=1) > 0) & (cur_counts.sum(axis=1) > 0)
    ref_counts, cur_counts = ref_counts[used], cur_counts[used]
    n_r, n_c = int(ref_counts[0].sum()), int(cur_counts[0].sum())
    r = np.cumsum(ref_counts, axis=1) / n_r
    c = np.cumsum(cur_counts, axis=1) / n_c
    d = np.abs(r - c).max(axis=1)
    p_each = np.array([ks_p_value(float(x), n_r, n_c) for x in d])
    worst = int(np.argmin(p_each))
    p = float(min(1.0, p_each[worst] * d.size))
    return DriftResult(
        method=NAME,
        statistic=float(d.max()),
        p_value=p,
        threshold=alpha,
        drifted=bool(p < alpha),
        n_reference=n_r,
        n_current=n_c,
        computed="bins",
        details={
            "directions": int(d.size),
            "worst_direction": worst,
            "statistic_per_direction": [float(x) for x in d],
            "correction": "Bonferroni over directions",
        },
    )


def _compute(inputs: DriftInputs, threshold: float) -> DriftResult:
    rv, cv = inputs.reference_vectors, inputs.current_vectors
    if rv.dim != cv.dim:
        return undecided(NAME, rv.n, cv.n, f"not comparable: dimension {rv.dim} vs {cv.dim}")
    if rv.nonzero == 0 or cv.nonzero == 0:
        return undecided(NAME, rv.nonzero, cv.nonzero, "a side has no non-zero vector")
    return projection_ks(rv.projections, cv.projections, alpha=threshold)


METHOD = DriftMethod(
    name=NAME,
    kinds=EMBEDDING,
    is_test=True,
    compute=_compute,
    description="Kolmogorov-Smirnov on 16 fixed random projections of all unit vectors "
    "(exact bins, Bonferroni)",
    by_default=True,
)
