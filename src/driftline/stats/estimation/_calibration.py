"""A calibration test for probability scores and the reliability error it uses."""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]


def reliability_errors(p: Floats, ys: npt.NDArray[Any], n_bins: int = 10) -> Floats:
    """ECE of one class for each row of label sets ``ys`` (shape (m, n)).

    Equal-mass bins of ``p``; per bin |sum of labels - sum of p|, over n.
    Equal-mass bins keep every bin populated when scores pile up near 0 or 1.
    """
    order = np.argsort(p, kind="mergesort")
    edges = np.linspace(0, p.size, n_bins + 1).round().astype(int)
    ys = ys[:, order].astype(np.float64)
    ps = p[order]
    total = np.zeros(ys.shape[0])
    for a, b in itertools.pairwise(edges):
        if b > a:
            total += np.abs(ys[:, a:b].sum(axis=1) - ps[a:b].sum())
    out: Floats = total / p.size
    return out


@dataclass(frozen=True)
class CalibrationTest:
    """Is ``ece`` too large for calibrated scores? (consistency resampling).

    ``threshold`` is the ``1 - alpha`` quantile of the ECE seen when labels
    are drawn from the scores themselves (what a perfectly calibrated model
    would show on this many rows). Scores count as miscalibrated when ``ece``
    exceeds both ``threshold`` and ``tolerance``.
    """

    ece: float
    threshold: float
    tolerance: float
    miscalibrated: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def calibration_test(
    p: Floats,
    y: npt.NDArray[np.bool_],
    *,
    tolerance: float,
    alpha: float = 0.05,
    n_simulations: int = 200,
    n_bins: int = 10,
    seed: int = 0,
) -> CalibrationTest:
    rng = np.random.default_rng(seed)
    n_bins = max(1, min(n_bins, p.size // 20))
    ece = float(reliability_errors(p, y[None, :], n_bins)[0])
    # label sets drawn from the scores, in blocks of about 2M values (a 100k-row reference)
    block = max(1, 2_000_000 // max(p.size, 1))
    null = np.concatenate(
        [
            reliability_errors(p, rng.random((min(block, n_simulations - i), p.size)) < p, n_bins)
            for i in range(0, n_simulations, block)
        ]
    )
    threshold = float(np.quantile(null, 1 - alpha))
    return CalibrationTest(ece, threshold, tolerance, ece > max(threshold, tolerance))


class CenteredIsotonic:
    """Centered isotonic regression (Oron & Flournoy, 2017): increasing, not stepped.

    scikit-learn's ``IsotonicRegression`` pools scores into flat blocks. For
    accuracy, precision, recall and F1 only a block's mean probability counts,
    which the pooled value estimates without bias. ROC AUC counts pairs ordered
    *within* a block too, and a flat block rates them as coin flips, pulling
    the expected AUC towards 0.5. This map, used for ROC AUC, puts each
    block's probability at the block's mean score and interpolates linearly
    between block centres (flat beyond the outer ones).
    """

    def __init__(self) -> None:
        self.x = np.zeros(0)
        self.y = np.zeros(0)

    def fit(self, x: Floats, y: Floats, iso: Any = None) -> CenteredIsotonic:
        """Fit on ``x``, ``y`` (reusing a fitted ``IsotonicRegression`` when given)."""
        iso = iso if iso is not None else _isotonic(x, y)
        order = np.argsort(x, kind="mergesort")
        xs = x[order]
        fitted = iso.predict(xs)
        starts = np.flatnonzero(np.r_[True, fitted[1:] != fitted[:-1]])
        counts = np.diff(np.r_[starts, xs.size])
        self.x = np.add.reduceat(xs, starts) / counts
        self.y = fitted[starts]
        return self

    def predict(self, x: Floats) -> Floats:
        out: Floats = np.interp(x, self.x, self.y)
        return out


class IsotonicMaps:
    """Isotonic calibration maps of each score column (one vs rest).

    One map is fitted on the whole reference, and ``n_boot`` more on bootstrap
    resamples of it: how far those disagree on a chunk's rows is the
    calibration's own uncertainty, which CBPE's band includes. Rows of
    multiclass probabilities are renormalised to sum to 1.
    """

    def __init__(self, n_boot: int = 20, seed: int = 0) -> None:
        self.n_boot = n_boot
        self.seed = seed
        self.maps: list[Any] = []
        self.centred: list[CenteredIsotonic] = []
        self.boot: list[list[Any]] = []

    def fit(self, columns: list[Floats], targets: list[npt.NDArray[np.bool_]]) -> IsotonicMaps:
        iso = _isotonic
        rng = np.random.default_rng(self.seed)
        ys = [t.astype(np.float64) for t in targets]
        self.maps = [iso(c, y) for c, y in zip(columns, ys, strict=True)]
        self.centred = [
            CenteredIsotonic().fit(c, y, m) for c, y, m in zip(columns, ys, self.maps, strict=True)
        ]
        n = columns[0].size
        self.boot = []
        for _ in range(self.n_boot):
            rows = rng.integers(0, n, n)
            self.boot.append([iso(c[rows], y[rows]) for c, y in zip(columns, ys, strict=True)])
        return self

    def predict(self, scores: Floats, b: int | None = None, centred: bool = False) -> Floats:
        """Calibrated probabilities ((n,) or (n, k)) by the whole-reference map or map ``b``.

        ``centred``: the whole reference's centred (strictly increasing) map.
        """
        maps: list[Any] = self.centred if centred else self.maps if b is None else self.boot[b]
        if scores.ndim == 1:
            out: Floats = maps[0].predict(scores)
            return out
        q = np.column_stack([m.predict(scores[:, c]) for c, m in enumerate(maps)])
        return renormalise(q, scores)


def _isotonic(x: Floats, y: Floats) -> Any:
    from sklearn.isotonic import IsotonicRegression

    return IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(x, y)


def renormalise(q: Floats, fallback: Floats) -> Floats:
    """Rows of ``q`` scaled to sum to 1 (rows summing to 0 take ``fallback``'s)."""
    sums = q.sum(axis=1, keepdims=True)
    out: Floats = np.where(sums > 0, q / np.where(sums > 0, sums, 1.0), fallback)
    return out
