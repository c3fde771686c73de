"""Data-quality checks computed from a reference and a current profile.

Each check returns a :class:`QualityResult` with the measured value, the
threshold it was held to and a status (ok, warn, fail). Thresholds live in
:class:`QualityThresholds`; docs/quality.md lists every check.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from driftline.errors import ConfigError
from driftline.schema import Kind, Role
from driftline.stats.drift._categorical import is_id_like, overlap
from driftline.stats.profile import CATEGORY_KINDS, ColumnProfile, DatasetProfile

_KEY_ROLES = frozenset({Role.ID, Role.TIMESTAMP})


@dataclass(frozen=True)
class QualityResult:
    check: str
    value: float
    threshold: float
    status: str  # "ok" | "warn" | "fail"
    column: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        v = float(self.value)
        return {
            "check": self.check,
            "column": self.column,
            "value": v if math.isfinite(v) else None,
            "threshold": self.threshold,
            "status": self.status,
            "details": self.details,
        }


@dataclass(frozen=True)
class QualityThresholds:
    """Fail thresholds (warn at ``warn_fraction`` of the way there, where it applies)."""

    missing_increase: float = 0.05  # absolute increase of the missing ratio over the reference
    type_error_ratio: float = 0.01
    non_finite_ratio: float = 0.0
    near_constant_share: float = 0.99  # most frequent value's share
    out_of_range_ratio: float = 0.01  # beyond the reference min/max
    out_of_quantile_range_ratio: float = 0.05  # beyond the reference 1st/99th percentiles
    unseen_category_ratio: float = 0.005
    duplicate_increase: float = 0.05
    cardinality_ratio: float = 2.0  # distinct count grew or shrank by this factor
    warn_fraction: float = 0.5

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QualityThresholds:
        names = {f.name for f in fields(cls)}
        for key, value in data.items():
            if key not in names:
                raise ConfigError(
                    f"unknown quality threshold {key!r}; allowed: {', '.join(sorted(names))}"
                )
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise ConfigError(
                    f"quality threshold {key!r} must be a non-negative number, got {value!r}"
                )
        return cls(**{k: float(v) for k, v in data.items()})


def _status(value: float, fail: float, warn: float | None) -> str:
    if not math.isfinite(value):
        return "ok"
    if value > fail:
        return "fail"
    if warn is not None and value > warn:
        return "warn"
    return "ok"


def schema_checks(ref: DatasetProfile, cur: DatasetProfile) -> list[QualityResult]:
    out = []
    absent = [c for c in ref.columns if c not in cur.columns]
    # late labels are the normal case: a batch without its target column is not broken
    unlabelled = [c for c in absent if ref.columns[c].spec.role is Role.TARGET]
    missing = [c for c in absent if c not in unlabelled]
    extra = [c for c in cur.columns if c not in ref.columns]
    changed = {
        c: (ref.columns[c].kind.value, cur.columns[c].kind.value)
        for c in ref.columns
        if c in cur.columns and ref.columns[c].kind is not cur.columns[c].kind
    }
    out.append(
        QualityResult(
            "missing_columns",
            len(missing),
            0,
            "fail" if missing else "ok",
            details={"columns": missing, **({"target_absent": unlabelled} if unlabelled else {})},
        )
    )
    out.append(
        QualityResult(
            "unexpected_columns",
            len(extra),
            0,
            "warn" if extra else "ok",
            details={"columns": extra},
        )
    )
    out.append(
        QualityResult(
            "type_changes",
            len(changed),
            0,
            "fail" if changed else "ok",
            details={
                "columns": {k: {"reference": a, "current": b} for k, (a, b) in changed.items()}
            },
        )
    )
    if cur.mixed_type_columns:
        cols = sorted(cur.mixed_type_columns)
        out.append(QualityResult("mixed_types", len(cols), 0, "warn", details={"columns": cols}))
    return out


def dataset_checks(
    ref: DatasetProfile, cur: DatasetProfile, t: QualityThresholds
) -> list[QualityResult]:
    out = schema_checks(ref, cur)
    ref_dup = ref.duplicate_ratio if ref.n_rows else 0.0
    fail = (0.0 if math.isnan(ref_dup) else ref_dup) + t.duplicate_increase
    value = cur.duplicate_ratio
    out.append(
        QualityResult(
            "duplicate_rows",
            value,
            fail,
            _status(value, fail, fail - t.duplicate_increase * t.warn_fraction),
            details={"reference": ref_dup, "estimated": True},
        )
    )
    out.append(
        QualityResult(
            "empty",
            float(cur.n_rows == 0),
            0,
            "fail" if cur.n_rows == 0 else "ok",
            details={"rows": cur.n_rows},
        )
    )
    return out


def column_checks(
    ref: ColumnProfile, cur: ColumnProfile, t: QualityThresholds
) -> list[QualityResult]:
    name = ref.name
    out: list[QualityResult] = []
    w = t.warn_fraction
    # missing values
    ref_missing = ref.missing_ratio if ref.count else 0.0
    value = cur.missing_ratio
    fail = ref_missing + t.missing_increase
    status = (
        "fail"
        if cur.count and cur.missing == cur.count
        else _status(value, fail, ref_missing + t.missing_increase * w)
    )
    details: dict[str, Any] = {"reference": ref_missing, "missing": cur.missing}
    if ref.spec.role is Role.TARGET:  # unlabelled rows are normal: labels arrive later
        status = "ok"
        details["note"] = "target column: rows without a label yet are not a quality problem"
    out.append(QualityResult("missing_ratio", value, fail, status, name, details))
    if cur.type_errors or ref.type_errors:
        ratio = cur.type_errors / cur.count if cur.count else 0.0
        out.append(
            QualityResult(
                "type_errors",
                ratio,
                t.type_error_ratio,
                _status(ratio, t.type_error_ratio, 0.0),
                name,
                {"count": cur.type_errors, **_type_error_reason(ref, cur)},
            )
        )
    if cur.non_finite or ref.non_finite:
        ratio = cur.non_finite / cur.count if cur.count else 0.0
        out.append(
            QualityResult(
                "non_finite",
                ratio,
                t.non_finite_ratio,
                _status(ratio, t.non_finite_ratio, None),
                name,
                {"count": cur.non_finite, **_non_finite_reason(ref)},
            )
        )
    if ref.spec.role in _KEY_ROLES:
        # ids are new in every batch and timestamps move forward: value checks do not apply
        return out
    out.append(_constant(ref, cur, t))
    if ref.kind in CATEGORY_KINDS:
        out.extend(_categorical(ref, cur, t))
    elif ref.moments.n and cur.moments.n:
        out.extend(_ranges(ref, cur, t))
    return out


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


def _constant(ref: ColumnProfile, cur: ColumnProfile, t: QualityThresholds) -> QualityResult:
    share, exact = _top_share(cur)
    ref_share, _ = _top_share(ref)
    was = math.isfinite(ref_share) and ref_share >= t.near_constant_share
    if not math.isfinite(share) or was:
        status = "ok"
    elif share >= 1.0 and cur.present > 1:
        status = "fail"
    elif share >= t.near_constant_share:
        status = "warn"
    else:
        status = "ok"
    return QualityResult(
        "constant",
        share,
        t.near_constant_share,
        status,
        ref.name,
        {"reference": ref_share, "exact": exact},
    )


def _ranges(ref: ColumnProfile, cur: ColumnProfile, t: QualityThresholds) -> list[QualityResult]:
    h = cur.histogram
    total = h.total
    lo_key = h.bucket_keys(np.array([ref.moments.min]))[0]
    hi_key = h.bucket_keys(np.array([ref.moments.max]))[0]
    below = int(h.counts[h.keys < lo_key].sum())
    above = int(h.counts[h.keys > hi_key].sum())
    # values inside the boundary buckets but beyond the exact min/max (exact when those decide)
    if cur.moments.min < ref.moments.min and below == 0:
        below = 1
    if cur.moments.max > ref.moments.max and above == 0:
        above = 1
    ratio = (below + above) / total if total else 0.0
    # A value from the reference's own distribution falls beyond the min/max of its n
    # values with probability 2/(n+1): that share is expected, not a fault (1.4% for a
    # 142-row reference), so the threshold counts from it.
    expected = 2.0 / (ref.moments.n + 1) if ref.moments.n else 0.0
    limit = t.out_of_range_ratio + expected
    details = _by_chance(below + above, total, expected)
    out = [
        QualityResult(
            "out_of_range",
            ratio,
            limit,
            _status(ratio, limit, expected + t.out_of_range_ratio * t.warn_fraction)
            if details is None
            else "ok",
            ref.name,
            {
                **(details or {}),
                "expected": expected,
                "below": below,
                "above": above,
                "reference_min": ref.moments.min,
                "reference_max": ref.moments.max,
                "current_min": cur.moments.min,
                "current_max": cur.moments.max,
            },
        )
    ]
    q = ref.quantiles.quantiles(np.array([0.01, 0.99]))
    qk = h.bucket_keys(np.asarray(q, dtype=np.float64))
    outside = int(h.counts[(h.keys < qk[0]) | (h.keys > qk[1])].sum())
    ratio_q = outside / total if total else 0.0
    chance = _by_chance(outside, total, 0.02)
    out.append(
        QualityResult(
            "out_of_quantile_range",
            ratio_q,
            t.out_of_quantile_range_ratio,
            _status(
                ratio_q,
                t.out_of_quantile_range_ratio,
                t.out_of_quantile_range_ratio * t.warn_fraction + 0.02 * (1 - t.warn_fraction),
            )
            if chance is None
            else "ok",
            ref.name,
            {
                **(chance or {}),
                "reference_p01": float(q[0]),
                "reference_p99": float(q[1]),
                "expected": 0.02,
            },
        )
    )
    return out


#: One-sided level at which a count of values beyond a reference bound must exceed what the
#: expected share gives by chance before a range check warns or fails.
CHANCE_ALPHA = 0.01


def _by_chance(count: int, total: int, expected: float) -> dict[str, Any] | None:
    """None when ``count`` of ``total`` values beyond a bound is more than the ``expected``
    share gives by chance (a one-sided binomial test at :data:`CHANCE_ALPHA`); else the
    details saying it is not: 3 of 51 values beyond the 1st/99th percentiles (5.9%, where
    2% is expected) is what a healthy model shows one window in twelve."""
    if total <= 0 or count <= 0 or expected <= 0:
        return None
    from scipy.stats import binom

    p = float(binom.sf(count - 1, total, expected))
    if p < CHANCE_ALPHA:
        return None
    return {
        "p_value": p,
        "reason": f"{count} of {total} is within what chance gives (expected {expected:.2%})",
    }


def _categorical(
    ref: ColumnProfile, cur: ColumnProfile, t: QualityThresholds
) -> list[QualityResult]:
    ov = overlap(ref, cur)
    status = _status(ov.unseen_share, t.unseen_category_ratio, 0.0)
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
    out = [
        QualityResult(
            "unseen_categories",
            ov.unseen_share,
            t.unseen_category_ratio,
            status,
            ref.name,
            details,
        )
    ]
    r_d, c_d = ref.distinct.estimate, cur.distinct.estimate
    if r_d > 0 and c_d > 0:
        # fewer categories in a smaller sample is expected: shrinking only counts when the
        # current side has at least as many values as the reference
        shrink_counts = cur.present >= ref.present
        factor = c_d / r_d if c_d >= r_d or not shrink_counts else r_d / c_d
        out.append(
            QualityResult(
                "cardinality_change",
                factor,
                t.cardinality_ratio,
                _status(
                    factor, t.cardinality_ratio, 1 + (t.cardinality_ratio - 1) * t.warn_fraction
                ),
                ref.name,
                {"reference": round(r_d), "current": round(c_d)},
            )
        )
    return out


def _type_error_reason(ref: ColumnProfile, cur: ColumnProfile) -> dict[str, Any]:
    """What a type error is for the column's kind (embeddings: the wrong dimension)."""
    if ref.kind is Kind.EMBEDDING:
        dim = ref.vectors.dim or cur.vectors.dim
        return {"reason": f"vectors whose length is not the column's dimension {dim}"}
    if ref.kind is Kind.TEXT:
        return {"reason": "values that are not valid UTF-8 text"}
    return {}


def _non_finite_reason(ref: ColumnProfile) -> dict[str, Any]:
    if ref.kind is Kind.EMBEDDING:
        return {"reason": "vectors with a NaN, infinite or missing component (left out)"}
    return {}
