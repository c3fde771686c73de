"""The ``error_rate`` alert preset (docs/alerts.md, "Presets")."""

from driftline.alerts.presets.registry import AlertPreset

PRESET = AlertPreset(
    name="error_rate",
    description="a model fails more of its predictions than its budget",
    signal="service",
    rule={
        "metric": "error_rate",
        "op": ">",
        "threshold": 0.005,
        "for": 3,
        "keep_firing_for": 1,
        "severity": "critical",
        "team": "ops",
        "annotations": {
            "summary": "{{ $labels.model }} fails {{ $value }} of its predictions "
            "(budget {{ $threshold }})",
        },
    },
)
