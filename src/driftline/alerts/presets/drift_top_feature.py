"""The ``drift_top_feature`` alert preset (docs/alerts.md, "Presets")."""

from driftline.alerts.presets.registry import AlertPreset

PRESET = AlertPreset(
    name="drift_top_feature",
    description="a feature drifted (set column to your top features)",
    signal="data",
    rule={
        "metric": "drift_detected",
        "op": ">=",
        "threshold": 1,
        "for": 3,
        "keep_firing_for": 2,
        "severity": "warning",
        "team": "ml",
        "annotations": {
            "summary": "feature {{ $labels.column }} of {{ $labels.model }} drifted",
        },
    },
)
