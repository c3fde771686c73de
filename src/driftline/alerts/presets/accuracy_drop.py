"""The ``accuracy_drop`` alert preset (docs/alerts.md, "Presets")."""

from driftline.alerts.presets.registry import AlertPreset

PRESET = AlertPreset(
    name="accuracy_drop",
    description="accuracy fell relative to its last windows",
    signal="model",
    rule={
        "metric": "accuracy",
        "op": "<",
        "threshold": -0.1,
        "baseline_windows": 12,
        "for": 2,
        "keep_firing_for": 1,
        "severity": "warning",
        "team": "ml",
        "annotations": {
            "summary": "accuracy of {{ $labels.model }} fell {{ $value }} relative "
            "to its baseline (threshold {{ $threshold }})",
        },
    },
)
