"""Checks of values that are not what the column holds: unparseable and infinite values."""

from __future__ import annotations

from typing import Any

from driftline.schema import Kind
from driftline.stats.quality.registry import QualityCheck, QualityInputs, QualityResult, grade


def _type_errors(x: QualityInputs) -> QualityResult | None:
    ref, cur = x.reference, x.current
    if not (cur.type_errors or ref.type_errors):
        return None
    assert x.threshold is not None
    ratio = cur.type_errors / cur.count if cur.count else 0.0
    details = {"count": cur.type_errors, **_type_error_reason(ref, cur)}
    return QualityResult("type_errors", ratio, x.threshold, grade(ratio, x.threshold, 0.0),
                         ref.name, details)  # fmt: skip


def _non_finite(x: QualityInputs) -> QualityResult | None:
    ref, cur = x.reference, x.current
    if not (cur.non_finite or ref.non_finite):
        return None
    assert x.threshold is not None
    ratio = cur.non_finite / cur.count if cur.count else 0.0
    details = {"count": cur.non_finite, **_non_finite_reason(ref)}
    return QualityResult("non_finite", ratio, x.threshold, grade(ratio, x.threshold, None),
                         ref.name, details)  # fmt: skip


def _type_error_reason(ref: Any, cur: Any) -> dict[str, Any]:
    """What a type error is for the column's kind (embeddings: the wrong dimension)."""
    if ref.kind is Kind.EMBEDDING:
        dim = ref.vectors.dim or cur.vectors.dim
        return {"reason": f"vectors whose length is not the column's dimension {dim}"}
    if ref.kind is Kind.TEXT:
        return {"reason": "values that are not valid UTF-8 text"}
    if ref.kind is Kind.IMAGE:
        return {"reason": "values that are not a decodable image (or not h x w x 1/3/4 pixels)"}
    return {}


def _non_finite_reason(ref: Any) -> dict[str, Any]:
    if ref.kind is Kind.EMBEDDING:
        return {"reason": "vectors with a NaN, infinite or missing component (left out)"}
    return {}


CHECKS = [
    QualityCheck("type_errors", "column", _type_errors,
                 "share of values that do not parse as the column's kind",
                 threshold="type_error_ratio", default_threshold=0.01, share_of="rows"),
    QualityCheck("non_finite", "column", _non_finite, "share of +-inf values",
                 threshold="non_finite_ratio", default_threshold=0.0, share_of="rows"),
]  # fmt: skip
