"""The ``p99_latency`` alert preset (docs/alerts.md, "Presets")."""

from driftline.alerts.presets.registry import AlertPreset

PRESET = AlertPreset(
    name="p99_latency",
    description="the 99th percentile latency of a model is above its budget (seconds)",
    signal="service",
    rule={
        "metric": "latency_p99_seconds",
        "op": ">",
        "threshold": 1.0,
        "for": 3,
        "keep_firing_for": 1,
        "severity": "critical",
        "team": "ops",
        "annotations": {
            "summary": "p99 latency of {{ $labels.model }} is {{ $value }}s (budget "
            "{{ $threshold }}s)",
        },
    },
)
