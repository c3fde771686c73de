"""An alert preset for the energy drift method: one declaration, one entry point."""

from driftline.alerts.presets import AlertPreset

PRESET = AlertPreset(
    name="energy_drift",
    description="a numeric column drifted by the energy distance (method energy)",
    signal="data",
    rule={
        "metric": "drift_score",
        "match_labels": {"method": "energy"},
        "op": ">=",
        "threshold": 0.25,
        "for": 2,
        "keep_firing_for": 1,
        "team": "ml",
        "annotations": {
            "summary": "{{ $labels.column }} of {{ $labels.model }} drifted: energy distance "
            "{{ $value }} (threshold {{ $threshold }})",
        },
    },
)
