"""The ``missing_ratio`` check: a column's share of missing values against the reference's."""

from __future__ import annotations

from typing import Any

from driftline.schema import Role
from driftline.stats.quality.registry import (
    QualityCheck,
    QualityInputs,
    QualityResult,
    grade,
    insufficient,
    short_reference,
)


def _missing_ratio(x: QualityInputs) -> QualityResult:
    ref, cur = x.reference, x.current
    assert x.threshold is not None
    ref_missing = ref.missing_ratio if ref.count else 0.0
    value = cur.missing_ratio
    fail = ref_missing + x.threshold
    status = (
        "fail"
        if cur.count and cur.missing == cur.count
        else grade(value, fail, ref_missing + x.threshold * x.warn_fraction)
    )
    details: dict[str, Any] = {"reference": ref_missing, "missing": cur.missing}
    if cur.count and cur.missing == cur.count:
        details["reason"] = (
            f"every value is missing ({cur.count:,} rows; the reference had "
            f"{ref_missing:.1%} missing): the column carries no data"
        )
    if ref.spec.role is Role.TARGET:  # unlabelled rows are normal: labels arrive later
        status = "ok"
        details["note"] = "target column: rows without a label yet are not a quality problem"
    result = QualityResult("missing_ratio", value, fail, status, ref.name, details)
    # all missing fails and a share under the threshold passes whatever the reference had;
    # between the two the verdict rests on the reference's own share
    decided = "reason" in details or "note" in details or value <= x.threshold * x.warn_fraction
    why = None if decided else short_reference(ref.count, "rows", x.thresholds)
    return result if why is None else insufficient(result, why, ref.count, x.thresholds)


CHECK = QualityCheck(
    "missing_ratio",
    "column",
    _missing_ratio,
    "share of missing values, against the reference's (all missing fails)",
    threshold="missing_increase",
    default_threshold=0.05,
    share_of="rows",
)
