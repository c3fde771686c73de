"""unseen_categories on a small reference: the rare categories it happened to miss are
expected (Good-Turing), checked against simulation.

A column whose 300 rare categories make up 15 % of the rows: a 40-row reference sees a few
of them once, and a current batch of the same distribution has 10-20 % of its values in
categories that reference never had. The check failed on nearly every such batch; now it
compares the unseen values with the reference's missing mass (singletons / values) and
warns, saying why, when they are within what that gives by chance.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

import driftline
from driftline.stats.quality.categories import missing_mass

#: 4 common categories (85 % of the rows) and a tail of 300 rare ones (15 %)
P = np.r_[[0.40, 0.25, 0.12, 0.08], np.full(300, 0.15 / 300)]
NAMES = np.array([f"c{i}" for i in range(P.size)])


def _unseen(seed: int, n: int = 40, m: int = 500, new: float = 0.0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    ref = NAMES[rng.choice(P.size, n, p=P)]
    cur = NAMES[rng.choice(P.size, m, p=P)]
    cur[: int(new * m)] = "brand_new"
    report = driftline.compare(pd.DataFrame({"c": ref}), pd.DataFrame({"c": cur}), seed=0)
    (q,) = [q for q in report.to_dict()["columns"]["c"]["quality"]
            if q["check"] == "unseen_categories"]  # fmt: skip
    return q  # type: ignore[no-any-return]


def test_the_missing_mass_and_its_error_match_simulation() -> None:
    """Good-Turing's singletons / n against the true share of the distribution a 40-row
    sample misses, and Esty's standard error against the spread of the difference."""
    rng = np.random.default_rng(1)
    estimate, truth, error = [], [], []
    for _ in range(4000):
        idx = rng.choice(P.size, 40, p=P)
        values, counts = np.unique(idx, return_counts=True)
        mass = missing_mass(dict(zip(map(str, values), counts.tolist(), strict=True)))
        assert mass is not None
        estimate.append(mass["expected"])
        error.append(mass["error"])
        truth.append(1.0 - P[values].sum())
    diff = np.asarray(estimate) - np.asarray(truth)
    assert abs(diff.mean()) < 0.01  # unbiased to within a point (true mass 0.150, estimate 0.151)
    assert 0.75 < np.sqrt(np.mean(np.square(error))) / np.std(diff) < 1.3  # 0.0598 / 0.0591


def test_a_same_distribution_batch_warns_instead_of_failing() -> None:
    statuses = [_unseen(seed) for seed in range(150)]
    assert sum(q["value"] > q["threshold"] for q in statuses) >= 140  # the old rule failed 150
    failed = sum(q["status"] == "fail" for q in statuses)  # 1
    assert failed <= 5  # one-sided test at 1 %: ~1.5 of 150 expected
    warned = next(q for q in statuses if q["status"] == "warn")
    d = warned["details"]
    assert d["missing_mass"]["n"] == 40 and d["missing_mass"]["singletons"] > 0
    assert "within what the reference's missing mass gives by chance" in d["reason"]
    assert "(Good-Turing)" in d["reason"] and d["p_value"] >= 0.01


def test_a_new_category_beyond_the_missing_mass_still_fails() -> None:
    # 40 % of the batch in one new category: far beyond a 40-row reference's missing mass
    assert sum(_unseen(seed, new=0.4)["status"] == "fail" for seed in range(40)) >= 38
    # 2,000 reference rows miss ~5.5 % of it (0.15 e^-1): 10 % new fails every time
    results = [_unseen(seed, n=2000, new=0.10) for seed in range(10)]
    assert all(q["status"] == "fail" for q in results)
    assert all(0.04 < q["details"]["missing_mass"]["expected"] < 0.07 for q in results)


def test_a_reference_without_singletons_is_held_to_the_threshold_as_before() -> None:
    ref = pd.DataFrame({"c": ["a", "b", "c"] * 20})
    cur = pd.DataFrame({"c": ["a", "b", "c"] * 30 + ["d"] * 2})
    (q,) = [q for q in driftline.compare(ref, cur, seed=0).to_dict()["columns"]["c"]["quality"]
            if q["check"] == "unseen_categories"]  # fmt: skip
    assert q["status"] == "fail" and "missing_mass" not in q["details"]
