"""The ``drift_shift`` alert preset (docs/alerts.md, "Presets")."""

from driftline.alerts.presets.registry import AlertPreset

PRESET = AlertPreset(
    name="drift_shift",
    description="the dataset drift has lasted shift_windows windows: a shift, not a spike",
    signal="data",
    rule={
        "metric": "drift_shift",
        "op": ">=",
        "threshold": 1,
        "match_labels": {"signal": "dataset_drift_detected"},
        "for": 1,
        "severity": "warning",
        "team": "ml",
        "annotations": {
            "summary": "the drift of {{ $labels.model }} persists: a shift, not a spike "
            "({{ $labels.signal }})",
        },
    },
)
