"""The ``job_data_stale`` alert preset (docs/alerts.md, "Presets")."""

from driftline.alerts.presets.registry import AlertPreset

PRESET = AlertPreset(
    name="job_data_stale",
    description="the newest input a job reported reading is over a day old",
    signal="job",
    rule={
        "metric": "job_freshness_seconds",
        "op": ">",
        "threshold": 86400,
        "for": 1,
        "severity": "warning",
        "team": "data",
        "annotations": {
            "summary": "the newest input job {{ $labels.job }} read is "
            "{{ $value | humanizeDuration }} old (threshold {{ $threshold | humanizeDuration }})",
        },
    },
)
