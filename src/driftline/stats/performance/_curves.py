"""ROC AUC and average precision from tied score groups.

Both the exact path (one group per distinct score) and the binned path (one
group per histogram bin) reduce to the same input: positive and negative counts
per group, ordered by descending score. Scores in one group count as tied, which
is exactly what scikit-learn does for equal scores (a tied positive/negative
pair adds 1/2 to the AUC; tied samples share one precision/recall point).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]


def groups_exact(scores: Floats, positive: npt.NDArray[np.bool_]) -> tuple[Floats, Floats]:
    """Positive and negative counts per distinct score, highest score first."""
    order = np.argsort(-scores, kind="mergesort")
    s = scores[order]
    pos = positive[order].astype(np.float64)
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]]) if s.size else np.array([], dtype=int)
    if not starts.size:
        return np.zeros(0), np.zeros(0)
    n_pos = np.add.reduceat(pos, starts)
    sizes = np.diff(np.r_[starts, s.size]).astype(np.float64)
    return n_pos, sizes - n_pos


def groups_binned(hist_pos: npt.NDArray[Any], hist_neg: npt.NDArray[Any]) -> tuple[Floats, Floats]:
    """Positive and negative counts per non-empty bin, highest bin first."""
    p = hist_pos[::-1].astype(np.float64)
    n = hist_neg[::-1].astype(np.float64)
    keep = (p + n) > 0
    return p[keep], n[keep]


def roc_auc(pos: Floats, neg: Floats) -> float | None:
    """Probability that a positive outranks a negative, ties counting 1/2."""
    P, N = pos.sum(), neg.sum()
    if P == 0 or N == 0:
        return None
    neg_below = N - np.cumsum(neg)
    return float(np.sum(pos * (neg_below + 0.5 * neg)) / (P * N))


def roc_auc_bound(pos: Floats, neg: Floats) -> float | None:
    """Largest possible |exact AUC - AUC of these groups| if groups hide an unknown order.

    Only pairs in the same group can be ordered either way, each moving the AUC
    by at most 1/2 / (P N).
    """
    P, N = pos.sum(), neg.sum()
    if P == 0 or N == 0:
        return None
    return float(0.5 * np.sum(pos * neg) / (P * N))


def average_precision(pos: Floats, neg: Floats) -> float | None:
    """sum over thresholds of (R_k - R_{k-1}) * P_k, as scikit-learn computes it."""
    P = pos.sum()
    if P == 0:
        return None
    tps, fps = np.cumsum(pos), np.cumsum(neg)
    precision = tps / (tps + fps)
    return float(np.sum(pos / P * precision))


def average_precision_bound(pos: Floats, neg: Floats) -> float | None:
    """Largest possible |exact AP - AP of these groups| if groups hide an unknown order.

    With T, F the true/false positives above a group of p positives and n
    negatives, each positive of the group has, whatever the order inside the
    group, a precision between L = (T+1)/(T+F+n+1) and U = (T+p)/(T+F+p); the
    grouped computation gives all of them t = (T+p)/(T+F+p+n), with L <= t <= U.
    """
    P = pos.sum()
    if P == 0:
        return None
    T = np.cumsum(pos) - pos
    F = np.cumsum(neg) - neg
    has = pos > 0
    T, F, p, n = T[has], F[has], pos[has], neg[has]
    upper = (T + p) / (T + F + p)
    tied = (T + p) / (T + F + p + n)
    lower = (T + 1) / (T + F + n + 1)
    return float(np.sum(p * np.maximum(upper - tied, tied - lower)) / P)
