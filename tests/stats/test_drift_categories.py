"""Categorical drift on every category the profiles hold; ID-like columns; sketch bounds."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

import driftline


def _col(report: Any, name: str = "c") -> dict[str, Any]:
    d = report.to_dict() if hasattr(report, "to_dict") else report
    col: dict[str, Any] = d["columns"][name]
    return col


def _check(col: dict[str, Any], name: str) -> dict[str, Any]:
    return next(q for q in col["quality"] if q["check"] == name)


def test_moving_mass_among_rare_categories_matches_scipy(rng: np.random.Generator) -> None:
    # 500 categories: 10 common ones hold half the mass, 490 rare ones the rest; the
    # current side moves a third of all mass from the rare half of the rare ones to the other
    cats = np.array([f"k{i:03d}" for i in range(500)])
    p = np.r_[np.full(10, 0.05), np.full(490, 0.5 / 490)]
    q = p.copy()
    rare_a, rare_b = np.arange(10, 255), np.arange(255, 500)
    q[rare_a] = p[rare_a] * (1 - 0.999)
    q[rare_b] += (p[rare_a].sum() - q[rare_a].sum()) / rare_b.size
    ref = pd.DataFrame({"c": rng.choice(cats, 60_000, p=p)})
    cur = pd.DataFrame({"c": rng.choice(cats, 60_000, p=q / q.sum())})
    moved = 0.5 * np.abs(q / q.sum() - p).sum()
    assert moved == pytest.approx(0.25, abs=0.01)  # a quarter of the rows, a third of rare mass
    col = _col(driftline.compare(ref, cur, seed=1))
    keys = sorted(set(ref["c"]) | set(cur["c"]))
    table = np.array(
        [
            ref["c"].value_counts().reindex(keys, fill_value=0).to_numpy(),
            cur["c"].value_counts().reindex(keys, fill_value=0).to_numpy(),
        ]
    )
    chi = stats.chi2_contingency(table)
    m = col["metrics"]
    assert m["chi_squared"]["computed"] == "exact"
    assert m["chi_squared"]["statistic"] == pytest.approx(chi.statistic, rel=1e-9)
    assert m["chi_squared"]["p_value"] == pytest.approx(chi.pvalue, abs=1e-12)
    assert m["chi_squared"]["details"]["dof"] == len(keys) - 1
    pr, pc = table[0] / table[0].sum(), table[1] / table[1].sum()
    js = np.sqrt(0.5 * (_kl2(pr, (pr + pc) / 2) + _kl2(pc, (pr + pc) / 2)))  # the definition
    assert m["jensen_shannon"]["statistic"] == pytest.approx(js, rel=1e-9)
    assert m["total_variation"]["statistic"] == pytest.approx(0.5 * np.abs(pr - pc).sum())
    assert js > 0.25 and col["drift"]["drifted"] is True
    # all 500 categories were used; the report shows the 200 most frequent plus the rest
    assert col["distribution"]["n_bins_used"] == len(keys)
    assert len(col["distribution"]["bins"]) == 201


def _kl2(a: np.ndarray, b: np.ndarray) -> float:
    nz = a > 0
    return float(np.sum(a[nz] * np.log2(a[nz] / b[nz])))


@pytest.mark.parametrize("n", [20_000, pytest.param(200_000, marks=pytest.mark.slow)])
def test_disjoint_unique_strings_are_id_like_with_distance_one(n: int) -> None:
    ref = pd.DataFrame({"c": [f"r{i}" for i in range(n)], "x": np.arange(n) % 7})
    cur = pd.DataFrame({"c": [f"c{i}" for i in range(n)], "x": np.arange(n) % 7})
    rep = driftline.compare(ref, cur, seed=0)
    col = _col(rep)
    d = col["drift"]
    assert d["computed"] == "id_like" and d["drifted"] is None
    assert d["statistic"] > 0.95  # Jensen-Shannon: nothing in common
    assert d["details"]["distinct_ratio_reference"] > 0.95
    assert d["details"]["unseen_share"] > 0.95
    assert "ID-like" in d["details"]["reason"]
    unseen = _check(col, "unseen_categories")
    assert unseen["value"] > 0.95 and unseen["status"] == "warn"
    assert unseen["details"]["id_like"] is True
    constant = _check(col, "constant")
    assert constant["value"] < 0.01  # not a column of one value that passes
    ds = rep.to_dict()["dataset"]
    assert ds["id_like_columns"] == ["c"]
    assert "c" not in ds["drifted_columns"]
    # a method named for the column decides on it as asked
    named = _col(driftline.compare(ref, cur, per_column={"c": "jensen_shannon"}))["drift"]
    assert named["drifted"] is True and named["statistic"] > 0.95
    # the same column against itself (a fresh sample of ids) is ID-like too: no false alarm
    again = pd.DataFrame({"c": [f"r{i}" for i in range(n, 2 * n)], "x": np.arange(n) % 7})
    assert _col(driftline.compare(ref, again))["drift"]["computed"] == "id_like"
    assert driftline.compare(ref, again).to_dict()["dataset"]["drifted"] is False


def test_timestamps_stored_as_strings_do_not_score_zero() -> None:
    t0 = pd.Timestamp("2024-01-01")
    minutes = pd.to_timedelta(np.arange(20_000) * 60, "s")
    ref = pd.DataFrame({"ts": (t0 + minutes).astype(str)})
    cur = pd.DataFrame({"ts": (t0 + pd.Timedelta(days=40) + minutes).astype(str)})
    d = _col(driftline.compare(ref, cur), "ts")["drift"]
    assert d["computed"] == "id_like"
    assert d["statistic"] > 0.95
    assert d["details"]["looks_like"] == "timestamps"
    assert "kind: datetime" in d["details"]["reason"]


def test_unseen_share_is_computed_on_every_category(rng: np.random.Generator) -> None:
    # 300 reference categories; the current side adds 400 new ones at 0.1% each (40%)
    old = [f"old{i}" for i in range(300)]
    new = [f"new{i}" for i in range(400)]
    ref = pd.DataFrame({"c": rng.choice(old, 30_000)})
    cur = pd.DataFrame({"c": np.r_[rng.choice(old, 18_000), np.repeat(new, 30)]})
    col = _col(driftline.compare(ref, cur))
    unseen = _check(col, "unseen_categories")
    assert unseen["value"] == pytest.approx(12_000 / 30_000)
    assert unseen["details"]["exact"] is True and unseen["details"]["count"] == 400
    assert unseen["status"] == "fail"
    assert col["drift"]["drifted"] is True


def test_past_the_exact_limit_the_sketch_bounds_contain_the_truth(
    rng: np.random.Generator,
) -> None:
    # 30,000 Zipf-distributed categories: past the 10,000 exact limit on both sides
    k = 30_000
    w = 1.0 / np.arange(1, k + 1) ** 1.1
    cats = np.array([f"z{i}" for i in range(k)])
    ref = rng.choice(cats, 150_000, p=w / w.sum())
    w2 = w.copy()
    w2[:50] = w2[:50][::-1]  # the heavy hitters trade places
    cur = rng.choice(cats, 150_000, p=w2 / w2.sum())
    col = _col(driftline.compare({"c": ref}, {"c": cur}))
    js = col["metrics"]["jensen_shannon"]
    assert js["computed"] == "sketch"
    lo, hi = js["details"]["statistic_range"]
    keys = np.union1d(ref, cur)
    p = pd.Series(ref).value_counts().reindex(keys, fill_value=0).to_numpy()
    q = pd.Series(cur).value_counts().reindex(keys, fill_value=0).to_numpy()
    true_js = float(jensenshannon(p / p.sum(), q / q.sum(), base=2))
    slack = 2 * js["details"]["sketch"]["max_count_error"] * 50 / len(ref)  # named counts' error
    assert lo - slack <= true_js <= hi + slack
    assert js["details"]["sketch"]["unnamed_share_reference"] > 0
    d = col["drift"]
    assert d["drifted"] in (True, None)  # never a silent "no drift"
    if d["drifted"] is None:
        assert col["drift"]["details"]["statistic_range"] == [lo, hi]
        assert col["drift"]["details"]["reason"].startswith("undecided: past the exact limit")
    # named for the column, the chi-squared test on the lumped counts decides alone
    named = _col(driftline.compare({"c": ref}, {"c": cur}, per_column={"c": "chi_squared"}))
    assert named["drift"]["drifted"] is True and named["drift"]["computed"] == "sketch"


def test_boolean_chi_squared_applies_yates_like_scipy(rng: np.random.Generator) -> None:
    ref = pd.DataFrame({"b": rng.random(400) < 0.5})
    cur = pd.DataFrame({"b": rng.random(300) < 0.58})
    chi = _col(driftline.compare(ref, cur), "b")["metrics"]["chi_squared"]
    table = [
        [int((~ref["b"]).sum()), int(ref["b"].sum())],
        [int((~cur["b"]).sum()), int(cur["b"].sum())],
    ]
    expected = stats.chi2_contingency(table)  # scipy's default: Yates on a 2 x 2 table
    assert chi["details"]["yates"] is True
    assert chi["statistic"] == pytest.approx(expected.statistic, rel=1e-12)
    assert chi["p_value"] == pytest.approx(expected.pvalue, rel=1e-12)
    uncorrected = stats.chi2_contingency(table, correction=False)
    assert chi["p_value"] > uncorrected.pvalue


def test_integer_class_labels_get_no_numbers_stored_as_strings_hint() -> None:
    """scikit-learn's breast-cancer frame: the 0/1 ``target`` is categorical on purpose
    (class labels); telling the user to declare it numeric was wrong. A feature of
    numbers held as text still gets the hint."""
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    frame["code"] = (frame["mean radius"] * 10).round().astype(int).astype(str)
    schema = {"target": {"kind": "categorical", "role": "target"}}
    report = driftline.compare(
        frame.iloc[:400], frame.iloc[400:], schema=schema, multivariate=False
    )
    target = _col(report, "target")
    assert target["kind"] == "categorical"
    assert "looks_like" not in target["drift"]["details"]
    assert "stored as strings" not in report.summary()
    assert _col(report, "code")["drift"]["details"]["looks_like"] == "numbers"
