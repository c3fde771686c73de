"""The ``roc_auc_drop`` alert preset (docs/alerts.md, "Presets")."""

from driftline.alerts.presets.registry import AlertPreset

PRESET = AlertPreset(
    name="roc_auc_drop",
    description="ROC AUC from labels and scores fell 5% below its recent windows",
    signal="model",
    rule={
        "metric": "performance.roc_auc",
        "op": "<",
        "threshold": -0.05,
        "baseline_windows": 12,
        "for": 2,
        "keep_firing_for": 1,
        "severity": "warning",
        "team": "ml",
        "annotations": {
            "summary": "ROC AUC of {{ $labels.model }} fell {{ $value | humanizePercentage }} "
            "relative to its baseline (labels, scores)",
        },
    },
)
