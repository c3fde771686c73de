"""Out-of-domain share: current vectors with no close reference vector (embedding columns).

For each sampled current vector, its top-1 cosine similarity to the reference
sample; the share below a similarity cut is the out-of-domain share. The cut is
the 5th percentile of the reference's own top-1 similarities (each reference
vector against the other reference vectors, leave-one-out), so about 5 % of the
reference itself falls below it and the cut means "less similar to the
reference than all but 5 % of the reference is to itself", in any embedding
space. The p-value is a permutation test of the current share minus the
reference share (100 random relabellings of the pooled sample, cut recomputed
each time): the top-1 similarities of one side share the same reference
sample, so a binomial or Fisher test, which takes them as independent, alarms
too often (7 % instead of 5 % on real sentence embeddings). The result drifts
when the p-value is below alpha.
"""

from __future__ import annotations

import numpy as np

from driftline.stats.drift._result import DriftResult
from driftline.stats.drift._vectors import excluded, sample_computed, samples_or_reason, unit_rows
from driftline.stats.drift.registry import EMBEDDING, DriftInputs, DriftMethod

NAME = "out_of_domain"
#: The reference quantile of leave-one-out top-1 similarity that sets the cut.
REFERENCE_QUANTILE = 0.05
PERMUTATIONS = 100


def out_of_domain(
    ref: np.ndarray,
    cur: np.ndarray,
    *,
    alpha: float = 0.05,
    permutations: int = PERMUTATIONS,
    seed: int = 0,
) -> DriftResult:
    """The method on two samples of non-zero vectors."""
    r, c = unit_rows(ref), unit_rows(cur)
    n = r.shape[0]
    pooled = np.vstack([r, c])
    top1 = _TopAmong(pooled)

    def excess(is_ref: np.ndarray) -> tuple[float, float, float, float]:
        top = top1(is_ref)  # each vector's top-1 among the "reference" ones
        cut = float(np.quantile(top[is_ref], REFERENCE_QUANTILE))
        ref_share = float(np.mean(top[is_ref] < cut))
        cur_share = float(np.mean(top[~is_ref] < cut))
        return cur_share - ref_share, cut, ref_share, cur_share

    labels = np.zeros(pooled.shape[0], dtype=bool)
    labels[:n] = True
    observed, cut, ref_share, cur_share = excess(labels)
    rng = np.random.default_rng(seed)
    hits = sum(excess(rng.permutation(labels))[0] >= observed for _ in range(permutations))
    p = (1 + hits) / (1 + permutations)
    top = top1(labels)
    return DriftResult(
        method=NAME,
        statistic=cur_share,
        p_value=float(p),
        threshold=alpha,
        drifted=bool(p < alpha),
        n_reference=n,
        n_current=int(c.shape[0]),
        computed="reservoir",
        details={
            "similarity_cut": cut,
            "cut_from": f"reference leave-one-out q{REFERENCE_QUANTILE:g}",
            "reference_share": ref_share,
            "current_share": cur_share,
            "current_median_top1": float(np.median(top[n:])),
            "reference_median_top1": float(np.median(top[:n])),
            "test": f"permutation test of the share difference ({permutations} permutations)",
        },
    )


class _TopAmong:
    """Each row's largest cosine similarity to the rows of a labelled subset (itself left out).

    The rows' ``NEIGHBOURS`` nearest others are sorted once; a labelling's top-1 is then
    the first labelled one among them, and only the rows with no labelled row that near
    (rare unless the subset is a small share) fall back to a full scan. Exact, and a
    permutation costs ``rows x NEIGHBOURS`` lookups instead of ``rows x subset`` products.
    """

    NEIGHBOURS = 64

    def __init__(self, unit: np.ndarray) -> None:
        sims = unit @ unit.T
        np.fill_diagonal(sims, -np.inf)
        self.sims = sims
        rows = sims.shape[0]
        m = max(min(rows - 1, self.NEIGHBOURS), 0)
        self.rows = np.arange(rows)[:, None]
        if m == 0:
            self.order = np.zeros((rows, 0), dtype=np.intp)
            self.near = np.zeros((rows, 0))
            return
        near = np.argpartition(-sims, m - 1, axis=1)[:, :m]
        by_sim = np.argsort(-sims[self.rows, near], axis=1, kind="stable")
        self.order = near[self.rows, by_sim]
        self.near = sims[self.rows, self.order]

    def __call__(self, is_ref: np.ndarray) -> np.ndarray:
        rows = self.rows[:, 0]
        if self.order.shape[1] == 0:
            return np.full(rows.size, -np.inf)
        hit = is_ref[self.order]
        first = hit.argmax(axis=1)
        top = self.near[rows, first]
        missing = ~hit[rows, first]
        if missing.any():
            far = self.sims[missing][:, is_ref]
            top[missing] = far.max(axis=1) if far.shape[1] else -np.inf
        out: np.ndarray = top
        return out


def _compute(inputs: DriftInputs, threshold: float) -> DriftResult:
    rv, cv = inputs.reference_vectors, inputs.current_vectors
    r, c, why = samples_or_reason(rv, cv, NAME)
    if why is not None:
        return why
    res = out_of_domain(r, c, alpha=threshold)
    res.details.update(excluded(rv, cv))
    computed = sample_computed(rv, cv, r.shape[0], c.shape[0])
    return res if computed == "reservoir" else _with(res, computed)


def _with(res: DriftResult, computed: str) -> DriftResult:
    from dataclasses import replace

    return replace(res, computed=computed)


METHOD = DriftMethod(
    name=NAME,
    kinds=EMBEDDING,
    is_test=True,
    compute=_compute,
    description="share of current vectors whose top-1 cosine similarity to the reference "
    "sample is below the reference's own 5th percentile (permutation test)",
    by_default=True,
)
