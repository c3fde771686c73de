"""The ``runtime_major_mismatch`` alert preset (docs/alerts.md, "Presets")."""

from driftline.alerts.presets.registry import AlertPreset

PRESET = AlertPreset(
    name="runtime_major_mismatch",
    description="the serving environment is a major version away from training",
    signal="version",
    rule={
        "metric": "environment.major_differences",
        "op": ">",
        "threshold": 0,
        "for": 1,
        "severity": "warning",
        "team": "ml",
        "annotations": {
            "summary": "{{ $labels.model }} {{ $labels.version }} serves with {{ "
            "$value }} package(s) a major version away from its training environment",
        },
    },
)
