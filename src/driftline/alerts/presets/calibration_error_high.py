"""The ``calibration_error_high`` alert preset (docs/alerts.md, "Presets")."""

from driftline.alerts.presets.registry import AlertPreset

PRESET = AlertPreset(
    name="calibration_error_high",
    description="the scores' expected calibration error is above 0.1",
    signal="model",
    rule={
        "metric": "performance.ece",
        "op": ">",
        "threshold": 0.1,
        "for": 3,
        "keep_firing_for": 1,
        "severity": "warning",
        "team": "ml",
        "annotations": {
            "summary": "{{ $labels.model }}'s scores are miscalibrated: expected "
            "calibration error {{ $value }} (threshold {{ $threshold }})",
        },
    },
)
