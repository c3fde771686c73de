"""The ``stream_consumer_lag_high`` alert preset (docs/alerts.md, "Presets")."""

from driftline.alerts.presets.registry import AlertPreset

PRESET = AlertPreset(
    name="stream_consumer_lag_high",
    description="the collector's stream consumer is far behind its broker (messages not read)",
    signal="ingest",
    rule={
        "metric": "stream_consumer_lag",
        "op": ">",
        "threshold": 10_000,
        "for": 2,
        "severity": "warning",
        "team": "ops",
        "annotations": {
            "summary": "stream consumer {{ $labels.consumer }} is {{ $value }} messages behind "
            "the broker",
        },
    },
)
