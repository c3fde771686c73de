"""Correlation drift: the change of pairwise Pearson correlations and of Cramér's V.

Numeric pairs: Pearson's r on the rows where both values are present, on each
side; a pair changes when Fisher's z test of ``r_ref = r_cur`` survives
Bonferroni over the numeric pairs at ``alpha`` and ``|Δr| >= threshold``.
A pair with a (near-)constant column on either side is left out and counted
(``details.pairs_excluded``, ``details.excluded_columns`` say which and why):
a pixel that is 0 in all but 3 of 900 images has a correlation set by those 3
rows, far from what Fisher's test assumes, and same-distribution halves of
sklearn's digits "changed" by 0.9. Near-constant is caret's ``nearZeroVar``
rule (Kuhn 2008): the most common value more than 19 times as frequent as the
second (95/5) and fewer than 10 % of the values distinct.
Categorical pairs: the bias-corrected Cramér's V (Bergsma 2013) of the level
codes (top levels, "other", missing); a pair changes when ``|ΔV| >= threshold``
(no test: an effect-size rule). The same rule leaves out a categorical column
whose most common level is near-constant: a pixel of digits read as a category,
'0' in all but a dozen of 900 images, has a V set by those rows, and 8 of 10
same-distribution halves "changed" by 0.23-0.24 through such pairs. The
statistic is the largest change; the pairs that changed most are listed.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy.stats import norm

from driftline.stats.drift._result import DriftResult
from driftline.stats.multivariate._sample import _MISSING, _OTHER

METHOD = "correlation"
#: Fewer rows than this where both values are present: the pair is not tested.
MIN_PAIR_ROWS = 30
#: caret's nearZeroVar defaults: most common / second most common value above this ...
NZV_FREQ_RATIO = 95 / 5
#: ... and fewer distinct values than this share of the values.
NZV_UNIQUE_SHARE = 0.10


def near_constant(
    x: np.ndarray, names: Sequence[str], levels: Mapping[str, Sequence[str]] | None = None
) -> dict[str, str]:
    """The columns of ``x`` that are constant or nearly so, each with why (NaN left out).

    With ``levels`` (``{name: [level of code 0, level of code 1, ...]}``) ``x`` holds level
    codes and the why names the level."""
    out: dict[str, str] = {}
    for k, name in enumerate(names):
        v = np.asarray(x[:, k], dtype=np.float64)
        v = v[np.isfinite(v)]
        names_of = (levels or {}).get(name)
        if v.size == 0:
            continue  # no value: its pairs have too few rows and are skipped as such
        values, counts = np.unique(v, return_counts=True)
        if values.size == 1:
            out[name] = f"constant ({_shown(float(values[0]), names_of)} in all {v.size:,} rows)"
            continue
        order = np.argsort(counts)[::-1]
        top, second = int(counts[order[0]]), int(counts[order[1]])
        if top / second > NZV_FREQ_RATIO and values.size / v.size < NZV_UNIQUE_SHARE:
            most = _shown(float(values[order[0]]), names_of)
            out[name] = (
                f"near-constant ({most} in {top:,} of {v.size:,} rows, "
                f"{top / second:.0f}x the next value)"
            )
    return out


def _shown(value: float, levels: Sequence[str] | None) -> str:
    """A value for the why: the number, or the level of a code."""
    if levels is None:
        return fmt(value)
    code = int(value)
    level = levels[code] if 0 <= code < len(levels) else str(code)
    named = {_OTHER: "other levels", _MISSING: "missing"}.get(level)
    return named if named is not None else repr(level)


def _at_least_one(factor: float) -> float:
    return max(1.0, float(factor)) if math.isfinite(factor) else 1.0


def fmt(x: float) -> str:
    return f"{x:.4g}"


def pearson_pairs(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pearson's r and the rows used for each pair of columns (pairwise complete)."""
    r, n, _ = pearson_moments(x)
    return r, n


def pearson_moments(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pearson's r, the rows used and the non-normality factor of each pair of columns.

    The factor is ``n Var(z)`` of Fisher's ``z = atanh(r)`` from the pair's own fourth
    moments (the asymptotically distribution-free variance of r, e.g. Steiger & Hakstian
    1982): ``(1 + r²/2) m22 - r (m31 + m13) + r²/4 (m40 + m04)`` over ``(1 - r²)²``, with
    ``m_ab`` the mean of ``x^a y^b`` of the standardised columns. It is 1 for normal data;
    heavy tails make r swing more between samples (breast_cancer's "error" columns: 3 to
    10) and Fisher's ``1 / (n - 3)`` alone flagged half of the same-distribution splits.
    """
    p = x.shape[1]
    r = np.full((p, p), np.nan)
    c = np.full((p, p), np.nan)
    n = np.zeros((p, p), dtype=np.int64)
    ok = ~np.isnan(x)
    if bool(ok.all()) and x.shape[0] > 2:
        with np.errstate(all="ignore"):
            sd = x.std(axis=0)
            z = (x - x.mean(axis=0)) / np.where(sd > 0, sd, np.nan)
            m = x.shape[0]
            r = (z.T @ z) / m
            z2 = z * z
            m22 = (z2.T @ z2) / m
            m31 = ((z2 * z).T @ z) / m
            m40 = (z2 * z2).mean(axis=0)
            c = _factor(r, m22, m31 + m31.T, m40[:, None] + m40[None, :])
        n[:] = m
        return r, n, c
    for i, j in itertools.combinations(range(p), 2):
        both = ok[:, i] & ok[:, j]
        n[i, j] = n[j, i] = int(both.sum())
        a, b = x[both, i], x[both, j]
        if a.size > 2 and a.std() > 0 and b.std() > 0:
            za, zb = (a - a.mean()) / a.std(), (b - b.mean()) / b.std()
            rij = float(np.mean(za * zb))
            r[i, j] = r[j, i] = rij
            c[i, j] = c[j, i] = float(
                _factor(
                    np.array(rij),
                    np.mean(za**2 * zb**2),
                    np.mean(za**3 * zb) + np.mean(za * zb**3),
                    np.mean(za**4) + np.mean(zb**4),
                )
            )
    return r, n, c


def _factor(r: Any, m22: Any, m31_13: Any, m40_04: Any) -> Any:
    """``n Var(atanh r)`` over the normal theory's 1 (see :func:`pearson_moments`)."""
    with np.errstate(all="ignore"):
        var_r = (1 + r * r / 2) * m22 - r * m31_13 + r * r / 4 * m40_04
        return var_r / (1 - np.minimum(r * r, 0.999999**2)) ** 2


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
    levels: Mapping[str, Sequence[str]] | None = None,
) -> DriftResult:
    """``levels``: each categorical column's levels by code, to name a near-constant one."""
    pairs: list[dict[str, Any]] = []
    r0, n0, c0 = pearson_moments(ref_num)
    r1, n1, c1 = pearson_moments(cur_num)
    num_pairs = list(itertools.combinations(range(len(numeric)), 2))
    flat = _flat_columns(ref_num, cur_num, numeric)
    tested = [(i, j) for i, j in num_pairs if numeric[i] not in flat and numeric[j] not in flat]
    excluded = len(num_pairs) - len(tested)
    cat_pairs = list(itertools.combinations(range(len(categorical)), 2))
    flat_cat = _flat_columns(ref_codes, cur_codes, categorical, levels or {})
    cat_tested = [
        (i, j)
        for i, j in cat_pairs
        if categorical[i] not in flat_cat and categorical[j] not in flat_cat
    ]
    excluded += len(cat_pairs) - len(cat_tested)
    flat.update(flat_cat)
    skipped = 0
    for i, j in tested:
        a, b, na, nb = r0[i, j], r1[i, j], int(n0[i, j]), int(n1[i, j])
        if not (math.isfinite(a) and math.isfinite(b)) or min(na, nb) < MIN_PAIR_ROWS:
            skipped += 1
            continue
        za, zb = np.arctanh(np.clip([a, b], -0.999999, 0.999999))
        # never below normal theory: a light-tailed pair keeps Fisher's 1 / (n - 3)
        fa, fb = _at_least_one(c0[i, j]), _at_least_one(c1[i, j])
        z = (zb - za) / math.sqrt(fa / (na - 3) + fb / (nb - 3))
        p = float(min(1.0, 2 * norm.sf(abs(z)) * max(len(tested), 1)))
        pairs.append(_pair("pearson", numeric[i], numeric[j], a, b, p, threshold, alpha))
    for i, j in cat_tested:
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
            "pairs_excluded": excluded,
            **({"excluded_columns": flat, "excluded_reason": EXCLUDED_REASON} if flat else {}),
            "alpha": alpha,
            "top_pairs": pairs[:top],
            **({} if pairs else {"reason": _no_pairs(excluded, skipped)}),
        },
    )


EXCLUDED_REASON = (
    "pairs with a constant or near-constant column on either side are not tested: their "
    "correlation (or Cramér's V) rests on a few rows and swings between samples of the same data"
)


def _flat_columns(
    ref: np.ndarray,
    cur: np.ndarray,
    names: Sequence[str],
    levels: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, str]:
    """Columns (near-)constant in the reference or the current sample, with why."""
    out = {k: f"reference: {v}" for k, v in near_constant(ref, names, levels).items()}
    for k, v in near_constant(cur, names, levels).items():
        out[k] = f"{out[k]}; current: {v}" if k in out else f"current: {v}"
    return {k: out[k] for k in names if k in out}


def _no_pairs(excluded: int, skipped: int) -> str:
    return (
        f"no pair could be tested: {excluded} pair(s) with a (near-)constant column, "
        f"{skipped} with fewer than {MIN_PAIR_ROWS} rows or an undefined correlation"
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
