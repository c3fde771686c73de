"""Shared checks for the estimators' inputs."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from driftline.errors import InputError
from driftline.stats.performance._labels import to_numpy

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


def probabilities(scores: Any, k: int, field: str, tolerance: float) -> npt.NDArray[np.float64]:
    """Scores as (n,) positive-class probabilities (k == 2) or (n, k); NaN rows kept."""
    arr = to_numpy(scores, field)
    if arr.dtype.kind not in "biuf":
        raise InputError(f"{field}: must be numbers (probabilities), got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if arr.ndim == 2 and k == 2 and arr.shape[1] == 2:
        arr = arr[:, 1]
    if k == 2 and arr.ndim != 1:
        raise InputError(f"{field}: expected shape (n,) or (n, 2) for 2 classes, got {arr.shape}")
    if k > 2 and (arr.ndim != 2 or arr.shape[1] != k):
        raise InputError(f"{field}: expected shape (n, {k}) for {k} classes, got {arr.shape}")
    finite = arr[~np.isnan(arr)]
    if finite.size and (finite.min() < -tolerance or finite.max() > 1 + tolerance):
        raise InputError(
            f"{field}: probabilities must lie in [0, 1], got [{finite.min():.6g}, "
            f"{finite.max():.6g}]"
        )
    if k > 2:
        sums = arr.sum(axis=1)
        off = ~np.isnan(sums) & (np.abs(sums - 1) > tolerance)
        if off.any():
            row = int(np.flatnonzero(off)[0])
            raise InputError(
                f"{field}: {int(off.sum())} rows do not sum to 1 within {tolerance:g} "
                f"(row {row} sums to {sums[row]:.6g})"
            )
    out: npt.NDArray[np.float64] = np.clip(arr, 0.0, 1.0)
    return out


def nan_rows(arr: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
    nan: npt.NDArray[np.bool_] = np.isnan(arr)
    if arr.ndim == 1:
        return nan
    rows: npt.NDArray[np.bool_] = np.any(nan, axis=1)
    return rows
