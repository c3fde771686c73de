"""Checks of the dataset's rows: duplicates and emptiness."""

from __future__ import annotations

import math

from driftline.stats.quality.registry import QualityCheck, QualityInputs, QualityResult, grade


def _duplicate_rows(x: QualityInputs) -> QualityResult:
    ref, cur = x.reference, x.current
    assert x.threshold is not None
    ref_dup = ref.duplicate_ratio if ref.n_rows else 0.0
    fail = (0.0 if math.isnan(ref_dup) else ref_dup) + x.threshold
    value = cur.duplicate_ratio
    return QualityResult(
        "duplicate_rows",
        value,
        fail,
        grade(value, fail, fail - x.threshold * x.warn_fraction),
        details={"reference": ref_dup, "estimated": True},
    )


def _empty(x: QualityInputs) -> QualityResult:
    n = x.current.n_rows
    return QualityResult("empty", float(n == 0), 0, "fail" if n == 0 else "ok",
                         details={"rows": n})  # fmt: skip


CHECKS = [
    QualityCheck("duplicate_rows", "dataset", _duplicate_rows,
                 "estimated share of repeated rows, against the reference's",
                 threshold="duplicate_increase", default_threshold=0.05, share_of="rows",
                 reference="rows"),
    QualityCheck("empty", "dataset", _empty, "the current data has no rows"),
]  # fmt: skip
