"""Prediction-quality metrics as mergeable accumulators (issue 4).

- :class:`ClassificationMetrics`: binary and multiclass, labels and scores.
- :class:`RegressionMetrics`: MAE, RMSE, MAPE, R², bias, error quantiles.

Both follow the accumulator shape: ``update(...) -> self``, ``merge(other)``
(a new object), ``to_bytes()`` / ``from_bytes()``, and ``results()`` returning a
dict whose metric names match scikit-learn's.
"""

from __future__ import annotations

from typing import Any

from driftline.stats.performance.classification import (
    CLASSIFICATION_METRICS,
    ClassificationMetrics,
)
from driftline.stats.performance.regression import (
    ABS_ERROR_QUANTILES,
    ERROR_QUANTILES,
    REGRESSION_METRICS,
    RegressionMetrics,
)

__all__ = [
    "ABS_ERROR_QUANTILES",
    "CLASSIFICATION_METRICS",
    "ERROR_QUANTILES",
    "REGRESSION_METRICS",
    "ClassificationMetrics",
    "RegressionMetrics",
    "performance_results",
]


def performance_results(acc: ClassificationMetrics | RegressionMetrics) -> dict[str, Any]:
    """The result dict of a performance accumulator (same as ``acc.results()``).

    Always has ``task``, ``n``, ``computed`` and ``excluded``, plus the names in
    :data:`CLASSIFICATION_METRICS` or :data:`REGRESSION_METRICS` (``None`` when
    undefined, e.g. ROC AUC with one class only).
    """
    return acc.results()
