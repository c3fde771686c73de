"""The ``job_dead_man`` alert preset (docs/alerts.md, "Presets")."""

from driftline.alerts.presets.registry import AlertPreset

PRESET = AlertPreset(
    name="job_dead_man",
    description="a job has not succeeded within 1.5 of its expected intervals (dead-man)",
    signal="job",
    rule={
        "metric": "job_since_success_intervals",
        "op": ">",
        "threshold": 1.5,
        "for": 1,
        "severity": "critical",
        "team": "data",
        "annotations": {
            "summary": "job {{ $labels.job }} has not succeeded for {{ $value }} of its "
            "expected intervals",
        },
    },
)
