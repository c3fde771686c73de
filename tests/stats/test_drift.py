"""Drift methods equal scipy on exact inputs and follow their definitions."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

import driftline
from driftline.stats.drift import (
    chi_squared,
    hellinger,
    jensen_shannon,
    kl_divergence,
    psi,
    total_variation,
    wasserstein_binned,
)
from driftline.stats.drift.rules import benjamini_hochberg

TOL = 1e-9


def _pair(rng: np.random.Generator, n_ref: int, n_cur: int, shift: float) -> pd.DataFrame:
    return (
        pd.DataFrame({"x": rng.gamma(2.0, size=n_ref), "c": rng.choice(list("abcde"), n_ref)}),
        pd.DataFrame(
            {
                "x": rng.gamma(2.0, size=n_cur) + shift,
                "c": rng.choice(list("abcdef"), n_cur, p=[0.2, 0.2, 0.2, 0.2, 0.15, 0.05]),
            }
        ),
    )


def m_ks_method(report: dict[str, object]) -> str:
    cols = report["columns"]
    assert isinstance(cols, dict)
    return str(cols["x"]["metrics"]["ks"]["details"]["p_value_method"])


@pytest.mark.parametrize("seed", range(5), ids=lambda s: f"seed{s}")
def test_exact_mode_equals_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_ref, n_cur = rng.integers(200, 3000, size=2)
    ref, cur = _pair(rng, int(n_ref), int(n_cur), shift=float(rng.uniform(0, 0.3)))
    report = driftline.compare(ref, cur, seed=seed).to_dict()
    m = report["columns"]["x"]["metrics"]
    m["anderson_darling"] = driftline.compare(
        ref, cur, seed=seed, per_column={"x": "anderson_darling"}
    ).to_dict()["columns"]["x"]["drift"]
    ks = stats.ks_2samp(ref["x"], cur["x"], method=m_ks_method(report))
    assert m["ks"]["computed"] == "exact"
    assert abs(m["ks"]["statistic"] - ks.statistic) < TOL
    assert abs(m["ks"]["p_value"] - ks.pvalue) < TOL
    w = stats.wasserstein_distance(ref["x"], cur["x"]) / np.std(ref["x"], ddof=1)
    assert abs(m["wasserstein"]["statistic"] - w) < TOL
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # scipy's p-value capping notices
        ad = stats.anderson_ksamp([ref["x"].to_numpy(), cur["x"].to_numpy()])
    assert abs(m["anderson_darling"]["statistic"] - ad.statistic) < TOL
    assert abs(m["anderson_darling"]["p_value"] - ad.pvalue) < TOL
    # chi-squared on the exact category counts
    cats = sorted(set(ref["c"]) | set(cur["c"]))
    table = [[int((ref["c"] == k).sum()) for k in cats], [int((cur["c"] == k).sum()) for k in cats]]
    chi = stats.chi2_contingency(table, correction=False)
    mc = report["columns"]["c"]["metrics"]["chi_squared"]
    assert abs(mc["statistic"] - chi.statistic) < 1e-9 * max(1, chi.statistic)
    assert abs(mc["p_value"] - chi.pvalue) < TOL
    # Jensen-Shannon on the exact category proportions
    p = np.array(table[0]) / sum(table[0])
    q = np.array(table[1]) / sum(table[1])
    js = report["columns"]["c"]["metrics"]["jensen_shannon"]
    assert abs(js["statistic"] - jensenshannon(p, q, base=2)) < TOL


def test_bins_are_exact_counts_of_the_raw_values(rng: np.random.Generator) -> None:
    ref = pd.DataFrame({"x": rng.normal(size=40_000)})
    cur = pd.DataFrame({"x": rng.normal(0.3, 1.2, size=30_000)})
    dist = driftline.compare(ref, cur).to_dict()["columns"]["x"]["distribution"]
    edges = np.array(dist["edges"])
    inner_cur = np.histogram(cur["x"], bins=edges)[0]
    # np.histogram closes the last bin; ours is half-open like every other bin
    inner_cur[-1] -= int((cur["x"] == edges[-1]).sum())
    assert dist["current_counts"][1:-1] == inner_cur.tolist()
    assert dist["current_counts"][0] == int((cur["x"] < edges[0]).sum())
    assert dist["current_counts"][-1] == int((cur["x"] >= edges[-1]).sum())
    assert dist["reference_counts"][0] == 0 and dist["reference_counts"][-1] == 0
    assert sum(dist["reference_counts"]) == 40_000


def test_binned_methods_follow_their_definitions() -> None:
    r = np.array([50, 30, 20, 0])
    c = np.array([40, 30, 20, 10])
    p, q = r / r.sum(), c / c.sum()
    pf = np.maximum(p, 1e-4) / np.maximum(p, 1e-4).sum()
    qf = np.maximum(q, 1e-4) / np.maximum(q, 1e-4).sum()
    assert psi(r, c).statistic == pytest.approx(np.sum((qf - pf) * np.log(qf / pf)), abs=TOL)
    assert kl_divergence(r, c).statistic == pytest.approx(stats.entropy(qf, pf), abs=TOL)
    assert jensen_shannon(r, c).statistic == pytest.approx(jensenshannon(p, q, base=2), abs=TOL)
    assert hellinger(r, c).statistic == pytest.approx(
        np.sqrt(0.5 * np.sum((np.sqrt(p) - np.sqrt(q)) ** 2)), abs=TOL
    )
    assert total_variation(r, c).statistic == pytest.approx(0.1, abs=TOL)
    res = chi_squared(r, c)
    assert res.p_value == pytest.approx(
        stats.chi2_contingency([r, c], correction=False).pvalue, abs=TOL
    )
    assert psi(r, r).statistic == 0 and not psi(r, r).drifted


def test_wasserstein_binned_close_to_exact(rng: np.random.Generator) -> None:
    from driftline.stats.accumulators import LogHistogram
    from driftline.stats.drift._bins import fine_bins

    a, b = rng.normal(size=200_000), rng.normal(0.2, 1.1, size=150_000)
    edges, rc, cc = fine_bins(LogHistogram().update(a), LogHistogram().update(b))
    approx = wasserstein_binned(edges, rc, cc, ref_std=1.0).statistic
    exact = stats.wasserstein_distance(a, b)
    assert approx == pytest.approx(exact, rel=0.02)


def test_benjamini_hochberg_equals_scipy(rng: np.random.Generator) -> None:
    p = rng.uniform(size=40) ** 3
    np.testing.assert_allclose(
        benjamini_hochberg(list(p)), stats.false_discovery_control(p), atol=TOL
    )


def test_insufficient_data_gives_no_verdict(rng: np.random.Generator) -> None:
    ref = pd.DataFrame({"x": rng.normal(size=1000)})
    cur = pd.DataFrame({"x": rng.normal(5, size=10)})
    d = driftline.compare(ref, cur).to_dict()
    col = d["columns"]["x"]["drift"]
    assert col["drifted"] is None and col["computed"] == "insufficient"
    assert d["dataset"]["drifted"] is False


def test_large_samples_need_an_effect_not_just_a_p_value(rng: np.random.Generator) -> None:
    # 0.02 sigma is significant at 400k rows, but too small to matter
    ref = pd.DataFrame({"x": rng.normal(size=400_000)})
    cur = pd.DataFrame({"x": rng.normal(0.02, size=400_000)})
    assert stats.ks_2samp(ref["x"], cur["x"]).pvalue < 0.05  # a p-value rule would alarm
    d = driftline.compare(ref, cur).to_dict()["columns"]["x"]["drift"]
    assert d["statistic"] < d["threshold"]
    assert d["drifted"] is False


def test_named_method_decides_alone(rng: np.random.Generator) -> None:
    ref = pd.DataFrame({"x": rng.normal(size=5000)})
    cur = pd.DataFrame({"x": rng.normal(1.0, size=5000)})
    d = driftline.compare(ref, cur, method="psi").to_dict()["columns"]["x"]["drift"]
    assert d["method"] == "psi" and d["threshold"] == 0.2 and d["drifted"] is True
    d2 = driftline.compare(ref, cur, method="psi", thresholds={"psi": 5.0}).to_dict()
    assert d2["columns"]["x"]["drift"]["drifted"] is False


def test_data_driven_thresholds_raise_noisy_thresholds(rng: np.random.Generator) -> None:
    ref = pd.DataFrame({"c": rng.choice([f"k{i}" for i in range(300)], 20_000)})
    cur = pd.DataFrame({"c": rng.choice([f"k{i}" for i in range(300)], 300)})
    fixed = driftline.compare(ref, cur, method="jensen_shannon").to_dict()
    data = driftline.compare(ref, cur, method="jensen_shannon", data_driven_thresholds=True)
    fixed_d = fixed["columns"]["c"]["drift"]
    data_d = data.to_dict()["columns"]["c"]["drift"]
    # 300 draws over 300 categories: the fixed 0.1 threshold cries wolf, the learned one does not
    assert fixed_d["drifted"] is True
    assert data_d["threshold"] > fixed_d["threshold"]
    assert data_d["drifted"] is False
