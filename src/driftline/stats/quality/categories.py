"""Checks of categorical columns: categories the reference never had, and cardinality changes.

A reference of a few dozen values misses the rare categories of its own distribution: a
40-row sample of a column whose rare categories make up 15 % of the rows sees some of
them once and misses the rest, and a current batch of the same distribution then has
"unseen" categories at several percent. ``unseen_categories`` therefore compares the
current's unseen values with the reference's Good-Turing missing mass, the share of its
values that are singletons (:func:`missing_mass`): when they are not more than that share
gives by chance (beta-binomial, with the estimate's own error, at the range checks'
``CHANCE_ALPHA``) it warns, saying why, instead of failing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from driftline.stats.drift._categorical import is_id_like, overlap
from driftline.stats.quality.registry import (
    CATEGORICAL,
    QualityCheck,
    QualityInputs,
    QualityResult,
    grade,
)


def _unseen_categories(x: QualityInputs) -> QualityResult:
    ref, cur = x.reference, x.current
    assert x.threshold is not None
    ov = overlap(ref, cur)
    details: dict[str, Any] = {
        "count": round(ov.unseen_distinct),
        "examples": ov.examples,
        "exact": ov.exact,
    }
    status = grade(ov.unseen_share, x.threshold, 0.0)
    id_like = is_id_like(ref)  # nearly every value new: said by its own warning below
    exact = ref.categories.exact
    mass = missing_mass(exact) if exact is not None and not id_like else None
    if mass is not None and mass["expected"] > 0:
        details["missing_mass"] = mass
        total = int(cur.categories.total)
        chance = _unseen_by_chance(round(ov.unseen_share * total), total, mass)
        if chance is not None and status == "fail":
            # the reference cannot tell these from the rare categories it happened to miss
            status = "warn"
            details.update(chance)
    if id_like and status == "fail":
        # almost every value of an ID-like column is new in every batch: said, not failed
        status = "warn"
        details["id_like"] = True
    return QualityResult("unseen_categories", ov.unseen_share, x.threshold, status, ref.name,
                         details)  # fmt: skip


def missing_mass(counts: Mapping[str, int]) -> dict[str, Any] | None:
    """The Good-Turing estimate of the share of the reference's distribution in categories
    its sample does not have: ``expected`` = singletons / values (Good 1953), and its
    standard ``error`` from Esty (1983): Var = (N1 (1 - N1/n) + 2 N2) / n², N1 and N2 the
    categories seen once and twice. None without values."""
    n = sum(counts.values())
    if n <= 0:
        return None
    n1 = sum(1 for c in counts.values() if c == 1)
    n2 = sum(1 for c in counts.values() if c == 2)
    var = (n1 * (1 - n1 / n) + 2 * n2) / n**2
    return {"expected": n1 / n, "error": var**0.5, "singletons": n1, "doubletons": n2, "n": n}


def _unseen_by_chance(unseen: int, total: int, mass: Mapping[str, Any]) -> dict[str, Any] | None:
    """Details saying that ``unseen`` of ``total`` current values in categories the reference
    lacks is within what its missing mass gives by chance (the check then warns instead of
    failing), or None when it is more: a
    one-sided beta-binomial test at the range checks' ``CHANCE_ALPHA``, the share drawn from a
    beta with the estimate's mean and Esty's variance (the count's own binomial noise on top)."""
    from scipy.stats import betabinom

    from driftline.stats.quality.ranges import CHANCE_ALPHA

    e, var = float(mass["expected"]), float(mass["error"]) ** 2
    if total <= 0 or unseen <= 0:
        return None
    if e >= 1.0:
        p = 1.0
    else:
        size = max(e * (1 - e) / var - 1, 1e-6) if var > 0 else 1e12
        p = float(betabinom.sf(unseen - 1, total, e * size, max((1 - e) * size, 1e-9)))
    if p < CHANCE_ALPHA:
        return None
    return {
        "p_value": p,
        "reason": (
            f"{unseen} of {total} values in unseen categories is within what the reference's "
            f"missing mass gives by chance: {mass['singletons']} of its {mass['n']} values are "
            f"singletons, so about {e:.1%} of the data is in categories it never saw "
            "(Good-Turing)"
        ),
    }


def _cardinality_change(x: QualityInputs) -> QualityResult | None:
    ref, cur = x.reference, x.current
    assert x.threshold is not None
    r_d, c_d = ref.distinct.estimate, cur.distinct.estimate
    if not (r_d > 0 and c_d > 0):
        return None
    # fewer categories in a smaller sample is expected: shrinking only counts when the
    # current side has at least as many values as the reference
    shrink_counts = cur.present >= ref.present
    factor = c_d / r_d if c_d >= r_d or not shrink_counts else r_d / c_d
    warn = 1 + (x.threshold - 1) * x.warn_fraction
    return QualityResult("cardinality_change", factor, x.threshold,
                         grade(factor, x.threshold, warn), ref.name,
                         {"reference": round(r_d), "current": round(c_d)})  # fmt: skip


CHECKS = [
    QualityCheck("unseen_categories", "column", _unseen_categories,
                 "share of values in categories the reference never had", kinds=CATEGORICAL,
                 threshold="unseen_category_ratio", default_threshold=0.005,
                 share_of="present", values=True, reference="present"),
    QualityCheck("cardinality_change", "column", _cardinality_change,
                 "factor by which the distinct count grew (or shrank)", kinds=CATEGORICAL,
                 threshold="cardinality_ratio", default_threshold=2.0, values=True,
                 reference="present"),
]  # fmt: skip
