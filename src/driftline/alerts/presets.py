"""Built-in rules a user switches on by name (``alerts: presets: [...]``).

Each preset is a :class:`~driftline.alerts.rules.RuleConfig`; the override in
the configuration replaces only the fields it sets. Teams follow the routing
idea of DESIGN.md: data-quality alerts to data owners (``team=data``), model
alerts to ML owners (``team=ml``), system alerts to operations (``team=ops``).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from driftline.alerts.rules import PresetOverride, RuleConfig

_RUNBOOK = "https://driftline.dev/docs/alerts#{name}"


def _preset(**kw: Any) -> RuleConfig:
    kw.setdefault("annotations", {})
    kw["annotations"].setdefault("runbook_url", _RUNBOOK.format(name=kw["name"]))
    return RuleConfig.model_validate(kw)


PRESETS: Mapping[str, RuleConfig] = MappingProxyType(
    {
        "p99_latency": _preset(
            name="p99_latency", metric="latency_p99_seconds", op=">", threshold=1.0,
            **{"for": 3}, keep_firing_for=1, severity="critical", team="ops",
            annotations={
                "summary": "p99 latency of {{ $labels.model }} is {{ $value }}s "
                "(budget {{ $threshold }}s)",
            },
        ),
        "error_rate": _preset(
            name="error_rate", metric="error_rate", op=">", threshold=0.005,
            **{"for": 3}, keep_firing_for=1, severity="critical", team="ops",
            annotations={
                "summary": "{{ $labels.model }} fails {{ $value }} of its predictions "
                "(budget {{ $threshold }})",
            },
        ),
        "drift_top_feature": _preset(
            name="drift_top_feature", metric="drift_detected", op=">=", threshold=1,
            **{"for": 3}, keep_firing_for=2, severity="warning", team="ml",
            annotations={
                "summary": "feature {{ $labels.column }} of {{ $labels.model }} drifted",
            },
        ),
        "multivariate_drift": _preset(
            name="multivariate_drift", metric="multivariate_drift_detected", op=">=",
            threshold=1, **{"for": 2}, keep_firing_for=1, severity="warning", team="ml",
            annotations={
                "summary": "the joint distribution of {{ $labels.model }}'s features changed "
                "({{ $labels.method }})",
            },
        ),
        "outlier_share_high": _preset(
            name="outlier_share_high", metric="outlier_share", op=">", threshold=0.05,
            **{"for": 2}, keep_firing_for=1, severity="warning", team="ml",
            annotations={
                "summary": "{{ $value }} of {{ $labels.model }}'s requests are outliers "
                "against its reference (threshold {{ $threshold }})",
            },
        ),
        "confidence_collapse": _preset(
            name="confidence_collapse", metric="confidence_mean", op="<", threshold=0.6,
            **{"for": 3}, keep_firing_for=1, severity="warning", team="ml",
            annotations={
                "summary": "mean confidence of {{ $labels.model }} fell to {{ $value }} "
                "(threshold {{ $threshold }})",
            },
        ),
        "missing_spike": _preset(
            name="missing_spike", metric="missing_ratio", op=">", threshold=0.05,
            **{"for": 2}, keep_firing_for=1, severity="warning", team="data",
            annotations={
                "summary": "{{ $value }} of {{ $labels.column }} is missing in "
                "{{ $labels.model }} (threshold {{ $threshold }})",
            },
        ),
        "schema_violation": _preset(
            name="schema_violation", metric="schema_violations", op=">", threshold=0,
            **{"for": 1}, severity="critical", team="data",
            annotations={
                "summary": "column {{ $labels.column }} of {{ $labels.model }} breaks the schema",
            },
        ),
        "job_failed_or_late": _preset(
            name="job_failed_or_late", metric="job_status", op=">=", threshold=1,
            **{"for": 1}, severity="warning", team="data",
            annotations={"summary": "job {{ $labels.job }} failed or is late"},
        ),
        "accuracy_drop": _preset(
            name="accuracy_drop", metric="accuracy", op="<", threshold=-0.1,
            baseline_windows=12, **{"for": 2}, keep_firing_for=1, severity="warning",
            team="ml",
            annotations={
                "summary": "accuracy of {{ $labels.model }} fell {{ $value }} relative to "
                "its baseline (threshold {{ $threshold }})",
            },
        ),
        "label_coverage_low": _preset(
            name="label_coverage_low", metric="label_coverage", op="<", threshold=0.1,
            **{"for": 3}, severity="info", team="data",
            annotations={
                "summary": "only {{ $value }} of {{ $labels.model }}'s predictions get labels",
            },
        ),
        "runtime_major_mismatch": _preset(
            name="runtime_major_mismatch", metric="environment.major_differences", op=">",
            threshold=0, **{"for": 1}, severity="warning", team="ml",
            annotations={
                "summary": "{{ $labels.model }} {{ $labels.version }} serves with {{ $value }} "
                "package(s) a major version away from its training environment",
            },
        ),
        "challenger_worse": _preset(
            name="challenger_worse", metric="versus.verdict", op="<=", threshold=-1,
            **{"for": 1}, severity="warning", team="ml",
            annotations={
                "summary": "version {{ $labels.version }} of {{ $labels.model }} is significantly "
                "worse than champion {{ $labels.column }} on a guarded metric",
            },
        ),
    }
)  # fmt: skip


def preset_rule(name: str, override: PresetOverride | None) -> RuleConfig:
    """The preset ``name`` with the fields set in ``override`` replaced."""
    base = PRESETS[name]
    if override is None:
        return base
    changes = override.model_dump(exclude_unset=True, by_alias=False)
    if "annotations" in changes:
        changes["annotations"] = {**base.annotations, **changes["annotations"]}
    if "labels" in changes:
        changes["labels"] = {**base.labels, **changes["labels"]}
    return base.model_copy(update=changes)
