"""The ``judge_failing`` alert preset (docs/alerts.md, "Presets"; docs/llm.md)."""

from driftline.alerts.presets.registry import AlertPreset

PRESET = AlertPreset(
    name="judge_failing",
    description="an LLM judge failed, timed out or answered garbage",
    signal="model",
    rule={
        "metric": "judge.failures",
        "op": ">",
        "threshold": 0,
        "for": 2,
        "keep_firing_for": 1,
        "severity": "warning",
        "team": "ml",
        "annotations": {
            "summary": "judge {{ $labels.column }} of {{ $labels.model }} failed "
            "{{ $value }} times in the window: its scores stop",
        },
    },
)
