"""The ``seasonal_drift_new`` alert preset (docs/alerts.md, "Presets")."""

from driftline.alerts.presets.registry import AlertPreset

PRESET = AlertPreset(
    name="seasonal_drift_new",
    description="a window differs from the same hours of past periods (not the usual cycle)",
    signal="data",
    rule={
        "metric": "seasonal_drift_detected",
        "op": ">=",
        "threshold": 1,
        "for": 2,
        "keep_firing_for": 1,
        "severity": "warning",
        "team": "ml",
        "annotations": {
            "summary": "{{ $labels.model }} differs from the same hours of past periods "
            "(a new change, not the usual cycle)",
        },
    },
)
