"""The ``judge_skipping`` alert preset (docs/alerts.md, "Presets"; docs/llm.md)."""

from driftline.alerts.presets.registry import AlertPreset

PRESET = AlertPreset(
    name="judge_skipping",
    description="an LLM judge skipped sampled requests (budget spent, queue full, hung)",
    signal="model",
    rule={
        "metric": "judge.skipped",
        "op": ">",
        "threshold": 0,
        "for": 1,
        "keep_firing_for": 1,
        "severity": "info",
        "team": "ml",
        "annotations": {
            "summary": "judge {{ $labels.column }} of {{ $labels.model }} skipped "
            "{{ $value }} sampled requests (budget or capacity)",
        },
    },
)
