"""The ``rephrase_rate_high`` alert preset (docs/alerts.md, "Presets"; docs/llm.md)."""

from driftline.alerts.presets.registry import AlertPreset

PRESET = AlertPreset(
    name="rephrase_rate_high",
    description="users rephrase or repeat their questions more often than the threshold",
    signal="model",
    rule={
        "metric": "llm.rephrase_ratio",
        "op": ">",
        "threshold": 0.15,
        "for": 2,
        "keep_firing_for": 1,
        "min_samples": 20,
        "severity": "warning",
        "team": "ml",
        "annotations": {
            "summary": "{{ $value | humanizePercentage }} of {{ $labels.model }} "
            "{{ $labels.version }}'s requests rephrase an earlier question "
            "(threshold {{ $threshold }})",
        },
    },
)
