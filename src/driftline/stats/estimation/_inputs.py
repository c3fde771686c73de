"""Shared checks for the estimators' inputs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from driftline.stats.performance._scores import check_scores

Band = dict[str, float]


@dataclass(frozen=True)
class EstimationResult:
    """Estimated metrics of one chunk: ``{metric: {"value", "lower", "upper"}}``.

    ``n`` rows were used; ``excluded`` counts rows left out (and why).
    ``method`` is ``"cbpe"`` or ``"dle"``; ``details`` says how the band was made.
    """

    method: str
    n: int
    metrics: dict[str, Band]
    excluded: dict[str, int] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def band(value: float, lower: float, upper: float) -> Band:
    """A band that always contains its value."""
    return {
        "value": float(value),
        "lower": float(min(lower, value)),
        "upper": float(max(upper, value)),
    }


def probabilities(scores: Any, classes: Sequence[Any], tolerance: float) -> npt.NDArray[np.float64]:
    """Scores as (n,) positive-class probabilities (2 classes) or (n, k); NaN rows kept."""
    return check_scores(scores, len(classes), tolerance=tolerance, hint="", classes=classes)[0]


def nan_rows(arr: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
    nan: npt.NDArray[np.bool_] = np.isnan(arr)
    if arr.ndim == 1:
        return nan
    rows: npt.NDArray[np.bool_] = np.any(nan, axis=1)
    return rows
