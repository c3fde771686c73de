"""The ``memory_growth`` alert preset (docs/alerts.md, "Presets")."""

from driftline.alerts.presets.registry import AlertPreset

PRESET = AlertPreset(
    name="memory_growth",
    description="the resident memory of a model's processes keeps growing (bytes per hour)",
    signal="service",
    rule={
        "metric": "resource_rss_growth_bytes_per_hour",
        "op": ">",
        "threshold": 100 * 2**20,
        "for": 3,
        "keep_firing_for": 1,
        "severity": "warning",
        "team": "ops",
        "annotations": {
            "summary": "memory of {{ $labels.model }} grows {{ $value }} bytes an hour "
            "(threshold {{ $threshold }})",
        },
    },
)
