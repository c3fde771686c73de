"""Data-quality checks computed from a reference and a current profile.

Each module here declares its checks (:class:`QualityCheck`, in
:mod:`.registry`); :data:`CHECKS` lists them with the installed plug-ins'
(``driftline.checks`` entry points), and :func:`dataset_checks` /
:func:`column_checks` run the enabled ones. Each returns a
:class:`QualityResult` with the measured value, the threshold it was held to
and a status (ok, warn, fail). Thresholds live in :class:`QualityThresholds`;
docs/quality.md lists every built-in check.
"""

from __future__ import annotations

from driftline.stats.quality.registry import (
    BOTH,
    CATEGORICAL,
    CHECKS,
    NUMERIC,
    QualityCheck,
    QualityInputs,
    QualityResult,
    QualityThresholds,
    column_checks,
    dataset_checks,
    grade,
    share_checks,
)

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
    "grade",
    "share_checks",
]
