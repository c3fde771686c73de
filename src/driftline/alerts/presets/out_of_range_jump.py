"""The ``out_of_range_jump`` alert preset (docs/alerts.md, "Presets")."""

from driftline.alerts.presets.registry import AlertPreset

PRESET = AlertPreset(
    name="out_of_range_jump",
    description="the share of out-of-range values or unseen categories jumped",
    signal="data",
    rule={
        "metric": "abuse.range_jump",
        "op": ">=",
        "threshold": 1,
        "for": 1,
        "severity": "warning",
        "team": "data",
        "annotations": {
            "summary": "{{ $labels.column }} of {{ $labels.model }}: a sudden jump of "
            "out-of-range values or unseen categories",
        },
    },
)
