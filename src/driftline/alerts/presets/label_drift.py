"""The ``label_drift`` alert preset (docs/alerts.md, "Presets")."""

from driftline.alerts.presets.registry import AlertPreset

PRESET = AlertPreset(
    name="label_drift",
    description="the window's labels drifted from the reference's target (label shift)",
    signal="model",
    rule={
        "metric": "label_drift_detected",
        "op": ">=",
        "threshold": 1,
        "for": 2,
        "keep_firing_for": 1,
        "severity": "warning",
        "team": "ml",
        "annotations": {
            "summary": "the labels of {{ $labels.model }} {{ $labels.version }} drifted "
            "from the reference's {{ $labels.column }}",
        },
    },
)
