"""The ``label_coverage_low`` alert preset (docs/alerts.md, "Presets")."""

from driftline.alerts.presets.registry import AlertPreset

PRESET = AlertPreset(
    name="label_coverage_low",
    description="few predictions get labels",
    signal="model",
    rule={
        "metric": "label_coverage",
        "op": "<",
        "threshold": 0.1,
        "for": 3,
        "severity": "info",
        "team": "data",
        "annotations": {
            "summary": "only {{ $value }} of {{ $labels.model }}'s predictions get labels",
        },
    },
)
