"""Centroid cosine distance: how far the mean vector turned (embedding columns).

``1 - cos(mean_reference, mean_current)``, exact from the vector sums of all
vectors (0: the same direction, 1: orthogonal, 2: opposite). A distance: the
column drifts when it reaches the threshold (0.05 by default, about 18 degrees;
docs/drift.md gives what it measured between halves of real sentence
embeddings and across a topic shift).
"""

from __future__ import annotations

import numpy as np

from driftline.stats.drift._result import DriftResult
from driftline.stats.drift._vectors import undecided
from driftline.stats.drift.registry import EMBEDDING, DriftInputs, DriftMethod

NAME = "centroid_cosine"


def centroid_cosine(ref_sum: np.ndarray, cur_sum: np.ndarray) -> float:
    """Cosine distance between two vectors (the sums point where the means do)."""
    denom = float(np.linalg.norm(ref_sum) * np.linalg.norm(cur_sum))
    return float(1.0 - float(ref_sum @ cur_sum) / denom)


def _compute(inputs: DriftInputs, threshold: float) -> DriftResult:
    r, c = inputs.reference_vectors, inputs.current_vectors
    if r.dim and c.dim and r.dim != c.dim:
        return undecided(NAME, r.n, c.n, f"not comparable: dimension {r.dim} vs {c.dim}")
    if r.nonzero == 0 or c.nonzero == 0 or not (np.any(r.total) and np.any(c.total)):
        return undecided(
            NAME, r.n, c.n, "a side has no vector or a zero mean vector: its direction is undefined"
        )
    value = centroid_cosine(r.total, c.total)
    return DriftResult(
        method=NAME,
        statistic=value,
        p_value=None,
        threshold=threshold,
        drifted=bool(value >= threshold),
        n_reference=r.n,
        n_current=c.n,
        computed="exact",
        details={
            "cosine_similarity": 1.0 - value,
            "reference_centroid_norm": float(np.linalg.norm(r.centroid)),
            "current_centroid_norm": float(np.linalg.norm(c.centroid)),
        },
    )


METHOD = DriftMethod(
    name=NAME,
    kinds=EMBEDDING,
    is_test=False,
    compute=_compute,
    default_threshold=0.05,
    description="cosine distance between the mean vectors (exact on all vectors)",
    by_default=True,
)
