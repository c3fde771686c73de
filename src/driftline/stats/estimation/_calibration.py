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
    simulated = rng.random((n_simulations, p.size)) < p
    null = reliability_errors(p, simulated, n_bins)
    threshold = float(np.quantile(null, 1 - alpha))
    return CalibrationTest(ece, threshold, tolerance, ece > max(threshold, tolerance))
