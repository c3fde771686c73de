"""Checks of categorical columns: categories the reference never had, and cardinality changes."""

from __future__ import annotations

from typing import Any

from driftline.stats.drift._categorical import is_id_like, overlap
from driftline.stats.quality.registry import (
    CATEGORICAL,
    QualityCheck,
    QualityInputs,
    QualityResult,
    grade,
)


def _unseen_categories(x: QualityInputs) -> QualityResult:
    ref, cur = x.reference, x.current
    assert x.threshold is not None
    ov = overlap(ref, cur)
    status = grade(ov.unseen_share, x.threshold, 0.0)
    details: dict[str, Any] = {
        "count": round(ov.unseen_distinct),
        "examples": ov.examples,
        "exact": ov.exact,
    }
    if not ov.exact:
        details["error"] = ov.error
        details["note"] = "estimated from the distinct-count sketches past the exact limit"
    if is_id_like(ref) and status == "fail":
        # almost every value of an ID-like column is new in every batch: said, not failed
        status = "warn"
        details["id_like"] = True
    return QualityResult("unseen_categories", ov.unseen_share, x.threshold, status, ref.name,
                         details)  # fmt: skip


def _cardinality_change(x: QualityInputs) -> QualityResult | None:
    ref, cur = x.reference, x.current
    assert x.threshold is not None
    r_d, c_d = ref.distinct.estimate, cur.distinct.estimate
    if not (r_d > 0 and c_d > 0):
        return None
    # fewer categories in a smaller sample is expected: shrinking only counts when the
    # current side has at least as many values as the reference
    shrink_counts = cur.present >= ref.present
    factor = c_d / r_d if c_d >= r_d or not shrink_counts else r_d / c_d
    warn = 1 + (x.threshold - 1) * x.warn_fraction
    return QualityResult("cardinality_change", factor, x.threshold,
                         grade(factor, x.threshold, warn), ref.name,
                         {"reference": round(r_d), "current": round(c_d)})  # fmt: skip


CHECKS = [
    QualityCheck("unseen_categories", "column", _unseen_categories,
                 "share of values in categories the reference never had", kinds=CATEGORICAL,
                 threshold="unseen_category_ratio", default_threshold=0.005,
                 share_of="present", values=True, reference="present"),
    QualityCheck("cardinality_change", "column", _cardinality_change,
                 "factor by which the distinct count grew (or shrank)", kinds=CATEGORICAL,
                 threshold="cardinality_ratio", default_threshold=2.0, values=True,
                 reference="present"),
]  # fmt: skip
