"""The ``answer_length_drop`` alert preset (docs/alerts.md, "Presets"; docs/llm.md)."""

from driftline.alerts.presets.registry import AlertPreset

PRESET = AlertPreset(
    name="answer_length_drop",
    description="LLM answers got shorter relative to the last windows",
    signal="model",
    rule={
        "metric": "llm.answer_chars",
        "op": "<",
        "threshold": -0.3,
        "baseline_windows": 12,
        "for": 2,
        "keep_firing_for": 1,
        "min_samples": 20,
        "severity": "warning",
        "team": "ml",
        "annotations": {
            "summary": "the answers of {{ $labels.model }} {{ $labels.version }} changed "
            "length by {{ $value | humanizePercentage }} against their last windows "
            "(threshold {{ $threshold }})",
        },
    },
)
