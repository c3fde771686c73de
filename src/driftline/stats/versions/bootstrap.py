"""Paired bootstrap intervals for metrics that have no closed-form paired test.

Every metric here is a function of per-request component means (F1 of
true/false positive and false negative indicators, RMSE of squared errors,
expected calibration error of per-bin residuals, ...). A resample draws
request indices once and applies them to both versions, so the interval of
``metric(B) - metric(A)`` keeps the pairing. Percentile intervals; the seed is
fixed by default so a report is reproducible.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from driftline.errors import InputError

Floats = NDArray[np.float64]
#: (per-request components (n, k), function of component means (..., k) -> metric (...))
Components = tuple[Floats, Callable[[Floats], Floats]]

#: Metrics where a larger value is better; the others are losses.
HIGHER_IS_BETTER = {
    "accuracy": True,
    "f1": True,
    "auc": True,
    "mae": False,
    "rmse": False,
    "brier": False,
    "ece": False,
}
CLASSIFICATION = ("accuracy", "f1", "brier", "ece")
REGRESSION = ("mae", "rmse")


@dataclass(frozen=True)
class BootstrapInterval:
    """``metric(B) - metric(A)`` with its percentile interval over ``resamples``."""

    metric: str
    a: float
    b: float
    difference: float
    low: float
    high: float
    resamples: int
    n: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def components(
    metric: str,
    y: ArrayLike,
    pred: ArrayLike | None = None,
    scores: ArrayLike | None = None,
    *,
    classes: list[Any] | None = None,
    positive: Any = None,
    bins: int = 10,
) -> Components:
    """Per-request components of ``metric`` and the function of their means that gives it.

    ``f1`` is the macro F1 over ``classes`` (default: the label values);
    ``brier`` and ``ece`` need binary labels and ``scores`` (probability of ``positive``).
    """
    yv = np.asarray(y)
    if metric == "accuracy":
        return _column(np.asarray(pred) == yv), lambda m: m[..., 0]
    if metric == "f1":
        pv = np.asarray(pred)
        cls = classes or sorted(set(yv.tolist()), key=str)
        cols = []
        for c in cls:
            t, p = yv == c, pv == c
            cols += [t & p, ~t & p, t & ~p]
        comp = np.column_stack(cols).astype(np.float64)

        def f1(m: Floats) -> Floats:
            tp, fp, fn = m[..., 0::3], m[..., 1::3], m[..., 2::3]
            denom = 2 * tp + fp + fn
            with np.errstate(invalid="ignore", divide="ignore"):
                per = np.where(denom > 0, 2 * tp / np.where(denom > 0, denom, 1), 0.0)
            return np.asarray(per.mean(axis=-1), dtype=np.float64)

        return comp, f1
    if metric in ("mae", "rmse"):
        err = np.asarray(pred, dtype=np.float64) - yv.astype(np.float64)
        if metric == "mae":
            return _column(np.abs(err)), lambda m: m[..., 0]
        return _column(err * err), lambda m: np.sqrt(m[..., 0])
    if metric in ("brier", "ece"):
        if scores is None:
            raise InputError(f"metric {metric!r} needs scores (the probability of the positive)")
        s = np.asarray(scores, dtype=np.float64)
        if positive is None:
            raise InputError(f"metric {metric!r} needs positive= (the class scores refer to)")
        t = (yv == positive).astype(np.float64)
        if metric == "brier":
            return _column((s - t) ** 2), lambda m: m[..., 0]
        idx = np.clip((s * bins).astype(np.int64), 0, bins - 1)
        comp = np.zeros((len(s), bins))
        comp[np.arange(len(s)), idx] = s - t
        return comp, lambda m: np.abs(m).sum(axis=-1)
    raise InputError(
        f"unknown metric {metric!r}; bootstrap metrics: {sorted((*CLASSIFICATION, *REGRESSION))}"
    )


def _column(x: ArrayLike) -> Floats:
    return np.asarray(x, dtype=np.float64).reshape(-1, 1)


def paired_bootstrap(
    metric: str,
    comp_a: Components,
    comp_b: Components,
    *,
    resamples: int = 2000,
    alpha: float = 0.05,
    seed: int = 0,
) -> BootstrapInterval:
    """Percentile interval of ``metric(B) - metric(A)`` resampling requests jointly."""
    return paired_bootstraps(
        [(metric, comp_a, comp_b)], resamples=resamples, alpha=alpha, seed=seed
    )[0]


def paired_bootstraps(
    items: Sequence[tuple[str, Components, Components]],
    *,
    resamples: int = 2000,
    alpha: float = 0.05,
    seed: int = 0,
) -> list[BootstrapInterval]:
    """:func:`paired_bootstrap` of several metrics on the same requests, on the same
    resamples (drawn once: each metric's interval equals its own call's)."""
    if not items:
        return []
    n = len(items[0][1][0])
    parts = []
    for metric, (ca, fa), (cb, fb) in items:
        if len(ca) != n or len(cb) != n:
            raise InputError(
                f"paired bootstrap needs the same requests: {len(ca)} vs {len(cb)} rows"
                + (f" ({metric})" if len(ca) == len(cb) else "")
            )
        parts.append((metric, ca, fa, cb, fb))
    if n < 2:
        raise InputError(f"paired bootstrap needs at least 2 requests, got {n}")
    both = np.hstack([np.hstack([ca, cb]) for _, ca, _, cb, _ in parts])
    diffs = np.empty((len(parts), resamples))
    rng = np.random.default_rng(seed)
    # each resample's draws become counts per request and its means one matrix product
    # (counts @ rows / n): the same resamples as gathering the drawn rows, with a
    # fraction of the memory traffic
    chunk = max(1, min(resamples, 4_000_000 // n))
    for lo in range(0, resamples, chunk):
        hi = min(resamples, lo + chunk)
        idx = rng.integers(0, n, size=(hi - lo, n))
        idx += np.arange(hi - lo, dtype=idx.dtype)[:, None] * n
        counts = np.bincount(idx.ravel(), minlength=(hi - lo) * n).reshape(hi - lo, n)
        means = (counts.astype(np.float64) @ both) / n
        col = 0
        for j, (_, ca, fa, cb, fb) in enumerate(parts):
            ka, kb = ca.shape[1], cb.shape[1]
            ma, mb = means[:, col : col + ka], means[:, col + ka : col + ka + kb]
            diffs[j, lo:hi] = fb(mb) - fa(ma)
            col += ka + kb
    out = []
    for j, (metric, ca, fa, cb, fb) in enumerate(parts):
        a_val = float(fa(ca.mean(axis=0)))
        b_val = float(fb(cb.mean(axis=0)))
        low, high = np.quantile(diffs[j], [alpha / 2, 1 - alpha / 2])
        out.append(
            BootstrapInterval(
                metric, a_val, b_val, b_val - a_val, float(low), float(high), resamples, n
            )
        )
    return out
