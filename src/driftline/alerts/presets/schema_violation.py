"""The ``schema_violation`` alert preset (docs/alerts.md, "Presets")."""

from driftline.alerts.presets.registry import AlertPreset

PRESET = AlertPreset(
    name="schema_violation",
    description="a column is missing, unexpected or changed type",
    signal="data",
    rule={
        "metric": "schema_violations",
        "op": ">",
        "threshold": 0,
        "for": 1,
        "severity": "critical",
        "team": "data",
        "annotations": {
            "summary": "column {{ $labels.column }} of {{ $labels.model }} breaks the schema",
        },
    },
)
