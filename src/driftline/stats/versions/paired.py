"""Paired tests: two model versions scored the same requests (a shadow deployment).

- :func:`agreement`: share of requests where both versions predicted the same
  thing, with a Wilson score interval.
- :func:`mcnemar`: McNemar's test on the discordant pairs (exact binomial below
  25 discordant pairs, else chi-squared with continuity correction), as
  ``statsmodels.stats.contingency_tables.mcnemar``.
- :func:`delong`: DeLong, DeLong & Clarke-Pearson (1988) test of the difference
  of two correlated ROC AUCs, computed with the midrank algorithm of Sun & Xu
  (2014), O(n log n).
- :func:`score_shift`: how the two versions' scores differ on the same requests
  (Kolmogorov-Smirnov on the distributions, Wilcoxon signed-rank on the pairs).

All functions take numpy-compatible arrays of equal length and raise
:class:`~driftline.errors.InputError` naming the argument when they cannot.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from driftline.errors import InputError


@dataclass(frozen=True)
class Agreement:
    """Share of requests where the versions agree, with its ``1 - alpha`` Wilson interval."""

    rate: float | None
    low: float | None
    high: float | None
    n: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class McNemar:
    """McNemar's test: ``a_only`` requests only A got right, ``b_only`` only B."""

    statistic: float
    p_value: float
    a_only: int
    b_only: int
    exact: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DeLong:
    """DeLong's test of ``auc_b - auc_a`` on the same labelled requests."""

    auc_a: float
    auc_b: float
    difference: float
    variance: float
    z: float | None
    p_value: float | None
    n_positive: int
    n_negative: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ScoreShift:
    """How B's scores differ from A's on the same requests."""

    mean_difference: float
    ks_statistic: float
    ks_p_value: float
    wilcoxon_p_value: float | None
    n: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _same_length(**arrays: ArrayLike) -> dict[str, NDArray[Any]]:
    out = {k: np.asarray(v) for k, v in arrays.items()}
    lengths = {k: len(v) for k, v in out.items()}
    if len(set(lengths.values())) > 1:
        raise InputError(f"paired inputs must have one value per request; lengths {lengths}")
    return out


def wilson(successes: int, n: int, alpha: float = 0.05) -> tuple[float | None, float | None]:
    """Wilson score interval of a proportion (``None`` bounds when ``n == 0``)."""
    if n <= 0:
        return None, None
    z = float(stats.norm.ppf(1 - alpha / 2))
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def agreement(pred_a: ArrayLike, pred_b: ArrayLike, alpha: float = 0.05) -> Agreement:
    """Share of requests where ``pred_a == pred_b``, with its Wilson interval."""
    a = _same_length(pred_a=pred_a, pred_b=pred_b)
    n = len(a["pred_a"])
    same = int(np.count_nonzero(a["pred_a"] == a["pred_b"]))
    low, high = wilson(same, n, alpha)
    return Agreement(same / n if n else None, low, high, n)


def mcnemar(
    y: ArrayLike, pred_a: ArrayLike, pred_b: ArrayLike, exact: bool | None = None
) -> McNemar:
    """McNemar's test of equal accuracy of A and B on the same requests.

    ``exact=None`` chooses the exact binomial test when fewer than 25 requests
    are discordant, else the chi-squared statistic with continuity correction
    (statsmodels' ``mcnemar(table, exact=..., correction=True)``).
    """
    a = _same_length(y=y, pred_a=pred_a, pred_b=pred_b)
    ok_a = a["pred_a"] == a["y"]
    ok_b = a["pred_b"] == a["y"]
    a_only = int(np.count_nonzero(ok_a & ~ok_b))
    b_only = int(np.count_nonzero(ok_b & ~ok_a))
    return mcnemar_counts(a_only, b_only, exact)


def mcnemar_counts(a_only: int, b_only: int, exact: bool | None = None) -> McNemar:
    """McNemar's test from the two discordant counts."""
    n = a_only + b_only
    if exact is None:
        exact = n < 25
    if n == 0:
        return McNemar(0.0 if exact else math.nan, 1.0, a_only, b_only, exact)
    if exact:
        k = min(a_only, b_only)
        p = min(1.0, 2 * float(stats.binom.cdf(k, n, 0.5)))
        return McNemar(float(k), p, a_only, b_only, True)
    chi2 = (abs(a_only - b_only) - 1) ** 2 / n
    return McNemar(float(chi2), float(stats.chi2.sf(chi2, 1)), a_only, b_only, False)


def _positives(y: NDArray[Any], positive: Any) -> NDArray[np.bool_]:
    if positive is None:
        values = np.unique(y)
        if len(values) != 2:
            raise InputError(
                f"ROC AUC needs two label classes, got {len(values)}: {values[:5].tolist()}; "
                "pass positive= to name the positive class"
            )
        positive = values[1]
    return np.asarray(y == positive)


def delong_components(
    y: ArrayLike, scores: ArrayLike, positive: Any = None
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """AUCs and DeLong's structural components of k score columns (Sun & Xu 2014).

    ``scores`` is (n,) or (k, n). Returns ``(aucs (k,), v_pos (k, m), v_neg (k, n))``:
    for each positive the share of negatives it outranks (ties count one half), and
    for each negative the share of positives that outrank it.
    """
    yv = np.asarray(y)
    s = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    if s.shape[1] != len(yv):
        raise InputError(f"scores have {s.shape[1]} values per version, labels {len(yv)}")
    if not np.isfinite(s).all():
        raise InputError("scores must be finite numbers (NaN or infinity found)")
    pos = _positives(yv, positive)
    m, n = int(pos.sum()), int((~pos).sum())
    if m == 0 or n == 0:
        raise InputError(f"ROC AUC needs both classes: {m} positive, {n} negative labels")
    x, z = s[:, pos], s[:, ~pos]
    tx = stats.rankdata(x, axis=1)
    tz = stats.rankdata(z, axis=1)
    tall = stats.rankdata(np.concatenate([x, z], axis=1), axis=1)
    aucs = (tall[:, :m].sum(axis=1) / m - (m + 1) / 2) / n
    v_pos = (tall[:, :m] - tx) / n
    v_neg = 1.0 - (tall[:, m:] - tz) / m
    return aucs, v_pos, v_neg


def delong(y: ArrayLike, scores_a: ArrayLike, scores_b: ArrayLike, positive: Any = None) -> DeLong:
    """DeLong's test of ``AUC(B) - AUC(A)`` when both scored the same labelled requests."""
    a = _same_length(y=y, scores_a=scores_a, scores_b=scores_b)
    aucs, v_pos, v_neg = delong_components(
        a["y"], np.vstack([a["scores_a"], a["scores_b"]]), positive
    )
    m, n = v_pos.shape[1], v_neg.shape[1]
    if m < 2 or n < 2:
        raise InputError(f"DeLong's test needs 2+ labels of each class: {m} positive, {n} negative")
    cov = np.cov(v_pos) / m + np.cov(v_neg) / n
    var = float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    diff = float(aucs[1] - aucs[0])
    if var <= 0:
        z, p = (None, None) if diff == 0 else (math.copysign(math.inf, diff), 0.0)
    else:
        z = diff / math.sqrt(var)
        p = float(2 * stats.norm.sf(abs(z)))
    return DeLong(float(aucs[0]), float(aucs[1]), diff, max(var, 0.0), z, p, m, n)


def auc_variance(y: ArrayLike, scores: ArrayLike, positive: Any = None) -> tuple[float, float]:
    """One version's ROC AUC and DeLong's variance of it."""
    aucs, v_pos, v_neg = delong_components(y, scores, positive)
    m, n = v_pos.shape[1], v_neg.shape[1]
    var_pos = float(np.var(v_pos[0], ddof=1)) if m > 1 else 0.0
    var_neg = float(np.var(v_neg[0], ddof=1)) if n > 1 else 0.0
    return float(aucs[0]), var_pos / m + var_neg / n


def score_shift(scores_a: ArrayLike, scores_b: ArrayLike) -> ScoreShift:
    """B's scores against A's on the same requests (both finite, equal length)."""
    a = _same_length(scores_a=scores_a, scores_b=scores_b)
    sa = a["scores_a"].astype(np.float64)
    sb = a["scores_b"].astype(np.float64)
    if len(sa) == 0:
        raise InputError("score_shift needs at least one request scored by both versions")
    ks = stats.ks_2samp(sa, sb)
    d = sb - sa
    wp: float | None = None
    if np.count_nonzero(d) >= 10:
        wp = float(stats.wilcoxon(sa, sb, zero_method="wilcox").pvalue)
    return ScoreShift(float(d.mean()), float(ks.statistic), float(ks.pvalue), wp, len(sa))
