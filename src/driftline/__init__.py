"""driftline: monitoring for machine-learning models in production.

The public names below are imported lazily, on first use: ``import
driftline`` (or ``import driftline.sdk`` inside a model service) stays cheap
and never imports scipy, the server, database drivers or Spark until a
feature needs them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftline._utils.lazy import lazy_package as _lazy_package
from driftline.errors import (
    ConfigError,
    DriftlineError,
    InputError,
    ProfileFormatError,
    SchemaError,
)
from driftline.errors import (
    missing_extra as _missing_extra,
)

if TYPE_CHECKING:
    from driftline.registration import register
    from driftline.report import Report, compare
    from driftline.schema import ColumnSpec, Kind, Role, Schema
    from driftline.sdk import Monitor, Prediction, PrivacyPolicy, Router
    from driftline.stats.drift import DriftResult
    from driftline.stats.estimation import CBPE, DLE
    from driftline.stats.labels import LabelJoinStats, join_labels
    from driftline.stats.performance import ClassificationMetrics, RegressionMetrics
    from driftline.stats.performance.profile_part import PerformanceSpec
    from driftline.stats.profile import ColumnProfile, DatasetProfile
    from driftline.stats.quality import QualityResult, QualityThresholds
    from driftline.stats.segments import metrics_by_segment, worst_segments

__version__ = "0.1.0"

#: public name -> module that defines it (imported on first attribute access)
_LAZY: dict[str, str] = {
    "CBPE": "driftline.stats.estimation",
    "DLE": "driftline.stats.estimation",
    "ClassificationMetrics": "driftline.stats.performance",
    "ColumnProfile": "driftline.stats.profile",
    "ColumnSpec": "driftline.schema",
    "DatasetProfile": "driftline.stats.profile",
    "DriftResult": "driftline.stats.drift",
    "Kind": "driftline.schema",
    "LabelJoinStats": "driftline.stats.labels",
    "Monitor": "driftline.sdk",
    "PerformanceSpec": "driftline.stats.performance.profile_part",
    "Prediction": "driftline.sdk",
    "PrivacyPolicy": "driftline.sdk",
    "QualityResult": "driftline.stats.quality",
    "QualityThresholds": "driftline.stats.quality",
    "RegressionMetrics": "driftline.stats.performance",
    "Report": "driftline.report.document",
    "Role": "driftline.schema",
    "Router": "driftline.sdk",
    "Schema": "driftline.schema",
    "compare": "driftline.report.compare",
    "join_labels": "driftline.stats.labels",
    "register": "driftline.registration",
    "metrics_by_segment": "driftline.stats.segments",
    "worst_segments": "driftline.stats.segments",
}


_lazy_package(__name__, _LAZY)


def profile(
    data: Any,
    schema: Schema | dict[str, Any] | str | Path | None = None,
    *,
    reservoir_size: int = 10_000,
    seed: int | None = None,
    batch_rows: int | None = None,
    performance: PerformanceSpec | str | None = "auto",
    task: str | None = None,
    estimation_size: int = 100_000,
) -> DatasetProfile:
    """Profile ``data`` in one pass, in bounded memory.

    ``data``: a pandas or polars DataFrame, a pyarrow Table, a dict of arrays,
    or a path to a Parquet, CSV or JSON-lines file (read in batches of
    ``batch_rows``). ``schema`` overrides the inferred kinds and roles: a
    :class:`Schema`, a dict ``{column: {"kind": ..., "role": ...}}`` or a YAML
    file path. ``reservoir_size`` bounds the sample kept per column (tests that
    need raw values are exact up to it). Save with ``.save(path)``, load with
    ``DatasetProfile.load(path)``. ``performance``: with target and prediction
    (or score) roles the profile keeps the realized prediction quality
    ("auto"); pass a :class:`PerformanceSpec` to set the task or classes, or
    None to keep none (docs/performance.md). ``task`` ("classification",
    "binary", "multiclass", "regression") overrides the task the target and
    score columns imply (score columns, or a 0/1 target, mean classification).
    ``seed`` seeds the samples; the default (None) is a fixed seed, so the same
    data gives the same profile. ``estimation_size``: rows kept of
    the columns CBPE/DLE are fitted on when this profile is a reference
    (target, prediction, scores; features for regression): every row of a
    reference up to this size.
    """
    try:
        from driftline.stats.profile import build_profile
    except ImportError as exc:
        missing = _missing_extra(exc)
        if missing is None:
            raise
        raise missing from None

    return build_profile(
        data,
        schema,
        reservoir_size=reservoir_size,
        seed=seed,
        batch_rows=batch_rows,
        performance=performance,
        task=task,
        estimation_size=estimation_size,
    )


__all__ = [
    "CBPE",
    "DLE",
    "ClassificationMetrics",
    "ColumnProfile",
    "ColumnSpec",
    "ConfigError",
    "DatasetProfile",
    "DriftResult",
    "DriftlineError",
    "InputError",
    "Kind",
    "LabelJoinStats",
    "Monitor",
    "PerformanceSpec",
    "Prediction",
    "PrivacyPolicy",
    "ProfileFormatError",
    "QualityResult",
    "QualityThresholds",
    "RegressionMetrics",
    "Report",
    "Role",
    "Router",
    "Schema",
    "SchemaError",
    "__version__",
    "compare",
    "join_labels",
    "metrics_by_segment",
    "profile",
    "register",
    "worst_segments",
]
