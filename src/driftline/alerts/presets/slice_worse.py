"""The ``slice_worse`` alert preset (docs/alerts.md, "Presets").

``slices.significant`` counts the slices of a window's labelled predictions that
are significantly worse than the rest (Benjamini-Hochberg across every slice
tested at 5 %, windows/slices.py): when no slice differs, a window shows one with
a chance of at most 5 %, so two windows in a row (``for: 2``) is a false alarm in
well under 1 % of windows (tests/alerts/test_slice_worse.py measures it).
"""

from driftline.alerts.presets.registry import AlertPreset

PRESET = AlertPreset(
    name="slice_worse",
    description="a slice of the labelled predictions is significantly worse than the rest "
    "(FDR-controlled), two windows in a row",
    signal="model",
    rule={
        "metric": "slices.significant",
        "op": ">=",
        "threshold": 1,
        "for": 2,
        "keep_firing_for": 1,
        "severity": "warning",
        "team": "ml",
        "annotations": {
            "summary": "{{ $value }} slice(s) of {{ $labels.model }} {{ $labels.version }} "
            "significantly worse than the rest (worst slices on the model page)",
        },
    },
)
