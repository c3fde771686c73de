"""The ``missing_spike`` alert preset (docs/alerts.md, "Presets")."""

from driftline.alerts.presets.registry import AlertPreset

PRESET = AlertPreset(
    name="missing_spike",
    description="a column has more missing values than allowed",
    signal="data",
    rule={
        "metric": "missing_ratio",
        "op": ">",
        "threshold": 0.05,
        "for": 2,
        "keep_firing_for": 1,
        "severity": "warning",
        "team": "data",
        "annotations": {
            "summary": "{{ $value }} of {{ $labels.column }} is missing in {{ "
            "$labels.model }} (threshold {{ $threshold }})",
        },
    },
)
