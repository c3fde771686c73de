"""Helpers shared by the drift methods on vectors (embedding columns)."""

from __future__ import annotations

import math

import numpy as np

from driftline.stats.accumulators.vectors import VectorSketch
from driftline.stats.drift._result import DriftResult

#: Fewer sampled (non-zero) vectors than this on a side and a sample method does not decide.
MIN_VECTORS = 20


def undecided(
    method: str, n_ref: int, n_cur: int, reason: str, threshold: float = math.nan
) -> DriftResult:
    return DriftResult(
        method=method,
        statistic=math.nan,
        p_value=None,
        threshold=threshold,
        drifted=None,
        n_reference=n_ref,
        n_current=n_cur,
        computed="insufficient",
        details={"reason": reason},
    )


def nonzero_sample(sketch: VectorSketch) -> np.ndarray:
    """The sampled vectors of non-zero norm, in key order, as float64."""
    s = sketch.ordered_sample().astype(np.float64)
    return s[np.einsum("ij,ij->i", s, s) > 0] if s.size else s.reshape(0, sketch.dim)


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Each row scaled to norm 1 (rows must be non-zero)."""
    out: np.ndarray = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def samples_or_reason(
    ref: VectorSketch, cur: VectorSketch, method: str
) -> tuple[np.ndarray, np.ndarray, DriftResult | None]:
    """Both sides' non-zero sampled vectors, or the undecided result saying why not."""
    if ref.dim and cur.dim and ref.dim != cur.dim:
        return (
            np.zeros((0, 0)),
            np.zeros((0, 0)),
            undecided(
                method,
                ref.n,
                cur.n,
                f"not comparable: reference vectors have dimension {ref.dim}, "
                f"current vectors {cur.dim}",
            ),
        )
    r, c = nonzero_sample(ref), nonzero_sample(cur)
    if r.shape[0] < MIN_VECTORS or c.shape[0] < MIN_VECTORS:
        return (
            r,
            c,
            undecided(
                method,
                int(r.shape[0]),
                int(c.shape[0]),
                f"too few non-zero vectors sampled: {r.shape[0]} reference, {c.shape[0]} "
                f"current; at least {MIN_VECTORS} a side are needed",
            ),
        )
    return r, c, None


def sample_computed(ref: VectorSketch, cur: VectorSketch, n_ref: int, n_cur: int) -> str:
    """ "exact" when both samples hold every non-zero vector, else "reservoir"."""
    return "exact" if n_ref >= ref.nonzero and n_cur >= cur.nonzero else "reservoir"


def excluded(ref: VectorSketch, cur: VectorSketch) -> dict[str, object]:
    """The zero vectors left out of direction-based methods, when there are any."""
    if not (ref.zero or cur.zero):
        return {}
    return {
        "zero_vectors": {"reference": ref.zero, "current": cur.zero},
        "zero_vectors_reason": "a zero vector has no direction: left out of cosine methods",
    }
