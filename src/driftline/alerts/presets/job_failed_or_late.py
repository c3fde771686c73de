"""The ``job_failed_or_late`` alert preset (docs/alerts.md, "Presets")."""

from driftline.alerts.presets.registry import AlertPreset

PRESET = AlertPreset(
    name="job_failed_or_late",
    description="a batch job run failed or is late",
    signal="job",
    rule={
        "metric": "job_status",
        "op": ">=",
        "threshold": 1,
        "for": 1,
        "severity": "warning",
        "team": "data",
        "annotations": {"summary": "job {{ $labels.job }} failed or is late"},
    },
)
