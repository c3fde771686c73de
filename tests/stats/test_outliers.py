"""Outlier scores against the reference: checked against scikit-learn, shares, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import driftline
from driftline.errors import ConfigError, InputError
from driftline.stats.multivariate._sample import joint_sample
from driftline.stats.outliers import OutlierModel, _sample_of, outlier_share_test


def frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    z = rng.multivariate_normal([0, 0, 0], [[1, 0.7, 0], [0.7, 1, 0], [0, 0, 1]], size=n)
    return pd.DataFrame(
        {"a": z[:, 0], "b": z[:, 1], "c": z[:, 2] * 10 + 50, "k": rng.choice(["x", "y"], n)}
    )


@pytest.fixture(scope="module")
def reference() -> driftline.DatasetProfile:
    return driftline.profile(frame(8000, 1), seed=0)


def test_mahalanobis_scores_are_scikit_learns_robust_distances(
    reference: driftline.DatasetProfile,
) -> None:
    from sklearn.covariance import MinCovDet

    model = OutlierModel("mahalanobis").fit(reference)
    table = pa.Table.from_pandas(frame(500, 2), preserve_index=False)
    x = model.encoder.design(_sample_of(table, model.encoder))
    ref = model.encoder.design(joint_sample(reference, ["a", "b", "c"], ["k"]))
    mcd = MinCovDet(random_state=0).fit(ref[np.random.default_rng(0).permutation(8000)[:2000]])
    np.testing.assert_allclose(model.score(table) ** 2, mcd.mahalanobis(x), rtol=1e-6)


@pytest.mark.parametrize("method", ["mahalanobis", "isolation_forest"])
def test_about_one_percent_of_like_rows_and_most_odd_rows_are_flagged(
    reference: driftline.DatasetProfile, method: str
) -> None:
    model = OutlierModel(method).fit(reference)
    like = model.score(pa.Table.from_pandas(frame(20_000, 3), preserve_index=False))
    assert 0.005 < float(np.mean(like > model.threshold)) < 0.02
    odd = frame(200, 4)
    rng = np.random.default_rng(5)
    odd["a"] = rng.choice([-1, 1], 200) * rng.uniform(1.5, 2.5, 200)
    odd["b"] = -odd["a"]  # each value within 2.5 sd, the pair against a +0.7 correlation
    flagged = model.score(pa.Table.from_pandas(odd, preserve_index=False)) > model.threshold
    # axis-aligned trees see combinations against a correlation less well than the
    # covariance does: still over 10x the 1% of ordinary rows
    assert flagged.mean() > (0.8 if method == "mahalanobis" else 0.1)


def test_missing_values_unseen_levels_and_text_do_not_crash(
    reference: driftline.DatasetProfile,
) -> None:
    model = OutlierModel().fit(reference)
    table = pa.table(
        {
            "a": pa.array([None, 0.0, 1.0], pa.float64()),
            "b": ["1", "oops", None],  # text where numbers belong: scored as missing
            "k": ["x", "never-seen", None],
        }
    )  # column c absent: scored as its median
    scores = model.score(table)
    assert scores.shape == (3,) and np.isfinite(scores).all()


def test_bad_options_and_too_little_reference_name_the_problem() -> None:
    with pytest.raises(ConfigError, match="unknown method 'lof'"):
        OutlierModel("lof")
    tiny = driftline.profile(frame(20, 5), seed=0)
    with pytest.raises(InputError, match="20 rows"):
        OutlierModel().fit(tiny)


def test_outlier_share_test_is_scipys_binomial_test() -> None:
    from scipy.stats import binomtest

    t = outlier_share_test(30, 1000, 0.01)
    assert t["share"] == 0.03
    assert t["p_value"] == pytest.approx(binomtest(30, 1000, 0.01, alternative="greater").pvalue)


@pytest.mark.parametrize("max_features", [1.0, 0.5], ids=["all-features", "feature-subsets"])
def test_the_isolation_scorer_gives_scikit_learns_scores(max_features: float) -> None:
    from sklearn.ensemble import IsolationForest

    from driftline.stats._forest import IsolationScorer

    rng = np.random.default_rng(3)
    x = rng.normal(size=(3000, 20))
    x[:, 3] = np.round(x[:, 3])  # ties: values exactly at a threshold go left, as in sklearn
    forest = IsolationForest(n_estimators=100, max_features=max_features, random_state=0)
    forest.fit(x[:1000])
    odd = np.vstack([x[1000:], rng.normal(4, 1, size=(50, 20)), np.zeros((1, 20))])
    odd[5, 2] = np.nan  # a missing value goes where scikit-learn's trees send it
    scorer = IsolationScorer(forest)
    np.testing.assert_allclose(scorer.score(odd), -forest.score_samples(odd), rtol=1e-12)


def test_the_isolation_forest_model_scores_as_scikit_learn_does(
    reference: driftline.DatasetProfile,
) -> None:
    model = OutlierModel("isolation_forest").fit(reference)
    table = pa.Table.from_pandas(frame(500, 2), preserve_index=False)
    x = model.encoder.design(_sample_of(table, model.encoder))
    from sklearn.ensemble import IsolationForest

    ref = model.encoder.design(joint_sample(reference, ["a", "b", "c"], ["k"]))
    fit = ref[np.random.default_rng(0).permutation(ref.shape[0])[:2000]]
    forest = IsolationForest(n_estimators=100, random_state=0).fit(fit)
    np.testing.assert_allclose(model.score(table), -forest.score_samples(x), rtol=1e-12)


def _awkward(n: int, seed: int) -> pd.DataFrame:
    """Constant columns, thousands of levels, an ID-like column and missing values."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n)
    a[rng.random(n) < 0.3] = np.nan  # 30% missing
    k = rng.choice(["x", "y", None], n)  # missing categories
    return pd.DataFrame(
        {
            "a": a,
            "b": rng.normal(size=n),
            "const_num": np.full(n, 7.0),
            "const_cat": ["same"] * n,
            "all_missing": np.full(n, np.nan),
            "levels": [f"L{i}" for i in rng.integers(0, 2500, n)],  # ~2,400 levels
            "id": [f"id-{i}" for i in range(n)],
            "k": k,
        }
    )


@pytest.mark.parametrize("method", ["mahalanobis", "isolation_forest"])
def test_awkward_reference_columns_are_dropped_or_bucketed_and_scores_stay_finite(
    method: str,
) -> None:
    ref = driftline.profile(_awkward(8000, 6), seed=0)
    model = OutlierModel(method).fit(ref)
    enc = model.encoder
    assert set(model.columns) == {"a", "b", "levels", "k"}  # the id column is ID-like
    assert enc.dropped == {
        "const_num": "constant in the reference sample",
        "all_missing": "constant in the reference sample",
        "const_cat": "constant in the reference sample",
    }
    assert len(enc.levels["levels"]) == 21  # the 20 most frequent and "other"
    cur = _awkward(500, 7)
    cur.loc[:10, "levels"] = "never-seen"
    cur.loc[:20, ["a", "b", "k"]] = None
    scores = model.score(pa.Table.from_pandas(cur, preserve_index=False))
    assert scores.shape == (500,) and np.isfinite(scores).all()
    # the wire document the SDK scores with gives the same numbers
    import json

    from driftline._utils.outlier_wire import WireModel

    wire = WireModel(json.loads(json.dumps(model.wire())))
    rows = [{k: (None if v != v else v) for k, v in r.items()} for r in cur.to_dict("records")]
    np.testing.assert_allclose(wire.score_rows(rows), scores, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("method", ["mahalanobis", "isolation_forest"])
def test_too_few_rows_or_only_constant_columns_say_so_and_do_not_decide(method: str) -> None:
    tiny = driftline.profile(frame(20, 5), seed=0)
    with pytest.raises(InputError, match="20 rows"):
        OutlierModel(method).fit(tiny)
    flat = driftline.profile(
        pd.DataFrame({"c": np.full(500, 3.0), "k": ["a"] * 500, "m": np.full(500, np.nan)}),
        seed=0,
    )
    with pytest.raises(InputError, match="0 usable feature columns"):
        OutlierModel(method).fit(flat)


def test_a_reference_without_numeric_or_categorical_columns_is_not_applicable() -> None:
    from driftline.stats.outliers import NoOutlierFeaturesError

    rng = np.random.default_rng(0)
    words = [" ".join(rng.choice(["how", "do", "i", "install", "it"], size=5)) for _ in range(200)]
    schema = {"question": {"kind": "text"}}
    text_only = driftline.profile(pd.DataFrame({"question": words}), schema, seed=0)
    with pytest.raises(NoOutlierFeaturesError, match="not applicable"):
        OutlierModel("mahalanobis").fit(text_only)


def test_a_reference_whose_only_features_are_constant_is_not_applicable() -> None:
    # the live demo's docs_assistant: a text question, its embedding and a constant
    # "channel"; its outlier model is not applicable (logged at info), not a warning
    from driftline.stats.outliers import NoOutlierFeaturesError

    rng = np.random.default_rng(0)
    words = [" ".join(rng.choice(["how", "do", "i", "install", "it"], size=5)) for _ in range(200)]
    data = pd.DataFrame({"channel": ["web"] * 200, "question": words})
    ref = driftline.profile(data, {"question": {"kind": "text"}}, seed=0)
    with pytest.raises(NoOutlierFeaturesError, match=r"not applicable.*\(channel\) is constant"):
        OutlierModel("mahalanobis").fit(ref)
