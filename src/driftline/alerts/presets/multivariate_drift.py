"""The ``multivariate_drift`` alert preset (docs/alerts.md, "Presets")."""

from driftline.alerts.presets.registry import AlertPreset

PRESET = AlertPreset(
    name="multivariate_drift",
    description="the joint distribution of the features changed",
    signal="data",
    rule={
        "metric": "multivariate_drift_detected",
        "op": ">=",
        "threshold": 1,
        "for": 2,
        "keep_firing_for": 1,
        "severity": "warning",
        "team": "ml",
        "annotations": {
            "summary": "the joint distribution of {{ $labels.model }}'s features "
            "changed ({{ $labels.method }})",
        },
    },
)
