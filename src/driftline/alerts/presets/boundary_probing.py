"""The ``boundary_probing`` alert preset (docs/alerts.md, "Presets")."""

from driftline.alerts.presets.registry import AlertPreset

PRESET = AlertPreset(
    name="boundary_probing",
    description="many inputs sit at the edges of the training range (probing)",
    signal="data",
    rule={
        "metric": "abuse.boundary_probing",
        "op": ">=",
        "threshold": 1,
        "for": 1,
        "severity": "warning",
        "team": "ml",
        "annotations": {
            "summary": "{{ $labels.column }} of {{ $labels.model }}: many values at the edges "
            "of the training range",
        },
    },
)
