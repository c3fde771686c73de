"""The ``abuse_burst`` alert preset (docs/alerts.md, "Presets")."""

from driftline.alerts.presets.registry import AlertPreset

PRESET = AlertPreset(
    name="abuse_burst",
    description="one client sends a burst of near-identical requests",
    signal="data",
    rule={
        "metric": "abuse.burst",
        "op": ">=",
        "threshold": 1,
        "for": 1,
        "severity": "warning",
        "team": "ml",
        "annotations": {
            "summary": "a burst of near-identical requests from one client of "
            "{{ $labels.model }} (details on the window's abuse.burst point)",
        },
    },
)
