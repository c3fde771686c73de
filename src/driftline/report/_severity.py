"""Order columns by how badly they drifted (drift table, console and HTML)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from driftline.stats.drift.rules import is_test


def severity(drift: Mapping[str, Any]) -> float:
    """How far past its threshold a column is: 1.0 at the threshold, larger is worse.

    Distances (and the default rule) use statistic / threshold; a test used on
    its own uses -log10(p) / -log10(alpha). Columns without a verdict get -1.
    """
    if drift.get("drifted") is None:
        return -1.0
    stat, thr, p = drift.get("statistic"), drift.get("threshold"), drift.get("p_value")
    if is_test(str(drift.get("method"))) and p is not None and thr:
        p_adj = drift.get("details", {}).get("p_value_adjusted", p)
        return -math.log10(max(float(p_adj), 1e-300)) / -math.log10(float(thr))
    if stat is None or not thr:
        return 0.0
    return float(stat) / float(thr)


def ordered_columns(report: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(name, column entry) pairs: drifted first, then by severity, no-verdict columns last."""
    cols = list(report.get("columns", {}).items())
    return sorted(
        cols,
        key=lambda kv: (
            not kv[1]["drift"].get("drifted"),
            -severity(kv[1]["drift"]),
            kv[0],
        ),
    )
