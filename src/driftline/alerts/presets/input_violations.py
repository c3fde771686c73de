"""The ``input_violations`` alert preset (docs/alerts.md, "Presets")."""

from driftline.alerts.presets.registry import AlertPreset

PRESET = AlertPreset(
    name="input_violations",
    description="a share of the inputs checked with Monitor.check() break the reference's contract",
    signal="data",
    rule={
        "metric": "input_violation_ratio",
        "op": ">",
        "threshold": 0.01,
        "for": 2,
        "keep_firing_for": 1,
        "severity": "warning",
        "team": "data",
        "annotations": {
            "summary": "{{ $value }} of {{ $labels.model }}'s checked inputs break its contract "
            "(threshold {{ $threshold }})",
        },
    },
)
