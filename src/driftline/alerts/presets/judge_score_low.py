"""The ``judge_score_low`` alert preset (docs/alerts.md, "Presets"; docs/llm.md)."""

from driftline.alerts.presets.registry import AlertPreset

PRESET = AlertPreset(
    name="judge_score_low",
    description="the mean score of an LLM judge (any criterion) fell below the threshold",
    signal="model",
    rule={
        "metric": "judge.score",
        "op": "<",
        "threshold": 0.6,
        "for": 2,
        "keep_firing_for": 1,
        "min_samples": 5,
        "severity": "warning",
        "team": "ml",
        "annotations": {
            "summary": "judge {{ $labels.column }} scores {{ $labels.model }} "
            "{{ $labels.version }} at {{ $value }} (threshold {{ $threshold }})",
        },
    },
)
