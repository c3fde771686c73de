"""The ``outlier_share_high`` alert preset (docs/alerts.md, "Presets")."""

from driftline.alerts.presets.registry import AlertPreset

PRESET = AlertPreset(
    name="outlier_share_high",
    description="more requests are outliers against the reference than expected",
    signal="data",
    rule={
        "metric": "outlier_share",
        "op": ">",
        "threshold": 0.05,
        "for": 2,
        "keep_firing_for": 1,
        "severity": "warning",
        "team": "ml",
        "annotations": {
            "summary": "{{ $value }} of {{ $labels.model }}'s requests are outliers "
            "against its reference (threshold {{ $threshold }})",
        },
    },
)
