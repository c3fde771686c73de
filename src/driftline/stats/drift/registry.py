"""The drift-method registry: every method, built-in or plug-in, declared once.

A method is one module that declares a :class:`DriftMethod` (its name, the
column kinds it applies to, whether it is a hypothesis test, its default
threshold and how to compute it from :class:`DriftInputs`) as ``METHOD`` (or
``METHODS``). The built-ins are the modules of :mod:`driftline.stats.drift`;
plug-ins come through the ``driftline.drift_methods`` entry point
(docs/plugins.md). The rules, the report's severity, the CLI's ``--method``
choices and configuration validation read :data:`DRIFT_METHODS`.

A plug-in method is computed when a column asks for it by name
(``method="energy"``, ``per_column``); built-ins marked ``by_default`` are
also computed for every column's metric table.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Literal

import numpy as np

from driftline.plugins import Registry, register_modules
from driftline.stats.drift._result import DriftResult

if TYPE_CHECKING:
    from driftline.stats.accumulators.vectors import VectorSketch
    from driftline.stats.column_profile import ColumnProfile

ColumnFamily = Literal["numeric", "categorical", "embedding"]
NUMERIC: frozenset[ColumnFamily] = frozenset({"numeric"})
CATEGORICAL: frozenset[ColumnFamily] = frozenset({"categorical"})
BOTH: frozenset[ColumnFamily] = frozenset({"numeric", "categorical"})
#: Methods on vectors (embedding columns): they read ``DriftInputs.*_vectors``.
EMBEDDING: frozenset[ColumnFamily] = frozenset({"embedding"})
FAMILIES: frozenset[ColumnFamily] = frozenset({"numeric", "categorical", "embedding"})


@dataclass
class DriftInputs:
    """What a drift method may read about one column, reference against current.

    ``reference_counts`` / ``current_counts`` are counts over the same bins
    (histogram bins for numeric columns, categories for categorical ones;
    ``bins_computed`` says how exact they are). The samples are the finite
    values of each side's reservoir (numeric columns; ``sample_computed`` is
    "exact" when the reservoir holds every value). ``reference`` and
    ``current`` are the full column profiles (moments, quantiles, ...).
    """

    reference: ColumnProfile
    current: ColumnProfile
    reference_counts: np.ndarray
    current_counts: np.ndarray
    bins_computed: str = "bins"
    alpha: float = 0.05
    bin_labels: list[str] = field(default_factory=list)

    @cached_property
    def reference_sample(self) -> np.ndarray:
        return _finite(self.reference.reservoir.values)

    @cached_property
    def current_sample(self) -> np.ndarray:
        return _finite(self.current.reservoir.values)

    @property
    def reference_vectors(self) -> VectorSketch:
        """The reference's vector sketch (embedding columns; empty otherwise)."""
        return self.reference.vectors

    @property
    def current_vectors(self) -> VectorSketch:
        return self.current.vectors

    @property
    def sample_computed(self) -> str:
        r_all = self.reference.present - self.reference.non_finite
        c_all = self.current.present - self.current.non_finite
        exact = self.reference_sample.size >= r_all and self.current_sample.size >= c_all
        return "exact" if exact else "reservoir"


def on_bins(fn: Callable[..., DriftResult]) -> Callable[[DriftInputs, float], DriftResult]:
    """The ``compute`` of a distance on the shared bins: ``fn(reference_counts,
    current_counts, threshold=..., computed=...)`` (PSI, KL, Jensen-Shannon, Hellinger and
    total variation are such functions)."""

    def compute(inputs: DriftInputs, threshold: float) -> DriftResult:
        return fn(
            inputs.reference_counts,
            inputs.current_counts,
            threshold=threshold,
            computed=inputs.bins_computed,
        )

    return compute


def _finite(values: np.ndarray) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    return v[np.isfinite(v)]


@dataclass(frozen=True)
class DriftMethod:
    """A drift method's declaration.

    ``compute(inputs, threshold)`` returns a :class:`DriftResult` whose
    ``method`` is ``name``; for a test ``threshold`` is the false-alarm level
    (alpha) and the result carries a p-value, for a distance it is the value
    at which the column drifts (``default_threshold`` unless configured).
    """

    name: str
    kinds: frozenset[ColumnFamily]
    is_test: bool
    compute: Callable[[DriftInputs, float], DriftResult]
    default_threshold: float | None = None
    description: str = ""
    #: computed for every column's metric table (built-ins); else only when named
    by_default: bool = False

    def __post_init__(self) -> None:
        from driftline.errors import PluginError

        if not self.name.isidentifier() or self.name == "auto":
            raise PluginError(f"drift method name {self.name!r}: allowed: a Python identifier")
        if not self.kinds or not self.kinds <= FAMILIES:
            raise PluginError(
                f"drift method {self.name!r}: kinds {sorted(self.kinds)}; "
                "allowed: numeric, categorical and/or embedding"
            )
        if not self.is_test and (
            self.default_threshold is None or not math.isfinite(self.default_threshold)
        ):
            raise PluginError(f"drift method {self.name!r}: a distance needs a default_threshold")

    def threshold(self, alpha: float, configured: float | None = None) -> float:
        """The threshold in force: the configured one, else alpha (tests) or the default."""
        if configured is not None:
            return float(configured)
        return alpha if self.is_test else float(self.default_threshold)  # type: ignore[arg-type]

    def applies_to(self, family: ColumnFamily) -> bool:
        return family in self.kinds


#: the built-in modules in the order methods are listed (others follow, by name)
_ORDER = (
    "psi", "jensen_shannon", "kl", "hellinger", "total_variation", "wasserstein", "ks",
    "anderson", "chi2", "shifts", "embedding_mmd", "embedding_classifier",
    "embedding_centroid", "embedding_norm", "embedding_out_of_domain",
    "embedding_projections",
)  # fmt: skip


def _builtins() -> None:
    register_modules(
        DRIFT_METHODS,
        "driftline.stats.drift",
        attrs=("METHODS", "METHOD"),
        order=_ORDER,
        skip=frozenset({"rules"}),
    )


DRIFT_METHODS: Registry[DriftMethod] = Registry(
    "drift method", "driftline.drift_methods", DriftMethod, _builtins
)


def methods_for(family: ColumnFamily) -> tuple[str, ...]:
    """Names of the registered methods that apply to a column family, in listing order."""
    return tuple(m.name for m in DRIFT_METHODS if m.applies_to(family))


def family_of(column: ColumnProfile) -> ColumnFamily:
    """The method family of a column: categorical (categories, booleans), embedding or numeric."""
    from driftline.schema import Kind
    from driftline.stats.column_profile import CATEGORY_KINDS

    if column.kind is Kind.EMBEDDING:
        return "embedding"
    return "categorical" if column.kind in CATEGORY_KINDS else "numeric"


def inputs_for(
    reference: ColumnProfile, current: ColumnProfile, *, alpha: float = 0.05, n_bins: int = 10
) -> DriftInputs:
    """The :class:`DriftInputs` of one column, binned as the default rule bins it."""
    from driftline.stats.drift import _bins

    if family_of(reference) == "categorical":
        bins = _bins.category_bins(reference.categories, current.categories)
        exact = reference.categories.is_exact and current.categories.is_exact
        computed = "exact" if exact else "sketch"
    else:
        bins = _bins.numeric_bins(reference.histogram, current.histogram, n_bins)
        computed = "bins"
    return DriftInputs(
        reference,
        current,
        bins.reference,
        bins.current,
        bins_computed=computed,
        alpha=alpha,
        bin_labels=list(bins.labels),
    )


__all__ = [
    "BOTH",
    "CATEGORICAL",
    "DRIFT_METHODS",
    "EMBEDDING",
    "FAMILIES",
    "NUMERIC",
    "DriftInputs",
    "DriftMethod",
    "family_of",
    "inputs_for",
    "methods_for",
]
