"""Embedding columns: the vector sketch, bad input, and every vector drift method
checked against a direct numpy / scipy / scikit-learn computation on the same vectors."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from scipy.stats import ks_2samp, mannwhitneyu

import driftline
from driftline.schema import ColumnSpec, Kind
from driftline.stats.accumulators import bottom_k_keys
from driftline.stats.accumulators.vectors import N_BINS, VectorSketch, block_signs, directions, scan
from driftline.stats.column_profile import ColumnProfile
from driftline.stats.drift.registry import DRIFT_METHODS, inputs_for

DIM = 24


def _vectors(n: int, seed: int, shift: float = 0.0, axis: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, DIM)) + shift * np.eye(DIM)[axis]


def _column(x: np.ndarray, seed: int = 1, reservoir: int = 10_000) -> ColumnProfile:
    prof = driftline.profile(
        {"e": x}, schema={"e": {"kind": "embedding"}}, seed=seed, reservoir_size=reservoir
    )
    return prof.columns["e"]


def _method(name: str, r: ColumnProfile, c: ColumnProfile, threshold: float = 0.05):
    return DRIFT_METHODS[name].compute(inputs_for(r, c), threshold)


# -- the sketch ----------------------------------------------------------------------------


def test_the_sketch_keeps_exact_sums_and_merges_like_one_pass() -> None:
    x = _vectors(3000, 1, shift=2.0)
    whole = _column(x, seed=3)
    parts = [_column(x[i : i + 1000], seed=10 + i) for i in range(0, 3000, 1000)]
    merged = parts[0]
    for p in parts[1:]:
        merged.merge(p)
    for col in (whole, merged):
        v = col.vectors
        assert v.n == 3000 and v.dim == DIM
        np.testing.assert_allclose(v.centroid, x.mean(axis=0), rtol=1e-9)
        assert v.projections[0].sum() == 3000
        assert v.sample.shape == (1000, DIM)  # bounded: 1,000 of the 3,000
    np.testing.assert_array_equal(whole.vectors.projections, merged.vectors.projections)
    # the sample is rows of the input
    rows = {tuple(np.round(r, 5)) for r in x.astype(np.float32)}
    assert all(tuple(np.round(r, 5)) in rows for r in merged.vectors.sample)
    back = ColumnProfile.from_bytes(merged.to_bytes()).vectors
    np.testing.assert_array_equal(back.total, merged.vectors.total)
    np.testing.assert_array_equal(back.sample, merged.vectors.sample)
    np.testing.assert_array_equal(back.projections, merged.vectors.projections)


def test_memory_does_not_grow_with_traffic() -> None:
    small = _column(_vectors(2_000, 1))
    big = _column(_vectors(40_000, 2))
    assert len(big.vectors.to_bytes()) <= len(small.vectors.to_bytes()) * 1.01
    assert big.vectors.sample.shape[0] == small.vectors.sample.shape[0] == 1000


def test_projection_counts_are_the_numpy_definition() -> None:
    x = _vectors(70_000, 4, shift=1.0).astype(np.float32)  # large: the compiled pass
    sq, total, counts = scan(x)
    unit = x.astype(np.float64) / np.linalg.norm(x.astype(np.float64), axis=1, keepdims=True)
    proj = unit @ directions(DIM)
    want = np.stack(
        [np.histogram(np.clip(p, -1, 1 - 1e-12), N_BINS, (-1.0, 1.0))[0] for p in proj.T]
    )
    assert np.abs(counts - want).sum() <= 10  # bin-edge rounding only
    np.testing.assert_allclose(sq, np.einsum("ij,ij->i", x, x), rtol=1e-5)
    np.testing.assert_allclose(total, x.astype(np.float64).sum(axis=0), rtol=1e-6, atol=1e-6)
    d = directions(DIM)
    np.testing.assert_allclose(d.T @ d, np.eye(block_signs(DIM).shape[0]), atol=1e-12)


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda x: {"e": x}, id="numpy-2d"),
        pytest.param(lambda x: {"e": x.astype(np.float32)}, id="numpy-float32"),
        pytest.param(lambda x: {"e": [list(r) for r in x]}, id="python-lists"),
        pytest.param(
            lambda x: pa.table(
                {"e": pa.FixedSizeListArray.from_arrays(pa.array(x.ravel()), x.shape[1])}
            ),
            id="arrow-fixed-size-list",
        ),
    ],
)
def test_vectors_come_as_numpy_lists_or_arrow(make) -> None:
    x = _vectors(500, 5, shift=3.0)
    prof = driftline.profile(make(x))
    col = prof.columns["e"]
    assert col.kind is Kind.EMBEDDING
    assert col.vectors.n == 500 and col.vectors.dim == DIM
    np.testing.assert_allclose(col.vectors.centroid, x.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(col.moments.mean, np.linalg.norm(x, axis=1).mean(), rtol=1e-5)


def test_bad_vectors_are_counted_by_reason_and_never_pollute_the_numbers() -> None:
    good = [[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 3.0]] * 20
    bad = [
        None,  # missing
        [1.0, 2.0],  # wrong dimension
        [1.0, 2.0, 3.0, 4.0],  # wrong dimension
        [float("nan"), 1.0, 1.0],  # non-finite
        [float("inf"), 1.0, 1.0],  # non-finite
        [0.0, 0.0, 0.0],  # zero vector: a norm, no direction
    ]
    prof = driftline.profile({"e": good + bad}, schema={"e": {"kind": "embedding"}})
    col = prof.columns["e"]
    assert (col.count, col.missing, col.type_errors, col.non_finite) == (66, 1, 2, 2)
    assert col.vectors.n == 61 and col.vectors.zero == 1
    np.testing.assert_allclose(col.vectors.total, [20.0, 40.0, 60.0])
    assert col.moments.n == 61 and col.moments.min == 0.0 and col.moments.max == 3.0
    # the report says it, per column, with a reason
    report = driftline.compare({"e": good * 2}, {"e": good + bad}, multivariate=False).to_dict()
    checks = {q["check"]: q for q in report["columns"]["e"]["quality"]}
    assert checks["type_errors"]["details"]["count"] == 2
    assert checks["non_finite"]["details"]["count"] == 2
    summary = report["columns"]["e"]["summary"]["current"]
    assert summary["dimension"] == 3 and summary["zero_vectors"] == 1


def test_a_dimension_change_between_sides_is_not_comparable() -> None:
    r = _column(_vectors(300, 1))
    c = _column(np.random.default_rng(2).normal(size=(300, 8)))
    for name in ("mmd", "centroid_cosine", "out_of_domain", "projection_ks"):
        res = _method(name, r, c)
        assert res.drifted is None and "dimension" in res.details["reason"], name


# -- each method against a direct computation ------------------------------------------------


@pytest.fixture(scope="module")
def shifted() -> tuple[ColumnProfile, ColumnProfile, np.ndarray, np.ndarray]:
    ref = _vectors(800, 11, shift=2.0, axis=0)
    cur = np.vstack([_vectors(600, 12, shift=2.0, axis=0), _vectors(200, 13, shift=4.0, axis=3)])
    return _column(ref, 1), _column(cur, 2), ref, cur


def test_centroid_cosine_is_the_cosine_distance_of_the_means(shifted) -> None:
    r, c, ref, cur = shifted
    a, b = ref.mean(axis=0), cur.mean(axis=0)
    want = 1 - a @ b / (np.linalg.norm(a) * np.linalg.norm(b))
    res = _method("centroid_cosine", r, c)
    assert res.statistic == pytest.approx(want, rel=1e-9)
    assert res.computed == "exact" and res.drifted == (want >= 0.05)


def test_norm_ks_is_scipy_ks_on_the_norms(shifted) -> None:
    r, c, ref, cur = shifted
    want = ks_2samp(np.linalg.norm(ref, axis=1), np.linalg.norm(cur, axis=1))
    res = _method("norm_ks", r, c)
    assert res.statistic == pytest.approx(want.statistic, abs=1e-12)
    assert res.p_value == pytest.approx(want.pvalue, rel=1e-6)


def test_unit_vectors_do_not_drift_on_rounding_of_their_norms() -> None:
    x = _vectors(500, 1)
    y = _vectors(500, 2)
    r = _column(x / np.linalg.norm(x, axis=1, keepdims=True))
    c = _column((y / np.linalg.norm(y, axis=1, keepdims=True)).astype(np.float32))
    res = _method("norm_ks", r, c)
    assert res.drifted is False and "normalised" in res.details["reason"]


def test_out_of_domain_is_the_share_below_the_reference_cut(shifted) -> None:
    r, c, ref, cur = shifted
    ru = ref / np.linalg.norm(ref, axis=1, keepdims=True)
    cu = cur / np.linalg.norm(cur, axis=1, keepdims=True)
    loo = ru @ ru.T
    np.fill_diagonal(loo, -np.inf)
    cut = np.quantile(loo.max(axis=1), 0.05)
    share = np.mean((cu @ ru.T).max(axis=1) < cut)
    res = _method("out_of_domain", r, c)
    assert res.details["similarity_cut"] == pytest.approx(cut, abs=1e-6)
    assert res.statistic == pytest.approx(share)
    assert res.drifted is True and share > 0.1  # 200 of 800 vectors moved to another axis


def test_mmd_is_the_unbiased_statistic_with_the_reported_width(shifted) -> None:
    r, c, _, _ = shifted
    res = _method("mmd", r, c)
    # the sample is the first 1,000 of neither: 800 a side here, so all of them
    x = r.vectors.ordered_sample().astype(np.float64)
    y = c.vectors.ordered_sample().astype(np.float64)
    width = res.details["kernel_width"]

    def k(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        d2 = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
        return np.exp(-d2 / (2 * width**2))

    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    n, m = len(x), len(y)
    want = (
        (kxx.sum() - np.trace(kxx)) / (n * (n - 1))
        + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
        - 2 * kxy.mean()
    )
    assert res.statistic == pytest.approx(want, rel=1e-6)
    assert res.p_value == pytest.approx(1 / 201) and res.drifted is True
    assert res.computed == "exact"


def test_domain_classifier_is_sklearn_cross_fitted_auc(shifted) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    r, c, _, _ = shifted
    res = _method("domain_classifier", r, c)
    x = np.vstack([r.vectors.ordered_sample(), c.vectors.ordered_sample()]).astype(np.float64)
    # the method shuffles nothing when both samples fit: same rows, same folds
    y = np.r_[np.zeros(800), np.ones(800)]
    folds = StratifiedKFold(3, shuffle=True, random_state=0)
    scores = cross_val_predict(
        LogisticRegression(C=0.1, max_iter=500), x, y, cv=folds, method="decision_function"
    )
    assert res.statistic == pytest.approx(roc_auc_score(y, scores), abs=1e-6)
    # each fold's Mann-Whitney test is exact; the folds are dependent: Bonferroni over them
    fold_p = [
        mannwhitneyu(scores[t][y[t] == 1], scores[t][y[t] == 0], alternative="greater").pvalue
        for _, t in folds.split(x, y)
    ]
    assert res.p_value == pytest.approx(min(1.0, 3 * min(fold_p)), rel=1e-6)
    assert res.drifted is True


def test_domain_classifier_false_alarms_stay_near_alpha_on_small_windows() -> None:
    """With no drift, the pooled Mann-Whitney test of the folds' held-out scores rejected about
    twice alpha (the folds' models learn each other's chance differences); Bonferroni over the
    folds does not. 200 / 60 Gaussian rows, 200 trials (benchmarks/classifier_null.py)."""
    from driftline.stats.drift.embedding_classifier import vector_classifier

    rng = np.random.default_rng(2026)
    rejected = 0
    for t in range(200):
        res = vector_classifier(rng.normal(size=(200, 8)), rng.normal(size=(60, 8)), seed=t)
        rejected += bool(res.p_value is not None and res.p_value < 0.05)
    assert rejected <= 16, rejected  # 8 %: a 5 % test exceeds it with probability 0.02


def test_projection_ks_is_ks_on_the_binned_projections(shifted) -> None:
    r, c, ref, cur = shifted
    d = directions(DIM)

    def cdf(x: np.ndarray) -> np.ndarray:
        u = (x / np.linalg.norm(x, axis=1, keepdims=True)) @ d
        h = np.stack([np.histogram(p, N_BINS, (-1.0, 1.0))[0] for p in u.T])
        return np.cumsum(h, axis=1) / len(x)

    gaps = np.abs(cdf(ref) - cdf(cur)).max(axis=1)
    res = _method("projection_ks", r, c)
    assert res.statistic == pytest.approx(gaps.max(), abs=2 / 800)  # bin-edge rounding
    assert res.drifted is True


# -- the cases -------------------------------------------------------------------------


def test_a_rotated_centroid_with_the_same_norms_is_drift() -> None:
    """Issue 20: centroid cosine similarity 0.007, same norms: was "not drifted"."""
    rng = np.random.default_rng(20)
    dim = 64
    ref = rng.normal(size=(2000, dim)) * 0.3 + np.eye(dim)[0] * 3
    turned = np.eye(dim)[1] * 3 + np.eye(dim)[0] * 0.021
    cur = rng.normal(size=(2000, dim)) * 0.3 + turned
    report = driftline.compare({"q": ref}, {"q": cur}, multivariate=False).to_dict()
    col = report["columns"]["q"]
    sim = col["metrics"]["centroid_cosine"]["details"]["cosine_similarity"]
    assert sim == pytest.approx(0.007, abs=0.003)
    assert col["metrics"]["norm_ks"]["drifted"] is False  # the norms did not change
    assert col["drift"]["drifted"] is True and col["drift"]["method"] == "mmd"
    assert report["dataset"]["drifted"] is True and "q" in report["dataset"]["drifted_columns"]
    for m in ("centroid_cosine", "mmd", "domain_classifier", "out_of_domain", "projection_ks"):
        assert col["metrics"][m]["drifted"] is True, m
    # the report's 2-D picture: both samples on the reference's first two principal axes
    pic = col["projection"]
    assert len(pic["reference"][0]) == len(pic["current"][1]) == 300
    ref_x, cur_x = np.mean(pic["reference"][0]), np.mean(pic["current"][0])
    assert abs(ref_x - cur_x) > 1.0  # the turned cloud sits elsewhere on the first axis
    html = driftline.compare({"q": ref}, {"q": cur}, multivariate=False).to_html()
    assert 'data-chart="proj"' in html and '"projections"' in html


def test_the_same_distribution_is_not_drift_and_counts_in_the_verdict() -> None:
    rng = np.random.default_rng(3)
    ref = {"q": rng.normal(size=(1500, 32)) + 1.0, "x": rng.normal(size=1500)}
    cur = {"q": rng.normal(size=(1500, 32)) + 1.0, "x": rng.normal(size=1500)}
    report = driftline.compare(ref, cur, multivariate=False).to_dict()
    assert report["dataset"]["verdict"] == "no_drift"
    assert report["dataset"]["methods"]["auto"] == ["q", "x"]
    assert report["columns"]["q"]["drift"]["drifted"] is False


def test_a_method_named_for_an_embedding_column_decides() -> None:
    rng = np.random.default_rng(4)
    ref = {"q": rng.normal(size=(500, 16)) + 2.0}
    shifted = rng.normal(size=(500, 16)) + 2.0
    shifted[:, 0] += 0.5  # turns the mean by about 0.002 in cosine distance
    cur = {"q": shifted}
    report = driftline.compare(
        ref,
        cur,
        per_column={"q": "centroid_cosine"},
        thresholds={"centroid_cosine": 1e-3},
        multivariate=False,
    ).to_dict()
    drift = report["columns"]["q"]["drift"]
    assert drift["method"] == "centroid_cosine"
    assert drift["drifted"] is True and drift["p_value"] is None  # a distance, not a test
    assert (
        drift["details"]["guard_p_value"] < 0.05
    )  # the threshold decides, sampling does not explain it
    # ... when sampling cannot explain the distance: the same data is not drift at any threshold
    same = driftline.compare(
        ref, ref, per_column={"q": "centroid_cosine"}, thresholds={"centroid_cosine": 0.0},
        multivariate=False,
    ).to_dict()  # fmt: skip
    assert same["columns"]["q"]["drift"]["drifted"] is False
    with pytest.raises(driftline.errors.ConfigError, match="does not apply"):
        driftline.compare(ref, cur, per_column={"q": "psi"})


def test_too_few_vectors_is_said_not_guessed() -> None:
    report = driftline.compare(
        {"q": _vectors(10, 1)}, {"q": _vectors(10, 2)}, multivariate=False
    ).to_dict()
    assert report["columns"]["q"]["drift"]["drifted"] is None
    assert report["dataset"]["verdict"] == "insufficient_data"


def test_profile_sample_lines_up_with_the_column_reservoir() -> None:
    x = _vectors(5000, 9)
    col = ColumnProfile(ColumnSpec("e", Kind.EMBEDDING))
    rng = np.random.default_rng(0)
    idx, keys = bottom_k_keys(5000, 10_000, rng)
    arr = pa.chunked_array([pa.FixedSizeListArray.from_arrays(pa.array(x.ravel()), DIM)])
    col.update(arr, idx, keys, rng)
    small = np.sort(col.reservoir.keys)[:1000]
    np.testing.assert_array_equal(np.sort(col.vectors.keys), small)
    sketch = VectorSketch.from_bytes(col.vectors.to_bytes())
    assert sketch.n == 5000
