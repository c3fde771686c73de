"""Checks for probability scores, shared by the accumulators and the estimators."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from driftline.errors import InputError
from driftline.stats.performance._labels import to_numpy

Floats = npt.NDArray[np.float64]


def check_scores(
    scores: Any,
    k: int,
    *,
    n_rows: int | None = None,
    positive: int = 1,
    tolerance: float = 1e-6,
    renormalise: bool = False,
    hint: str = "; pass on_unnormalised='renormalise' to rescale and count them",
    classes: Sequence[Any] | None = None,
) -> tuple[Floats, npt.NDArray[np.bool_], int]:
    """Scores as P(positive) (k == 2, shape (n,)) or class probabilities (n, k).

    Returns the scores, a mask of rows with a NaN and how many rows were
    renormalised. Values outside [0, 1] (beyond ``tolerance``), wrong shapes and
    non-numbers raise :class:`InputError`; rows of k > 1 columns that do not sum
    to 1 within ``tolerance`` raise, or with ``renormalise`` are divided by their sum.
    A DataFrame whose column names are the ``classes`` is reordered to their order.
    """
    columns = getattr(scores, "columns", None) if getattr(scores, "ndim", 1) == 2 else None
    if classes is not None and columns is not None:
        names = [str(c) for c in columns]
        wanted = [str(c) for c in classes]
        if sorted(names) == sorted(wanted) and names != wanted:
            scores = scores[[columns[names.index(w)] for w in wanted]]
    arr = to_numpy(scores, "scores")
    if arr.dtype.kind not in "biuf":
        raise InputError(f"scores: must be numbers (probabilities), got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    n = arr.shape[0] if n_rows is None else n_rows
    if arr.ndim == 1:
        if k != 2:
            raise InputError(
                f"scores: a 1-d score is only allowed for 2 classes; give an (n, {k}) "
                "array of class probabilities"
            )
        arr = arr[:, None]
    elif arr.ndim != 2 or arr.shape[1] != k:
        raise InputError(f"scores: expected shape ({n}, {k}) or ({n},), got {arr.shape}")
    if arr.shape[0] != n:
        raise InputError(f"scores: has {arr.shape[0]} rows but y_true has {n}")
    nan = np.isnan(arr).any(axis=1)
    finite = arr[~nan]
    if finite.size and (
        not np.isfinite(finite).all() or finite.min() < -tolerance or finite.max() > 1 + tolerance
    ):
        raise InputError(
            "scores: probabilities must lie in [0, 1], got values in "
            f"[{finite.min():.6g}, {finite.max():.6g}]"
        )
    arr = np.clip(arr, 0.0, 1.0)
    n_off = 0
    if arr.shape[1] > 1:
        sums = arr.sum(axis=1)
        off = ~nan & (np.abs(sums - 1.0) > tolerance)
        n_off = int(off.sum())
        if n_off and not renormalise:
            row = int(np.flatnonzero(off)[0])
            raise InputError(
                f"scores: {n_off} rows do not sum to 1 within {tolerance:g} "
                f"(row {row} sums to {sums[row]:.6g}){hint}"
            )
        if n_off:
            if (sums[off] <= 0).any():
                raise InputError("scores: a row of all-zero probabilities cannot be rescaled")
            arr[off] /= sums[off, None]
    if k == 2:
        p = arr[:, 0] if arr.shape[1] == 1 else arr[:, positive]
        return np.ascontiguousarray(p), nan, n_off
    return arr, nan, n_off


def bin_index(x: Floats, n_bins: int) -> npt.NDArray[np.intp]:
    """Equal-width bin of each value in [0, 1]; 1.0 goes into the last bin."""
    out: npt.NDArray[np.intp] = np.minimum((x * n_bins).astype(np.intp), n_bins - 1)
    return out
