"""The ``negative_feedback_high`` alert preset (docs/alerts.md, "Presets")."""

from driftline.alerts.presets.registry import AlertPreset

PRESET = AlertPreset(
    name="negative_feedback_high",
    description="more than 30% of a feedback kind's records are 'down'",
    signal="model",
    rule={
        "metric": "feedback.share",
        "op": ">",
        "threshold": 0.3,
        "match_labels": {"value": "down"},
        "for": 3,
        "keep_firing_for": 1,
        "severity": "warning",
        "team": "ml",
        "annotations": {
            "summary": "{{ $value | humanizePercentage }} of {{ $labels.model }}'s "
            "{{ $labels.column }} feedback is 'down' (threshold {{ $threshold }})",
        },
    },
)
