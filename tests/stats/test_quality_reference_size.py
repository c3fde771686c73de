"""A reference too small to hold the current data to makes its checks undecided, not failed.

The new-user pass: a one-row reference of real data failed ``driftline check`` on its
target's categories (every other class "unseen", the class count "changed"); a 5-row
reference failed both range checks. Those checks now say ``insufficient`` below
``min_reference`` values (30) and decide again from there.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

import driftline
from driftline.stats.quality import CHECKS, QualityThresholds

#: the checks that hold the current data to what the reference shows (docs/quality.md)
FROM_REFERENCE = {
    "duplicate_rows", "missing_ratio", "constant", "out_of_range", "out_of_quantile_range",
    "descriptor_range", "unseen_categories", "cardinality_change",
}  # fmt: skip


@pytest.fixture(scope="module")
def wine() -> pd.DataFrame:
    from sklearn.datasets import load_wine

    frame = load_wine(as_frame=True).frame
    frame["target"] = frame["target"].map({0: "class_0", 1: "class_1", 2: "class_2"})
    return frame.sample(frac=1.0, random_state=0).reset_index(drop=True)


def _results(report: driftline.Report) -> list[dict[str, Any]]:
    out = list(report.to_dict()["quality"])
    for col in report.to_dict()["columns"].values():
        out.extend(col["quality"])
    return out


def test_every_reference_derived_builtin_check_declares_it() -> None:
    declared = {c.name for c in CHECKS if c.reference is not None}
    # missing_ratio and constant decide some cases without the reference: they handle it
    assert declared | {"missing_ratio", "constant"} >= FROM_REFERENCE


@pytest.mark.parametrize("rows", [1, 5, 29])
def test_a_tiny_reference_of_real_data_fails_no_check(wine: pd.DataFrame, rows: int) -> None:
    report = driftline.compare(
        wine.head(rows), wine.iloc[rows:], {"target": {"role": "target"}}, seed=0
    )
    results = _results(report)
    assert [(q["column"], q["check"]) for q in results if q["status"] == "fail"] == []
    undecided = [q for q in results if q["status"] == "insufficient"]
    assert undecided, results
    assert {q["check"] for q in undecided} <= FROM_REFERENCE
    target = {q["check"]: q for q in report.column("target")["quality"]}
    assert target["unseen_categories"]["status"] == "insufficient"
    if rows == 1:  # the value is measured and kept: two of three classes are "unseen"
        assert target["unseen_categories"]["value"] > 0.5
        # and the one value is a singleton: Good-Turing says the reference tells nothing of
        # what it has not seen, so even decided on this reference it would only warn
        assert target["unseen_categories"]["details"]["status_on_this_reference"] == "warn"
    details = target["unseen_categories"]["details"]
    assert details["reason"] == (
        f"reference too small: {rows} value{'s' if rows > 1 else ''}, a check against it "
        "needs 30 (quality min_reference)"
    )
    assert details["reference_n"] == rows and details["min_reference"] == 30
    assert report.to_dict()["dataset"]["quality"]["insufficient"] == len(undecided)


def test_from_30_reference_values_the_checks_decide_again(wine: pd.DataFrame) -> None:
    cur = wine.iloc[60:].copy()
    cur.loc[cur.index[:20], "target"] = "class_9"  # a class the reference never had
    report = driftline.compare(wine.head(30), cur, {"target": {"role": "target"}}, seed=0)
    target = {q["check"]: q for q in report.column("target")["quality"]}
    assert target["unseen_categories"]["status"] == "fail"
    results = _results(report)
    assert [q for q in results if q["status"] == "insufficient"] == []
    # and a user who knows their 5 rows can lower the bar: the check decides, and the 5
    # rows' singletons (Good-Turing) make 17 % of unseen values a warning, not a failure
    small = driftline.compare(
        wine.head(5), cur, {"target": {"role": "target"}}, quality={"min_reference": 5}, seed=0
    )
    unseen = {q["check"]: q for q in small.column("target")["quality"]}["unseen_categories"]
    assert unseen["status"] == "warn" and "(Good-Turing)" in unseen["details"]["reason"]


def test_missing_ratio_and_constant_decide_what_needs_no_reference() -> None:
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"a": [1.0], "b": ["x"], "c": ["x"], "d": [2.0]})
    n = 400
    a = rng.normal(size=n)
    a[: n // 5] = np.nan  # 20% missing: a fault only if the reference had fewer
    cur = pd.DataFrame(
        {
            "a": a,
            "b": ["x"] * n,  # one value: a fault only if the reference was not constant
            "c": rng.choice(["x", "y"], n),  # two values: not constant, whatever it was
            "d": np.full(n, np.nan),  # every value missing: a fault whatever it was
        }
    )
    report = driftline.compare(ref, cur, seed=0)

    def status(col: str, check: str) -> str:
        return str(next(q for q in report.column(col)["quality"] if q["check"] == check)["status"])

    assert status("a", "missing_ratio") == "insufficient"
    assert status("b", "constant") == "insufficient"
    assert status("c", "constant") == "ok"
    assert status("d", "missing_ratio") == "fail"
    ok = driftline.compare(ref, cur.assign(a=rng.normal(size=n)), seed=0)
    assert (
        next(q for q in ok.column("a")["quality"] if q["check"] == "missing_ratio")["status"]
        == "ok"
    )


def test_min_reference_is_a_quality_setting() -> None:
    assert QualityThresholds().min_reference == 30
    assert QualityThresholds.from_dict({"min_reference": 100}).min_reference == 100
    with pytest.raises(driftline.errors.ConfigError, match="min_reference"):
        QualityThresholds.from_dict({"min_reference": -1})
