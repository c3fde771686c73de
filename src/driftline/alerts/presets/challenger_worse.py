"""The ``challenger_worse`` alert preset (docs/alerts.md, "Presets")."""

from driftline.alerts.presets.registry import AlertPreset

PRESET = AlertPreset(
    name="challenger_worse",
    description="a challenger is significantly worse than its champion",
    signal="version",
    rule={
        "metric": "versus.verdict",
        "op": "<=",
        "threshold": -1,
        "for": 1,
        "severity": "warning",
        "team": "ml",
        "annotations": {
            "summary": "version {{ $labels.version }} of {{ $labels.model }} is "
            "significantly worse than champion {{ $labels.column }} on a guarded metric",
        },
    },
)
