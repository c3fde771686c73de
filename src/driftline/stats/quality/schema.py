"""Schema checks of the whole dataset: missing, unexpected and retyped columns, mixed types."""

from __future__ import annotations

from driftline.schema import Role
from driftline.stats.quality.registry import QualityCheck, QualityInputs, QualityResult


def _missing_columns(x: QualityInputs) -> QualityResult:
    ref, cur = x.reference, x.current
    absent = [c for c in ref.columns if c not in cur.columns]
    # late labels are the normal case: a batch without its target column is not broken
    unlabelled = [c for c in absent if ref.columns[c].spec.role is Role.TARGET]
    missing = [c for c in absent if c not in unlabelled]
    details = {"columns": missing, **({"target_absent": unlabelled} if unlabelled else {})}
    return QualityResult("missing_columns", len(missing), 0, "fail" if missing else "ok",
                         details=details)  # fmt: skip


def _unexpected_columns(x: QualityInputs) -> QualityResult:
    extra = [c for c in x.current.columns if c not in x.reference.columns]
    return QualityResult("unexpected_columns", len(extra), 0, "warn" if extra else "ok",
                         details={"columns": extra})  # fmt: skip


def _type_changes(x: QualityInputs) -> QualityResult:
    ref, cur = x.reference, x.current
    changed = {
        c: {"reference": ref.columns[c].kind.value, "current": cur.columns[c].kind.value}
        for c in ref.columns
        if c in cur.columns and ref.columns[c].kind is not cur.columns[c].kind
    }
    return QualityResult("type_changes", len(changed), 0, "fail" if changed else "ok",
                         details={"columns": changed})  # fmt: skip


def _mixed_types(x: QualityInputs) -> QualityResult | None:
    cols = sorted(x.current.mixed_type_columns)
    if not cols:
        return None
    return QualityResult("mixed_types", len(cols), 0, "warn", details={"columns": cols})


CHECKS = [
    QualityCheck("missing_columns", "dataset", _missing_columns,
                 "reference columns absent from current (a missing target is not one)"),
    QualityCheck("unexpected_columns", "dataset", _unexpected_columns,
                 "current columns absent from reference (warns)"),
    QualityCheck("type_changes", "dataset", _type_changes, "columns whose kind changed"),
    QualityCheck("mixed_types", "dataset", _mixed_types,
                 "columns with values of several types (warns)"),
]  # fmt: skip
