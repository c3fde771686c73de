"""The ``stage_p99_latency`` alert preset (docs/alerts.md, "Presets")."""

from driftline.alerts.presets.registry import AlertPreset

PRESET = AlertPreset(
    name="stage_p99_latency",
    description="the 99th percentile latency of one stage of a prediction is above its budget "
    "(seconds; set column to the stage)",
    signal="service",
    rule={
        "metric": "stage_latency_p99_seconds",
        "op": ">",
        "threshold": 0.5,
        "for": 3,
        "keep_firing_for": 1,
        "severity": "warning",
        "team": "ops",
        "annotations": {
            "summary": "stage {{ $labels.column }} of {{ $labels.model }}: p99 {{ $value }}s "
            "(budget {{ $threshold }}s)",
        },
    },
)
