"""Correlation drift: the change of pairwise Pearson correlations and of Cramér's V.

Numeric pairs: Pearson's r on the rows where both values are present, on each
side; a pair changes when Fisher's z test of ``r_ref = r_cur`` survives
Bonferroni over the numeric pairs at ``alpha`` and ``|Δr| >= threshold``.
Categorical pairs: the bias-corrected Cramér's V (Bergsma 2013) of the level
codes (top levels, "other", missing); a pair changes when ``|ΔV| >= threshold``
(no test: an effect-size rule). The statistic is the largest change; the pairs
that changed most are listed.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.stats import norm

from driftline.stats.drift._result import DriftResult

METHOD = "correlation"
#: Fewer rows than this where both values are present: the pair is not tested.
MIN_PAIR_ROWS = 30


def pearson_pairs(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pearson's r and the rows used for each pair of columns (pairwise complete)."""
    p = x.shape[1]
    r = np.full((p, p), np.nan)
    n = np.zeros((p, p), dtype=np.int64)
    ok = ~np.isnan(x)
    if bool(ok.all()):
        with np.errstate(all="ignore"):
            r = np.corrcoef(x, rowvar=False).reshape(p, p)
        n[:] = x.shape[0]
        return r, n
    for i, j in itertools.combinations(range(p), 2):
        both = ok[:, i] & ok[:, j]
        n[i, j] = n[j, i] = int(both.sum())
        a, b = x[both, i], x[both, j]
        if a.size > 2 and a.std() > 0 and b.std() > 0:
            r[i, j] = r[j, i] = float(np.corrcoef(a, b)[0, 1])
    return r, n


def cramers_v(a: np.ndarray, b: np.ndarray) -> float:
    """Bias-corrected Cramér's V of two code columns (Bergsma 2013); NaN when undefined."""
    n = a.size
    if n < 2:
        return math.nan
    _, ia = np.unique(a, return_inverse=True)
    _, ib = np.unique(b, return_inverse=True)
    table = np.zeros((ia.max() + 1, ib.max() + 1))
    np.add.at(table, (ia, ib), 1)
    r, k = table.shape
    if r < 2 or k < 2:
        return math.nan
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / n
    chi2 = float(((table - expected) ** 2 / expected).sum())
    phi2 = max(0.0, chi2 / n - (k - 1) * (r - 1) / (n - 1))
    rc = r - (r - 1) ** 2 / (n - 1)
    kc = k - (k - 1) ** 2 / (n - 1)
    denom = min(rc - 1, kc - 1)
    return math.sqrt(phi2 / denom) if denom > 0 else math.nan


def correlation_drift(
    ref_num: np.ndarray,
    cur_num: np.ndarray,
    numeric: Sequence[str],
    ref_codes: np.ndarray,
    cur_codes: np.ndarray,
    categorical: Sequence[str],
    *,
    alpha: float = 0.05,
    threshold: float = 0.2,
    top: int = 5,
) -> DriftResult:
    pairs: list[dict[str, Any]] = []
    r0, n0 = pearson_pairs(ref_num)
    r1, n1 = pearson_pairs(cur_num)
    num_pairs = list(itertools.combinations(range(len(numeric)), 2))
    skipped = 0
    for i, j in num_pairs:
        a, b, na, nb = r0[i, j], r1[i, j], int(n0[i, j]), int(n1[i, j])
        if not (math.isfinite(a) and math.isfinite(b)) or min(na, nb) < MIN_PAIR_ROWS:
            skipped += 1
            continue
        za, zb = np.arctanh(np.clip([a, b], -0.999999, 0.999999))
        z = (zb - za) / math.sqrt(1 / (na - 3) + 1 / (nb - 3))
        p = float(min(1.0, 2 * norm.sf(abs(z)) * max(len(num_pairs), 1)))
        pairs.append(_pair("pearson", numeric[i], numeric[j], a, b, p, threshold, alpha))
    for i, j in itertools.combinations(range(len(categorical)), 2):
        a = cramers_v(ref_codes[:, i], ref_codes[:, j])
        b = cramers_v(cur_codes[:, i], cur_codes[:, j])
        if not (math.isfinite(a) and math.isfinite(b)):
            skipped += 1
            continue
        pairs.append(_pair("cramers_v", categorical[i], categorical[j], a, b, None, threshold, 1))
    pairs.sort(key=lambda d: -abs(d["change"]))
    changed = [d for d in pairs if d["changed"]]
    value = abs(pairs[0]["change"]) if pairs else math.nan
    return DriftResult(
        method=METHOD,
        statistic=value,
        p_value=None,
        threshold=threshold,
        drifted=bool(changed) if pairs else None,
        n_reference=int(ref_num.shape[0]),
        n_current=int(cur_num.shape[0]),
        computed="reservoir" if pairs else "insufficient",
        details={
            "n_pairs": len(pairs),
            "n_changed": len(changed),
            "pairs_skipped": skipped,
            "alpha": alpha,
            "top_pairs": pairs[:top],
        },
    )


def _pair(
    kind: str,
    a: str,
    b: str,
    ref: float,
    cur: float,
    p_adjusted: float | None,
    threshold: float,
    alpha: float,
) -> dict[str, Any]:
    change = float(cur - ref)
    significant = p_adjusted is None or p_adjusted < alpha
    return {
        "columns": [a, b],
        "measure": kind,
        "reference": float(ref),
        "current": float(cur),
        "change": change,
        "p_value_adjusted": p_adjusted,
        "changed": bool(significant and abs(change) >= threshold),
    }
