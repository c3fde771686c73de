"""Range checks of numeric columns: values beyond the reference's min/max and 1st/99th percentiles.

Both count values beyond a bound that a sample of the reference's own
distribution also crosses now and then, and warn or fail only when the count
is more than that expected share gives by chance (:func:`by_chance`), the
bound being itself estimated from the reference's values (:func:`tail_p_value`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from driftline.stats.quality.registry import (
    NUMERIC,
    QualityCheck,
    QualityInputs,
    QualityResult,
    grade,
)

#: One-sided level at which a count of values beyond a reference bound must exceed what the
#: expected share gives by chance before a range check warns or fails.
CHANCE_ALPHA = 0.01
#: Share of a reference's own distribution beyond its 1st/99th percentiles.
QUANTILE_EXPECTED = 0.02


def tail_p_value(count: int, total: int, expected: float, n_reference: int | None) -> float:
    """P(at least ``count`` of ``total`` values beyond a bound drawn from ``n_reference``
    values of the same distribution, whose share beyond it is ``expected`` on average).

    The bound is itself a sample statistic: the share of the distribution beyond the min and
    max of n values is Beta(2, n - 1), and beyond the k-th smallest and largest Beta(2k,
    n + 1 - 2k) (David & Nagaraja, coverage of order statistics), so the count is
    beta-binomial, Beta(e (n + 1), (1 - e) (n + 1)) with e the expected share. A binomial
    with the share taken as known (None: no reference size) made 37 of 500 values beyond a
    40-row reference's range (7.4%, 4.9% expected) a failure at p = 0.009; it happens at
    p = 0.21. Past a few thousand reference values the two agree."""
    from scipy.stats import betabinom, binom

    if n_reference is None or n_reference <= 0:
        return float(binom.sf(count - 1, total, expected))
    a = expected * (n_reference + 1)
    b = max((1.0 - expected) * (n_reference + 1), 1e-9)
    return float(betabinom.sf(count - 1, total, a, b))


def by_chance(
    count: int, total: int, expected: float, n_reference: int | None = None
) -> dict[str, Any] | None:
    """None when ``count`` of ``total`` values beyond a bound is more than the ``expected``
    share gives by chance (a one-sided test at :data:`CHANCE_ALPHA`, :func:`tail_p_value`,
    with the bound's own sampling error when ``n_reference`` is given); else the details
    saying it is not: 3 of 51 values beyond the 1st/99th percentiles (5.9%, where 2% is
    expected) is what a healthy model shows one window in twelve."""
    if total <= 0 or count <= 0 or expected <= 0:
        return None
    p = tail_p_value(count, total, expected, n_reference)
    if p < CHANCE_ALPHA:
        return None
    return {
        "p_value": p,
        "reason": f"{count} of {total} is within what chance gives (expected {expected:.2%})",
    }


def _out_of_range(x: QualityInputs) -> QualityResult | None:
    ref, cur = x.reference, x.current
    if not (ref.moments.n and cur.moments.n) or ref.descriptors:
        return None  # a text/image column's lengths/sizes: its descriptor_range covers them
    assert x.threshold is not None
    h = cur.histogram
    total = h.total
    lo_key = h.bucket_keys(np.array([ref.moments.min]))[0]
    hi_key = h.bucket_keys(np.array([ref.moments.max]))[0]
    below = int(h.counts[h.keys < lo_key].sum())
    above = int(h.counts[h.keys > hi_key].sum())
    # values inside the boundary buckets but beyond the exact min/max (exact when those decide)
    if cur.moments.min < ref.moments.min and below == 0:
        below = 1
    if cur.moments.max > ref.moments.max and above == 0:
        above = 1
    ratio = (below + above) / total if total else 0.0
    # A value from the reference's own distribution falls beyond the min/max of its n
    # values with probability 2/(n+1): that share is expected, not a fault (1.4% for a
    # 142-row reference), so the threshold counts from it.
    expected = 2.0 / (ref.moments.n + 1) if ref.moments.n else 0.0
    limit = x.threshold + expected
    details = by_chance(below + above, total, expected, int(ref.moments.n))
    status = (
        grade(ratio, limit, expected + x.threshold * x.warn_fraction) if details is None else "ok"
    )
    return QualityResult(
        "out_of_range",
        ratio,
        limit,
        status,
        ref.name,
        {
            **(details or {}),
            "expected": expected,
            "below": below,
            "above": above,
            "reference_min": ref.moments.min,
            "reference_max": ref.moments.max,
            "current_min": cur.moments.min,
            "current_max": cur.moments.max,
        },
    )


def _out_of_quantile_range(x: QualityInputs) -> QualityResult | None:
    ref, cur = x.reference, x.current
    if not (ref.moments.n and cur.moments.n) or ref.descriptors:
        return None  # a text/image column's lengths/sizes: its descriptor_range covers them
    assert x.threshold is not None
    h = cur.histogram
    total = h.total
    q = ref.quantiles.quantiles(np.array([0.01, 0.99]))
    qk = h.bucket_keys(np.asarray(q, dtype=np.float64))
    outside = int(h.counts[(h.keys < qk[0]) | (h.keys > qk[1])].sum())
    ratio_q = outside / total if total else 0.0
    # Below ~100 reference values the 1st/99th percentiles are its min and max, which a
    # value of the same distribution passes with probability 2/(n+1), not 2% (a 1-row
    # reference: always). The threshold moves up by that excess, as out_of_range's does.
    expected = max(QUANTILE_EXPECTED, 2.0 / (ref.moments.n + 1))
    limit = x.threshold + (expected - QUANTILE_EXPECTED)
    chance = by_chance(outside, total, expected, int(ref.moments.n))
    warn = limit * x.warn_fraction + expected * (1 - x.warn_fraction)
    return QualityResult(
        "out_of_quantile_range",
        ratio_q,
        limit,
        grade(ratio_q, limit, warn) if chance is None else "ok",
        ref.name,
        {
            **(chance or {}),
            "reference_p01": float(q[0]),
            "reference_p99": float(q[1]),
            "expected": expected,
        },
    )


CHECKS = [
    QualityCheck("out_of_range", "column", _out_of_range,
                 "share beyond the reference min/max (2/(n+1) expected)", kinds=NUMERIC,
                 threshold="out_of_range_ratio", default_threshold=0.01, share_of="present",
                 values=True, reference="present"),
    QualityCheck("out_of_quantile_range", "column", _out_of_quantile_range,
                 "share beyond the reference 1st/99th percentiles (2% expected; 2/(n+1) below "
                 "100 reference values)", kinds=NUMERIC,
                 threshold="out_of_quantile_range_ratio", default_threshold=0.05,
                 share_of="present", values=True, reference="present"),
]  # fmt: skip
