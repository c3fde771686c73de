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


def _key(name: str, col: Mapping[str, Any]) -> tuple[bool, float, str]:
    return (not col["drift"].get("drifted"), -severity(col["drift"]), name)


def ordered_columns(report: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(name, column entry) pairs: drifted first, then by severity, no-verdict columns last.

    A text or image column is ranked by its most severe member (its own values or a
    descriptor) and its descriptors follow it, in the same order (the verdict counts it
    once: docs/drift.md)."""
    cols = report.get("columns", {})
    children: dict[str, list[str]] = {}
    for name, col in cols.items():
        if col.get("descriptor_of") in cols:
            children.setdefault(col["descriptor_of"], []).append(name)
    out: list[tuple[str, dict[str, Any]]] = []
    tops = [(n, c) for n, c in cols.items() if c.get("descriptor_of") not in cols]
    for name, col in sorted(
        tops, key=lambda kv: min(_key(n, cols[n]) for n in [kv[0], *children.get(kv[0], [])])
    ):
        out.append((name, col))
        kids = sorted(children.get(name, []), key=lambda n: _key(n, cols[n]))
        out.extend((n, cols[n]) for n in kids)
    return out


def drifted_names(dataset: Mapping[str, Any]) -> list[str]:
    """The drifted columns for people: a text or image column with its drifted descriptors,
    ``answer (words, non_letter_share)``."""
    by = dataset.get("drifted_descriptors") or {}
    out = []
    for name in dataset.get("drifted_columns", []):
        kids = [d[len(name) + 1 :] if d.startswith(f"{name}.") else d for d in by.get(name, [])]
        out.append(f"{name} ({', '.join(kids)})" if kids else name)
    return out
