"""Out-of-domain share: current vectors with no close reference vector (embedding columns).

For each sampled current vector, its top-1 cosine similarity to the reference
sample; the share below a similarity cut is the out-of-domain share. The cut is
the 5th percentile of the reference's own top-1 similarities (each reference
vector against the other reference vectors, leave-one-out), so about 5 % of the
reference itself falls below it and the cut means "less similar to the
reference than all but 5 % of the reference is to itself", in any embedding
space. A one-sided Fisher exact test asks whether the current share is higher
than the reference's; the result drifts when its p-value is below alpha.
"""

from __future__ import annotations

import numpy as np

from driftline.stats.drift._result import DriftResult
from driftline.stats.drift._vectors import excluded, sample_computed, samples_or_reason, unit_rows
from driftline.stats.drift.registry import EMBEDDING, DriftInputs, DriftMethod

NAME = "out_of_domain"
#: The reference quantile of leave-one-out top-1 similarity that sets the cut.
REFERENCE_QUANTILE = 0.05


def top1_similarity(
    queries: np.ndarray, index: np.ndarray, *, leave_one_out: bool = False
) -> np.ndarray:
    """Each query row's highest cosine similarity to the rows of ``index`` (unit rows)."""
    out = np.empty(queries.shape[0])
    for start in range(0, queries.shape[0], 1024):
        sims = queries[start : start + 1024] @ index.T
        if leave_one_out:
            rows = np.arange(sims.shape[0])
            sims[rows, rows + start] = -np.inf
        out[start : start + 1024] = sims.max(axis=1)
    return out


def out_of_domain(
    ref: np.ndarray, cur: np.ndarray, *, alpha: float = 0.05, cut: float | None = None
) -> DriftResult:
    """The method on two samples of non-zero vectors (``cut``: a fixed similarity cut)."""
    from scipy.stats import fisher_exact

    r, c = unit_rows(ref), unit_rows(cur)
    ref_sim = top1_similarity(r, r, leave_one_out=True)
    cur_sim = top1_similarity(c, r)
    q = float(np.quantile(ref_sim, REFERENCE_QUANTILE)) if cut is None else float(cut)
    ref_below = int(np.count_nonzero(ref_sim < q))
    cur_below = int(np.count_nonzero(cur_sim < q))
    share = cur_below / cur_sim.size
    table = [[cur_below, cur_sim.size - cur_below], [ref_below, ref_sim.size - ref_below]]
    p = float(fisher_exact(table, alternative="greater").pvalue)
    return DriftResult(
        method=NAME,
        statistic=share,
        p_value=p,
        threshold=alpha,
        drifted=bool(p < alpha),
        n_reference=int(ref_sim.size),
        n_current=int(cur_sim.size),
        computed="reservoir",
        details={
            "similarity_cut": q,
            "cut_from": "fixed"
            if cut is not None
            else f"reference leave-one-out q{REFERENCE_QUANTILE:g}",
            "reference_share": ref_below / ref_sim.size,
            "current_share": share,
            "current_median_top1": float(np.median(cur_sim)),
            "reference_median_top1": float(np.median(ref_sim)),
            "test": "one-sided Fisher exact test (current share > reference share)",
        },
    )


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
    "sample is below the reference's own 5th percentile (Fisher exact test)",
    by_default=True,
)
