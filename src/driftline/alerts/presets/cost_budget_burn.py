"""The ``cost_budget_burn`` alert preset (docs/alerts.md, "Presets")."""

from driftline.alerts.presets.registry import AlertPreset

PRESET = AlertPreset(
    name="cost_budget_burn",
    description="a model spends faster than its daily budget (cost per day over budget)",
    signal="service",
    rule={
        "metric": "cost_burn_rate",
        "op": ">",
        "threshold": 1.0,
        "for": 3,
        "keep_firing_for": 1,
        "severity": "warning",
        "team": "ops",
        "annotations": {
            "summary": "{{ $labels.model }} spends {{ $value }}x its daily budget",
        },
    },
)
