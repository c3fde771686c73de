"""The ``constant`` check: a column that became (nearly) one value."""

from __future__ import annotations

import math

import numpy as np

from driftline.stats.column_profile import CATEGORY_KINDS, ColumnProfile
from driftline.stats.quality.registry import (
    QualityCheck,
    QualityInputs,
    QualityResult,
    insufficient,
    short_reference,
)


def _top_share(col: ColumnProfile) -> tuple[float, bool]:
    """Share of the most frequent value and whether it is exact."""
    if col.kind in CATEGORY_KINDS:
        # past the exact limit only the sketch's named categories count (never __other__)
        named, present = col.categories.named(), col.categories.total
        top = max(named.values(), default=0)
        return (top / present if present else math.nan), col.categories.is_exact
    vals = col.reservoir.values.astype(np.float64)
    vals = vals[np.isfinite(vals)]
    if vals.size == 0:
        return math.nan, True
    if col.moments.min == col.moments.max:
        return 1.0, True
    _, freq = np.unique(vals, return_counts=True)
    return float(freq.max() / vals.size), vals.size >= col.moments.n


def _constant(x: QualityInputs) -> QualityResult:
    ref, cur = x.reference, x.current
    assert x.threshold is not None
    share, exact = _top_share(cur)
    ref_share, _ = _top_share(ref)
    was = math.isfinite(ref_share) and ref_share >= x.threshold
    if not math.isfinite(share) or was:
        status = "ok"
    elif share >= 1.0 and cur.present > 1:
        status = "fail"
    elif share >= x.threshold:
        status = "warn"
    else:
        status = "ok"
    result = QualityResult("constant", share, x.threshold, status, ref.name,
                           {"reference": ref_share, "exact": exact})  # fmt: skip
    # a current column of (nearly) one value is a fault unless the reference was one too,
    # which a reference of a few values nearly always is: that needs enough of them
    why = short_reference(ref.present, "present", x.thresholds)
    if why is None or not (math.isfinite(share) and share >= x.threshold):
        return result
    return insufficient(result, why, ref.present, x.thresholds)


CHECK = QualityCheck(
    "constant",
    "column",
    _constant,
    "share of the most frequent value: one value fails, near_constant_share warns",
    threshold="near_constant_share",
    default_threshold=0.99,
    values=True,
)
