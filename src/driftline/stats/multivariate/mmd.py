"""Maximum mean discrepancy (RBF kernel, median heuristic) with a permutation p-value.

The statistic is the unbiased estimate of MMD² between at most ``max_rows``
rows a side; the kernel width is the median distance between pooled rows (of a random
500 of them). The
p-value is the share of ``permutations`` random relabellings of the pooled rows
whose MMD² reaches the observed one (``(1 + hits) / (1 + permutations)``).
"""

from __future__ import annotations

import numpy as np

from driftline.stats.drift._result import DriftResult

METHOD = "mmd"


def rbf_kernel(
    z: np.ndarray, rng: np.random.Generator, width_rows: int = 500
) -> tuple[np.ndarray, float]:
    """The RBF kernel matrix of the rows of ``z`` and its median-heuristic width.

    The width is the median distance between distinct rows of a random subset
    of ``width_rows`` pooled rows (the full median costs more than the test).
    """
    sq = (z * z).sum(axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * (z @ z.T), 0.0)
    pick = rng.permutation(z.shape[0])[:width_rows]
    sub = d2[np.ix_(pick, pick)][np.triu(np.ones((pick.size, pick.size), dtype=bool), k=1)]
    sub = sub[sub > 0]
    med = float(np.median(sub)) if sub.size else 1.0
    return np.exp(-d2 / (2.0 * med)), float(np.sqrt(med))


def mmd2_unbiased(kernel: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Unbiased MMD² for each column of ``labels`` (N x P booleans: True = reference)."""
    a = labels.astype(np.float64)
    kz = kernel - np.diag(np.diag(kernel))
    n = a.sum(axis=0)
    m = a.shape[0] - n
    ka = kz @ a  # one product: K b = K 1 - K a
    aka = (a * ka).sum(axis=0)
    akb = ka.sum(axis=0) - aka
    bkb = kz.sum() - aka - 2.0 * akb
    out: np.ndarray = aka / (n * (n - 1)) + bkb / (m * (m - 1)) - 2.0 * akb / (n * m)
    return out


def mmd(
    ref: np.ndarray,
    cur: np.ndarray,
    *,
    alpha: float = 0.05,
    max_rows: int = 1000,
    permutations: int = 200,
    seed: int = 0,
) -> DriftResult:
    rng = np.random.default_rng(seed)
    if ref.shape[0] > max_rows:
        ref = ref[rng.choice(ref.shape[0], max_rows, replace=False)]
    if cur.shape[0] > max_rows:
        cur = cur[rng.choice(cur.shape[0], max_rows, replace=False)]
    n, m = ref.shape[0], cur.shape[0]
    kernel, width = rbf_kernel(np.vstack([ref, cur]), rng)
    observed = np.zeros((n + m, 1), dtype=bool)
    observed[:n] = True
    value = float(mmd2_unbiased(kernel, observed)[0])
    ranks = np.argsort(rng.random((n + m, permutations)), axis=0)
    perms = ranks < n  # each column: a random n-subset labelled "reference"
    null = mmd2_unbiased(kernel, perms)
    p = float((1 + np.count_nonzero(null >= value)) / (1 + permutations))
    return DriftResult(
        method=METHOD,
        statistic=value,
        p_value=p,
        threshold=alpha,
        drifted=p < alpha,
        n_reference=n,
        n_current=m,
        computed="reservoir",
        details={"kernel_width": width, "permutations": permutations, "alpha": alpha},
    )
