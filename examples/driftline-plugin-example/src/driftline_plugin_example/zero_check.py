"""A quality check in one file: a numeric column filling up with zeros.

A default value written where the real one is missing (``0`` for an unknown
income) hides as a valid number: the missing-value check does not see it and
drift tests notice late. This check compares the share of exact zeros with
the reference's and fails when it grew by more than ``zero_share_increase``
(warns half-way). It is opt-in (``by_default=False``): setting its threshold,
``quality: {zero_share_increase: 0.1}``, switches it on.
"""

from __future__ import annotations

import numpy as np

from driftline.stats.quality import NUMERIC, QualityCheck, QualityInputs, QualityResult, grade


def _zero_share(values: np.ndarray) -> float:
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    return float(np.mean(v == 0.0)) if v.size else float("nan")


def zero_inflation(x: QualityInputs) -> QualityResult | None:
    ref, cur = x.reference, x.current
    if not (ref.moments.n and cur.moments.n) or x.threshold is None:
        return None
    ref_share = _zero_share(ref.reservoir.values)
    share = _zero_share(cur.reservoir.values)
    fail = ref_share + x.threshold
    return QualityResult(
        "zero_inflation",
        share,
        fail,
        grade(share, fail, ref_share + x.threshold * x.warn_fraction),
        ref.name,
        {"reference": ref_share, "sample": int(cur.reservoir.values.size)},
    )


CHECK = QualityCheck(
    name="zero_inflation",
    level="column",
    compute=zero_inflation,
    description="share of exact zeros grew over the reference's",
    kinds=NUMERIC,
    threshold="zero_share_increase",
    default_threshold=0.1,
    share_of="present",
    values=True,
    by_default=False,
    reference="present",
)
