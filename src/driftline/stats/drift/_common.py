"""Helpers shared by the drift methods."""

from __future__ import annotations

import numpy as np

from driftline.stats.drift._result import DriftResult

#: Floor on bin proportions for PSI and KL, so an empty bin gives a large but
#: finite value instead of infinity.
EPSILON = 1e-4


def proportions(counts: np.ndarray) -> np.ndarray:
    c = np.asarray(counts, dtype=np.float64)
    total = c.sum()
    return c / total if total > 0 else np.zeros_like(c)


def floored(p: np.ndarray) -> np.ndarray:
    q = np.maximum(p, EPSILON)
    out: np.ndarray = q / q.sum()
    return out


def distance_result(
    method: str,
    value: float,
    threshold: float,
    ref: np.ndarray,
    cur: np.ndarray,
    computed: str,
    **details: object,
) -> DriftResult:
    return DriftResult(
        method=method,
        statistic=float(value),
        p_value=None,
        threshold=threshold,
        drifted=bool(value >= threshold),
        n_reference=int(np.sum(ref)),
        n_current=int(np.sum(cur)),
        computed=computed,
        details=dict(details),
    )
