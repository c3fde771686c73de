"""The quality-check registry: every check, built-in or plug-in, declared once.

A check is declared by a :class:`QualityCheck` (its name, whether it looks
at the whole dataset or at one column, the column kinds it applies to, the
name and default of its threshold, what its value is a share of, and how to
compute it) in a module of :mod:`driftline.stats.quality` as ``CHECK`` (or
``CHECKS``). Plug-ins come through the ``driftline.checks`` entry point
(docs/plugins.md). ``compare()``, chunked reports, ``driftline check``, the
collector's windows (``quality.<check>`` points, which alert rules read) and
configuration validation (``quality:`` thresholds) all read :data:`CHECKS`.

Each check returns a :class:`QualityResult` with the measured value, the
threshold it was held to and a status (ok, warn, fail, or insufficient: a
check that holds the current data to what the reference shows cannot decide
on a reference of fewer than ``min_reference`` values); docs/quality.md
lists the built-ins.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

from driftline.errors import ConfigError
from driftline.plugins import Registry, register_modules

if TYPE_CHECKING:
    from driftline.stats.column_profile import ColumnProfile
    from driftline.stats.profile import DatasetProfile

Level = Literal["dataset", "column"]
#: Column families a column check applies to (categorical: categorical and boolean kinds).
Family = Literal["numeric", "categorical"]
NUMERIC: frozenset[Family] = frozenset({"numeric"})
CATEGORICAL: frozenset[Family] = frozenset({"categorical"})
BOTH: frozenset[Family] = frozenset({"numeric", "categorical"})
Status = Literal["ok", "warn", "fail", "insufficient"]
#: What a reference-derived check counts in the reference: its rows, or the column's values.
Basis = Literal["rows", "present"]


@dataclass(frozen=True)
class QualityResult:
    check: str
    value: float
    threshold: float
    status: str  # "ok" | "warn" | "fail" | "insufficient" (the reference is too small)
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
    """Fail thresholds (warn at ``warn_fraction`` of the way there, where it applies).

    The fields are the built-in checks' thresholds; ``extra`` holds those of
    plug-in checks, by the name each declares (``QualityCheck.threshold``).
    """

    missing_increase: float = 0.05  # absolute increase of the missing ratio over the reference
    type_error_ratio: float = 0.01
    non_finite_ratio: float = 0.0
    near_constant_share: float = 0.99  # most frequent value's share
    out_of_range_ratio: float = 0.01  # beyond the reference min/max
    out_of_quantile_range_ratio: float = 0.05  # beyond the reference 1st/99th percentiles
    descriptor_range_ratio: float = 0.05  # a text/image descriptor beyond the reference p01/p99
    unseen_category_ratio: float = 0.005
    duplicate_increase: float = 0.05
    cardinality_ratio: float = 2.0  # distinct count grew or shrank by this factor
    warn_fraction: float = 0.5
    # fewer reference rows/values than this: a reference-derived check is "insufficient"
    min_reference: float = 30
    extra: Mapping[str, float] = field(default_factory=dict, hash=False)

    @classmethod
    def names(cls) -> list[str]:
        """Every threshold a user may set: the built-ins' and the registered plug-ins'."""
        own = {f.name for f in fields(cls) if f.name != "extra"}
        return sorted(own | {c.threshold for c in CHECKS if c.threshold is not None})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QualityThresholds:
        names = cls.names()
        own = {f.name for f in fields(cls) if f.name != "extra"}
        for key, value in data.items():
            if key not in names:
                raise ConfigError(f"unknown quality threshold {key!r}; allowed: {', '.join(names)}")
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise ConfigError(
                    f"quality threshold {key!r} must be a non-negative number, got {value!r}"
                )
        extra = {k: float(v) for k, v in data.items() if k not in own}
        return cls(**{k: float(v) for k, v in data.items() if k in own}, extra=extra)

    def of(self, check: QualityCheck) -> float | None:
        """The threshold in force for ``check``: configured, else its default (None: fixed)."""
        if check.threshold is None:
            return None
        if check.threshold in self.extra:
            return float(self.extra[check.threshold])
        if hasattr(self, check.threshold) and check.threshold != "extra":
            return float(getattr(self, check.threshold))
        return check.default_threshold

    def configured(self, check: QualityCheck) -> bool:
        """Whether the user set ``check``'s threshold (this switches on an opt-in check)."""
        return check.threshold is not None and check.threshold in self.extra


@dataclass(frozen=True)
class QualityInputs:
    """What a check reads: both sides (column or dataset profiles) and its threshold."""

    reference: Any
    current: Any
    threshold: float | None
    thresholds: QualityThresholds

    @property
    def warn_fraction(self) -> float:
        return self.thresholds.warn_fraction


@dataclass(frozen=True)
class QualityCheck:
    """A quality check's declaration.

    ``compute(inputs)`` returns a :class:`QualityResult` whose ``check`` is
    ``name`` (``column`` set for column checks), or None where the check does
    not apply (a column without infinite values has no ``non_finite`` result).
    ``threshold`` names the key of ``quality: {...}`` that sets its threshold
    (``default_threshold`` unless set; None: a fixed rule). ``share_of``
    says what the value is a share of ("rows", "present" values of the
    column, or None: not a share); the collector then gives its points a
    sample size and a standard error. ``values``: a check of a column's
    values, which does not apply to id and timestamp columns.
    ``by_default=False`` makes a check opt-in: it runs when its threshold is
    configured. ``reference``: the check holds the current data to what the
    reference shows (its categories, range, missing share, ...); on a
    reference of fewer than ``min_reference`` rows (``"rows"``) or values of
    the column (``"present"``) its status is ``insufficient``, with
    ``details.reason`` saying so: one reference row has one category and no
    spread, so nearly every current value is "unseen" or "out of range".
    """

    name: str
    level: Level
    compute: Callable[[QualityInputs], QualityResult | None]
    description: str = ""
    kinds: frozenset[Family] = BOTH
    threshold: str | None = None
    default_threshold: float | None = None
    share_of: Literal["rows", "present"] | None = None
    values: bool = False
    by_default: bool = True
    reference: Basis | None = None

    def __post_init__(self) -> None:
        from driftline.errors import PluginError

        if not self.name.isidentifier():
            raise PluginError(f"quality check name {self.name!r}: allowed: a Python identifier")
        if self.level not in ("dataset", "column"):
            raise PluginError(
                f"quality check {self.name!r}: level {self.level!r}; allowed: dataset, column"
            )
        if not self.kinds or not self.kinds <= BOTH:
            raise PluginError(
                f"quality check {self.name!r}: kinds {sorted(self.kinds)}; "
                "allowed: numeric and/or categorical"
            )
        if self.threshold is not None and (
            not self.threshold.isidentifier()
            or self.default_threshold is None
            or not math.isfinite(self.default_threshold)
            or self.default_threshold < 0
        ):
            raise PluginError(
                f"quality check {self.name!r}: a threshold needs an identifier as its name "
                "and a finite default_threshold >= 0"
            )
        if not self.by_default and self.threshold is None:
            raise PluginError(
                f"quality check {self.name!r}: an opt-in check (by_default=False) is switched "
                "on by its threshold, so it needs one"
            )

    def applies_to(self, family: Family) -> bool:
        return family in self.kinds

    def enabled(self, thresholds: QualityThresholds) -> bool:
        return self.by_default or thresholds.configured(self)

    def run(
        self, reference: Any, current: Any, thresholds: QualityThresholds
    ) -> QualityResult | None:
        result = self.compute(QualityInputs(reference, current, thresholds.of(self), thresholds))
        if result is None or self.reference is None:
            return result
        n = reference_size(reference, self.reference)
        why = short_reference(n, self.reference, thresholds)
        return result if why is None else insufficient(result, why, n, thresholds)


def reference_size(reference: Any, basis: Basis) -> int:
    """The reference's rows (a dataset's, or a column's), or the column's present values."""
    if hasattr(reference, "n_rows"):
        return int(reference.n_rows)
    return int(reference.count if basis == "rows" else reference.present)


def short_reference(n: int, basis: Basis, thresholds: QualityThresholds) -> str | None:
    """Why a reference of ``n`` rows (or values) is too small to hold the current data to,
    or None when it is large enough (``thresholds.min_reference``)."""
    if n >= thresholds.min_reference:
        return None
    what = ("row" if basis == "rows" else "value") + ("" if n == 1 else "s")
    return (
        f"reference too small: {n:,} {what}, a check against it needs "
        f"{thresholds.min_reference:g} (quality min_reference)"
    )


def insufficient(
    result: QualityResult, why: str, n: int, thresholds: QualityThresholds
) -> QualityResult:
    """``result`` as undecided: status ``insufficient``, the value kept, the reason given."""
    details = {
        **result.details,
        "status_on_this_reference": result.status,
        "reason": why,
        "reference_n": n,
        "min_reference": thresholds.min_reference,
    }
    return replace(result, status="insufficient", details=details)


def grade(value: float, fail: float, warn: float | None) -> Status:
    """``fail`` above ``fail``, ``warn`` above ``warn`` (None: never), else ``ok``; NaN is ok."""
    if not math.isfinite(value):
        return "ok"
    if value > fail:
        return "fail"
    if warn is not None and value > warn:
        return "warn"
    return "ok"


def family(col: ColumnProfile) -> Family:
    from driftline.stats.column_profile import CATEGORY_KINDS

    return "categorical" if col.kind in CATEGORY_KINDS else "numeric"


#: the built-in modules in the order their checks are listed (others follow, by name)
_ORDER = (
    "schema", "rows", "missing", "parsing", "constant", "ranges", "descriptors", "categories",
)  # fmt: skip


def _builtins() -> None:
    register_modules(CHECKS, "driftline.stats.quality", attrs=("CHECKS", "CHECK"), order=_ORDER)


CHECKS: Registry[QualityCheck] = Registry(
    "quality check", "driftline.checks", QualityCheck, _builtins
)


def dataset_checks(
    ref: DatasetProfile, cur: DatasetProfile, t: QualityThresholds
) -> list[QualityResult]:
    """Every enabled dataset-level check, in registry order."""
    out = []
    for check in CHECKS:
        if check.level == "dataset" and check.enabled(t):
            result = check.run(ref, cur, t)
            if result is not None:
                out.append(result)
    return out


def column_checks(
    ref: ColumnProfile, cur: ColumnProfile, t: QualityThresholds
) -> list[QualityResult]:
    """Every enabled column-level check that applies to the column, in registry order."""
    from driftline.schema import Role

    keys = ref.spec.role in (Role.ID, Role.TIMESTAMP)
    fam = family(ref)
    out = []
    for check in CHECKS:
        if check.level != "column" or not check.applies_to(fam) or not check.enabled(t):
            continue
        if check.values and keys:
            # ids are new in every batch and timestamps move forward: value checks do not apply
            continue
        result = check.run(ref, cur, t)
        if result is not None:
            out.append(result)
    return out


def share_checks() -> Mapping[str, str]:
    """Check name -> what its value is a share of ("rows" or "present"), for shares only."""
    return MappingProxyType({c.name: c.share_of for c in CHECKS if c.share_of is not None})


__all__ = [
    "BOTH",
    "CATEGORICAL",
    "CHECKS",
    "NUMERIC",
    "QualityCheck",
    "QualityInputs",
    "QualityResult",
    "QualityThresholds",
    "column_checks",
    "dataset_checks",
    "family",
    "grade",
    "insufficient",
    "reference_size",
    "share_checks",
    "short_reference",
]
