"""The one result shape every drift method returns."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

Computed = Literal["exact", "bins", "reservoir", "sketch", "insufficient"]


@dataclass(frozen=True)
class DriftResult:
    """Outcome of one drift method on one column.

    ``statistic`` is the method's value (a distance, divergence or test
    statistic); ``p_value`` is set only for hypothesis tests. ``drifted`` is
    ``None`` when there was too little data for a verdict. ``computed`` says how
    the value was obtained: ``"exact"`` (all values), ``"bins"`` (exact on the
    histogram bins), ``"reservoir"`` (on a uniform sample of ``sample_size``
    values per side), ``"sketch"`` (from a quantile sketch) or
    ``"insufficient"``.
    """

    method: str
    statistic: float
    p_value: float | None
    threshold: float
    drifted: bool | None
    n_reference: int
    n_current: int
    computed: str
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def is_test(self) -> bool:
        """True for hypothesis tests (the verdict compares a p-value with the threshold)."""
        return self.p_value is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "statistic": _finite_or_none(self.statistic),
            "p_value": _finite_or_none(self.p_value),
            "threshold": self.threshold,
            "drifted": self.drifted,
            "n_reference": self.n_reference,
            "n_current": self.n_current,
            "computed": self.computed,
            "details": self.details,
        }


def _finite_or_none(value: float | None) -> float | None:
    if value is None:
        return None
    v = float(value)
    return v if math.isfinite(v) else None
