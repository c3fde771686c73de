"""The ``confidence_collapse`` alert preset (docs/alerts.md, "Presets")."""

from driftline.alerts.presets.registry import AlertPreset

PRESET = AlertPreset(
    name="confidence_collapse",
    description="the mean confidence of the predictions fell",
    signal="model",
    rule={
        "metric": "confidence_mean",
        "op": "<",
        "threshold": 0.6,
        "for": 3,
        "keep_firing_for": 1,
        "severity": "warning",
        "team": "ml",
        "annotations": {
            "summary": "mean confidence of {{ $labels.model }} fell to {{ $value }} "
            "(threshold {{ $threshold }})",
        },
    },
)
