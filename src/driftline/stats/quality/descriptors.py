"""One range check per text or image column over all its descriptors (docs/quality.md).

A text column's descriptors (words, non-letter share, empty, script shares, PII
hits; an image's width, brightness, blur, ...) are numeric child columns for
drift, but checking each one's range again repeats the same finding a dozen
times (and ``missing_ratio`` of a descriptor is its text column's). So the
children get no column checks of their own, and their text or image column gets
this one (and no ``out_of_range``/``out_of_quantile_range`` on its own values, the
text's length in characters or the image's pixels, which count here as the
descriptor ``chars`` or ``pixels``): for each descriptor, the share of current values beyond the
reference's 1st/99th percentiles, against the share of the reference's own
values beyond them (exact from its histogram: a descriptor that is 0 for 99.5%
of the texts has no 2% tail). A descriptor counts when its share exceeds the
expected one significantly (one-sided beta-binomial test, :func:`.ranges.tail_p_value`, at 1%
divided by the number of descriptors) and by more than the threshold; the result names the
worst.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from driftline.schema import Kind
from driftline.stats.quality.ranges import CHANCE_ALPHA, tail_p_value
from driftline.stats.quality.registry import (
    NUMERIC,
    QualityCheck,
    QualityInputs,
    QualityResult,
    grade,
)

RANK = {"ok": 0, "warn": 1, "fail": 2}


def _beyond(ref: Any, cur: Any) -> tuple[int, int, float, float, float, int] | None:
    """(values beyond the reference's p01/p99, values, the reference's own share beyond, p01,
    p99, reference values), or None when a side has no value."""
    if not (ref.moments.n and cur.moments.n and ref.histogram.total and cur.histogram.total):
        return None
    q = ref.quantiles.quantiles(np.array([0.01, 0.99]))
    lo, hi = float(q[0]), float(q[1])

    def outside(h: Any) -> int:
        keys = h.bucket_keys(np.array([lo, hi], dtype=np.float64))
        return int(h.counts[(h.keys < keys[0]) | (h.keys > keys[1])].sum())

    expected = outside(ref.histogram) / ref.histogram.total
    return outside(cur.histogram), int(cur.histogram.total), expected, lo, hi, int(ref.moments.n)


def _descriptor_range(x: QualityInputs) -> QualityResult | None:
    ref, cur = x.reference, x.current
    if not ref.descriptors:
        return None
    own = "chars" if ref.kind is Kind.TEXT else "pixels"  # the column's own values
    pairs = [(own, ref, cur)]
    pairs += [
        (d, r, cur.descriptors[d]) for d, r in ref.descriptors.items() if d in cur.descriptors
    ]
    assert x.threshold is not None
    alpha = CHANCE_ALPHA / len(pairs)
    per: dict[str, dict[str, Any]] = {}
    worst: tuple[int, float, str] | None = None
    for name, r, c in pairs:
        got = _beyond(r, c)
        if got is None:
            continue
        count, total, expected, lo, hi, n_ref = got
        share = count / total
        p = tail_p_value(count, total, expected, n_ref) if count and expected > 0 else 1.0
        if count and expected <= 0:
            p = 0.0  # the reference never goes there: any value beyond is beyond
        limit = expected + x.threshold
        warn = expected + x.threshold * x.warn_fraction
        status = grade(share, limit, warn) if p < alpha else "ok"
        per[name] = {
            "share": share,
            "expected": expected,
            "reference_p01": lo,
            "reference_p99": hi,
            "p_value": p,
            "status": status,
        }
        key = (RANK[status], share - expected, name)
        if worst is None or key[:2] > worst[:2]:
            worst = key
    if worst is None:
        return None
    top = per[worst[2]]
    return QualityResult(
        "descriptor_range",
        top["share"],
        top["expected"] + x.threshold,
        str(top["status"]),
        ref.name,
        {
            "descriptor": worst[2],
            "beyond": [d for d, v in per.items() if v["status"] != "ok"],
            "expected": top["expected"],
            "descriptors": per,
            "alpha_per_descriptor": alpha,
        },
    )


CHECK = QualityCheck(
    "descriptor_range",
    "column",
    _descriptor_range,
    "per text/image column, the largest share of a descriptor beyond the reference "
    "1st/99th percentiles (over the reference's own share)",
    kinds=NUMERIC,
    threshold="descriptor_range_ratio",
    default_threshold=0.05,
    share_of="present",
    values=True,
    reference="present",
)
