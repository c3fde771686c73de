"""Multivariate drift: the correlation flip, checks against numpy/scipy/scikit-learn, bad input."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import driftline
from driftline.errors import ConfigError
from driftline.stats.drift.registry import methods_for
from driftline.stats.multivariate import MultivariateOptions, multivariate_drift
from driftline.stats.multivariate._sample import joint_sample
from driftline.stats.multivariate.correlation import cramers_v, pearson_pairs
from driftline.stats.multivariate.mmd import mmd2_unbiased, rbf_kernel
from driftline.stats.multivariate.pca import PCAModel
from driftline.stats.profile import build_profile

MV = ("pca_reconstruction", "domain_classifier", "mmd", "correlation")


def correlated(rho: float, n: int, seed: int) -> pd.DataFrame:
    """``a`` and ``b`` standard normal with correlation ``rho``; ``c``, ``k`` independent."""
    rng = np.random.default_rng(seed)
    z = rng.multivariate_normal([0, 0], [[1, rho], [rho, 1]], size=n)
    return pd.DataFrame(
        {
            "a": z[:, 0],
            "b": z[:, 1],
            "c": rng.gamma(2.0, 1.0, n),
            "k": rng.choice(["x", "y", "z"], n, p=[0.5, 0.3, 0.2]),
        }
    )


@pytest.fixture(scope="module")
def flip() -> tuple[pd.DataFrame, pd.DataFrame]:
    return correlated(0.8, 6000, 1), correlated(-0.8, 3000, 2)


@pytest.mark.parametrize("method", ["auto", *methods_for("numeric")])
def test_correlation_flip_is_missed_by_every_univariate_method(
    flip: tuple[pd.DataFrame, pd.DataFrame], method: str
) -> None:
    ref, cur = flip
    cols = ["a", "b"]  # the flipped pair keeps its marginals: no method sees a change
    report = driftline.compare(ref[cols], cur[cols], method=method, seed=3, multivariate=False)
    assert report.drifted_columns == []
    assert not report.drifted
    assert all(report.column(c)["drift"]["drifted"] is False for c in cols)


def test_correlation_flip_is_caught_by_every_multivariate_method(
    flip: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    ref, cur = flip
    report = driftline.compare(ref, cur, seed=3)
    mv = report.to_dict()["multivariate"]
    assert {m: r["drifted"] for m, r in mv["methods"].items()} == dict.fromkeys(MV, True)
    assert report.drifted and report.drifted_columns == []
    assert report.to_dict()["dataset"]["multivariate_drifted"] is True
    top = mv["methods"]["correlation"]["details"]["top_pairs"][0]
    assert top["columns"] == ["a", "b"]
    assert top["reference"] == pytest.approx(0.8, abs=0.05)
    assert top["current"] == pytest.approx(-0.8, abs=0.05)
    named = [f["column"] for f in mv["methods"]["domain_classifier"]["details"]["top_features"]]
    assert set(named[:2]) == {"a", "b"}
    assert mv["sample"]["reference_rows"] == 6000 and mv["sample"]["current_rows"] == 3000


def test_same_distribution_does_not_drift() -> None:
    report = driftline.compare(correlated(0.8, 6000, 4), correlated(0.8, 3000, 5), seed=3)
    mv = report.to_dict()["multivariate"]
    assert {m: r["drifted"] for m, r in mv["methods"].items()} == dict.fromkeys(MV, False)
    assert not report.drifted


def test_joint_sample_keeps_rows_together_across_batches_and_merges() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=30_000)
    frame = pd.DataFrame({"a": a, "b": 2 * a + 1, "k": np.where(a > 0, "pos", "neg")})
    one = build_profile(frame.iloc[:20_000], reservoir_size=2000, seed=1, batch_rows=3000)
    two = build_profile(frame.iloc[20_000:], reservoir_size=2000, seed=2)
    merged = one.merge(two)
    s = joint_sample(merged, ["a", "b"], ["k"])
    assert s.n == 2000
    np.testing.assert_allclose(s.numeric[:, 1], 2 * s.numeric[:, 0] + 1)
    assert list(s.categorical["k"]) == ["pos" if x > 0 else "neg" for x in s.numeric[:, 0]]


def test_pca_reconstruction_matches_scikit_learn() -> None:
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(1)
    x = rng.normal(size=(500, 6)) @ rng.normal(size=(6, 6))
    y = rng.normal(size=(200, 6)) @ rng.normal(size=(6, 6))
    ours = PCAModel(x, variance=0.65)
    theirs = PCA(n_components=0.65, svd_solver="full").fit(x)
    assert ours.n_components == theirs.n_components_
    expected = np.linalg.norm(y - theirs.inverse_transform(theirs.transform(y)), axis=1)
    np.testing.assert_allclose(ours.errors(y), expected, rtol=1e-9, atol=1e-9)


def test_mmd_matches_the_definition() -> None:
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(40, 3)), rng.normal(0.5, 1, size=(30, 3))
    z = np.vstack([x, y])
    kernel, width = rbf_kernel(z, rng, width_rows=1000)
    d = np.linalg.norm(z[:, None] - z[None, :], axis=2)
    assert width == pytest.approx(np.median(d[np.triu_indices(70, 1)]))
    k = np.exp(-(d**2) / (2 * width**2))
    kxx, kyy, kxy = k[:40, :40], k[40:, 40:], k[:40, 40:]
    expected = (
        (kxx.sum() - np.trace(kxx)) / (40 * 39)
        + (kyy.sum() - np.trace(kyy)) / (30 * 29)
        - 2 * kxy.mean()
    )
    labels = np.zeros((70, 1), dtype=bool)
    labels[:40] = True
    assert mmd2_unbiased(kernel, labels)[0] == pytest.approx(expected, rel=1e-9)


def test_pearson_and_cramers_v_match_scipy() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(300, 3))
    x[:, 1] += x[:, 0]
    x[rng.random(300) < 0.1, 2] = np.nan
    r, n = pearson_pairs(x)
    ok = ~np.isnan(x[:, 2])
    assert r[0, 1] == pytest.approx(stats.pearsonr(x[:, 0], x[:, 1]).statistic)
    assert r[0, 2] == pytest.approx(stats.pearsonr(x[ok, 0], x[ok, 2]).statistic)
    assert n[0, 2] == ok.sum()
    a = rng.integers(0, 4, 20_000)
    b = np.where(rng.random(20_000) < 0.5, a, rng.integers(0, 3, 20_000))
    table = stats.contingency.crosstab(a, b).count
    # the bias correction vanishes for large samples: scipy's plain Cramér's V
    assert cramers_v(a, b) == pytest.approx(
        stats.contingency.association(table, method="cramer"), abs=0.01
    )
    assert cramers_v(rng.integers(0, 4, 20_000), rng.integers(0, 4, 20_000)) < 0.02


def test_domain_classifier_auc_is_scikit_learns_and_names_the_shifted_feature() -> None:
    rng = np.random.default_rng(4)
    ref = pd.DataFrame({f"f{i}": rng.normal(size=3000) for i in range(5)})
    cur = pd.DataFrame({f"f{i}": rng.normal(size=1500) for i in range(5)})
    cur["f3"] = cur["f3"] * 0.3 + cur["f1"]  # marginal of f3 changes a little, jointly a lot
    out = multivariate_drift(
        build_profile(ref, seed=1),
        build_profile(cur, seed=2),
        MultivariateOptions(methods=("domain_classifier",)),
    )
    r = out["methods"]["domain_classifier"]
    assert r["drifted"] and r["statistic"] > 0.7 and r["p_value"] < 1e-10
    assert r["details"]["top_features"][0]["column"] in {"f1", "f3"}


def test_too_few_rows_says_so_and_does_not_decide() -> None:
    report = driftline.compare(correlated(0.8, 5000, 1), correlated(-0.8, 50, 2))
    mv = report.to_dict()["multivariate"]
    assert mv["drifted"] is None
    for r in mv["methods"].values():
        assert r["drifted"] is None and r["computed"] == "insufficient"
        assert "too few rows: 5000 reference and 50 current rows" in r["details"]["reason"]
    assert report.to_dict()["dataset"]["multivariate_drifted"] is None


def test_constant_id_like_many_levels_and_missing_values_never_crash() -> None:
    rng = np.random.default_rng(5)

    def frame(n: int, seed: int, rho: float) -> pd.DataFrame:
        df = correlated(rho, n, seed)
        df["const"] = 7.0
        df["const_cat"] = "same"
        df["token"] = [f"t-{seed}-{i}" for i in range(n)]
        df["levels"] = rng.integers(0, 3000, n).astype(str)
        df.loc[rng.random(n) < 0.2, "a"] = np.nan
        df.loc[rng.random(n) < 0.2, "k"] = None
        return df

    report = driftline.compare(frame(5000, 1, 0.8), frame(3000, 2, -0.8), seed=1)
    mv = report.to_dict()["multivariate"]
    excluded = mv["sample"]["excluded"]
    assert excluded["const"] == "constant in the reference sample"
    assert excluded["const_cat"] == "constant in the reference sample"
    assert excluded["token"].startswith("ID-like")
    assert "levels" in mv["sample"]["columns"]["categorical"]
    assert mv["methods"]["correlation"]["drifted"] is True
    assert mv["methods"]["domain_classifier"]["drifted"] is True
    assert all(math.isfinite(r["statistic"]) for r in mv["methods"].values())


def test_one_usable_column_is_not_enough() -> None:
    rng = np.random.default_rng(6)
    ref = pd.DataFrame({"x": rng.normal(size=2000), "flat": 1.0})
    out = multivariate_drift(build_profile(ref, seed=1), build_profile(ref, seed=2))
    assert out["drifted"] is None
    assert "1 usable feature column(s)" in out["methods"]["mmd"]["details"]["reason"]


def test_bad_options_name_the_problem() -> None:
    with pytest.raises(ConfigError, match="unknown 'pca'"):
        MultivariateOptions(methods=("pca",))
    with pytest.raises(ConfigError, match="multivariate: expected True, False"):
        driftline.compare(correlated(0.8, 100, 1), correlated(0.8, 100, 2), multivariate="yes")  # type: ignore[arg-type]
