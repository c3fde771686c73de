"""ClassificationMetrics against scikit-learn, its own definitions and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from driftline.errors import InputError, ProfileFormatError
from driftline.stats.performance import CLASSIFICATION_METRICS, ClassificationMetrics

TOL = 1e-9


def _binary(seed: int, n: int, ties: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    s = np.clip(rng.normal(0.35 + 0.3 * y, 0.2), 0, 1)
    if ties:
        s = np.round(s, 2)
    y_pred = (s >= 0.5).astype(int)
    flip = rng.random(n) < 0.05  # predictions need not follow the scores
    y_pred[flip] = 1 - y_pred[flip]
    return y, y_pred, s


def _multiclass(seed: int, n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.full(k, 0.7), n)
    y = (p.cumsum(axis=1) > rng.random((n, 1))).argmax(axis=1)
    y[:k] = np.arange(k)  # every class present
    return y, p


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("ties", [False, True], ids=["distinct", "ties"])
def test_binary_matches_sklearn(seed: int, ties: bool) -> None:
    y, y_pred, s = _binary(seed, 500 + 300 * seed, ties)
    acc = ClassificationMetrics([0, 1])
    for part in np.array_split(np.arange(y.size), 3):
        acc.update(y[part], y_pred[part], s[part])
    r = acc.results()
    p, rc, f, _ = skm.precision_recall_fscore_support(y, y_pred, average="binary")
    expected = {
        "accuracy": skm.accuracy_score(y, y_pred),
        "precision": p,
        "recall": rc,
        "f1": f,
        "f1_macro": skm.f1_score(y, y_pred, average="macro"),
        "f1_weighted": skm.f1_score(y, y_pred, average="weighted"),
        "precision_weighted": skm.precision_score(y, y_pred, average="weighted"),
        "recall_macro": skm.recall_score(y, y_pred, average="macro"),
        "roc_auc": skm.roc_auc_score(y, s),
        "pr_auc": skm.average_precision_score(y, s),
        "log_loss": skm.log_loss(y, s),
        "brier": skm.brier_score_loss(y, s),
    }
    for name, value in expected.items():
        assert r[name] == pytest.approx(value, abs=TOL), name
    assert r["computed"] == "exact" and r["n"] == y.size and r["task"] == "binary"
    assert r["confusion_matrix"] == skm.confusion_matrix(y, y_pred).tolist()
    assert set(CLASSIFICATION_METRICS) <= set(r)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("k", [3, 5])
def test_multiclass_matches_sklearn(seed: int, k: int) -> None:
    y_idx, proba = _multiclass(seed, 400 + 200 * seed, k)
    names = np.array([f"class_{i}" for i in range(k)])
    y = names[y_idx]
    y_pred = names[np.random.default_rng(seed).permutation(proba.argmax(axis=1))]
    acc = ClassificationMetrics(list(names))
    half = y.size // 2
    acc.update(y[:half], y_pred[:half], proba[:half]).update(y[half:], y_pred[half:], proba[half:])
    r = acc.results()
    assert r["task"] == "multiclass"
    for avg in ("macro", "weighted"):
        p, rc, f, _ = skm.precision_recall_fscore_support(y, y_pred, average=avg, labels=names)
        assert r[f"precision_{avg}"] == pytest.approx(p, abs=TOL)
        assert r[f"recall_{avg}"] == pytest.approx(rc, abs=TOL)
        assert r[f"f1_{avg}"] == pytest.approx(f, abs=TOL)
    assert r["f1"] == r["f1_macro"]
    per = skm.precision_recall_fscore_support(y, y_pred, labels=names)
    for i, c in enumerate(names):
        assert r["per_class"][c]["f1"] == pytest.approx(per[2][i], abs=TOL)
        assert r["per_class"][c]["support"] == per[3][i]
    assert r["accuracy"] == pytest.approx(skm.accuracy_score(y, y_pred), abs=TOL)
    assert r["roc_auc"] == pytest.approx(
        skm.roc_auc_score(y, proba, multi_class="ovr", average="macro", labels=names), abs=TOL
    )
    assert r["pr_auc"] == pytest.approx(skm.average_precision_score(y_idx, proba), abs=TOL)
    assert r["log_loss"] == pytest.approx(skm.log_loss(y, proba, labels=names), abs=TOL)
    assert r["brier"] == pytest.approx(skm.brier_score_loss(y, proba, labels=names), abs=TOL)
    assert r["confusion_matrix"] == skm.confusion_matrix(y, y_pred, labels=names).tolist()


def test_ece_matches_definition() -> None:
    y_idx, proba = _multiclass(7, 3000, 4)
    r = ClassificationMetrics([0, 1, 2, 3], ece_bins=10).update(y_idx, scores=proba).results()
    conf, top = proba.max(axis=1), proba.argmax(axis=1)
    bins = np.minimum((conf * 10).astype(int), 9)
    ece = sum(
        abs(np.mean(top[bins == b] == y_idx[bins == b]) - conf[bins == b].mean())
        * np.mean(bins == b)
        for b in range(10)
        if (bins == b).any()
    )
    assert r["ece"] == pytest.approx(ece, abs=TOL)
    # y_pred derived from scores when not given
    assert r["accuracy"] == pytest.approx(np.mean(top == y_idx), abs=TOL)


def test_perfectly_calibrated_scores_have_small_ece() -> None:
    rng = np.random.default_rng(3)
    s = rng.random(200_000)
    y = (rng.random(s.size) < s).astype(int)
    assert ClassificationMetrics([0, 1]).update(y, scores=s).results()["ece"] < 0.01


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda r, y: np.clip(r.normal(0.4 + 0.2 * y, 0.15), 0, 1), id="normal"),
        pytest.param(lambda r, y: np.round(r.beta(2 + 3 * y, 3), 3), id="ties"),
        pytest.param(lambda r, y: 0.5 + 1e-4 * r.random(y.size) + 1e-5 * y, id="one-bin"),
        pytest.param(lambda r, y: r.random(y.size) ** (4 - 3 * y), id="skewed"),
    ],
)
def test_binned_auc_within_reported_bound(make: object) -> None:
    rng = np.random.default_rng(11)
    y = rng.integers(0, 2, 20_000)
    s = make(rng, y)  # type: ignore[operator]
    exact = ClassificationMetrics([0, 1]).update(y, scores=s).results()
    binned_acc = ClassificationMetrics([0, 1], exact_cap=1_000, n_bins=2048)
    for part in np.array_split(np.arange(y.size), 7):
        binned_acc.update(y[part], scores=s[part])
    binned = binned_acc.results()
    assert exact["computed"] == "exact" and binned["computed"] == "bins"
    assert exact["roc_auc_error_bound"] == 0.0
    for name in ("roc_auc", "pr_auc"):
        bound = binned[f"{name}_error_bound"]
        assert abs(binned[name] - exact[name]) <= bound + 1e-12, name
    # everything that is not an AUC stays exact in binned mode
    for name in ("accuracy", "f1", "log_loss", "brier", "ece"):
        assert binned[name] == pytest.approx(exact[name], abs=TOL)


def test_binned_bound_is_tight_for_continuous_scores() -> None:
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 200_000)
    s = rng.beta(2 + 2 * y, 4 - y)
    r = ClassificationMetrics([0, 1], exact_cap=0, n_bins=4096).update(y, scores=s).results()
    assert r["roc_auc_error_bound"] < 2e-4
    assert r["pr_auc_error_bound"] < 5e-4
    assert abs(r["roc_auc"] - skm.roc_auc_score(y, s)) <= r["roc_auc_error_bound"]
    assert abs(r["pr_auc"] - skm.average_precision_score(y, s)) <= r["pr_auc_error_bound"]


def test_binned_multiclass_within_bound() -> None:
    y, proba = _multiclass(2, 30_000, 4)
    r = ClassificationMetrics(range(4), exact_cap=100).update(y, scores=proba).results()
    sk_auc = skm.roc_auc_score(y, proba, multi_class="ovr")
    assert r["computed"] == "bins"
    assert abs(r["roc_auc"] - sk_auc) <= r["roc_auc_error_bound"] + 1e-12
    assert abs(r["pr_auc"] - skm.average_precision_score(y, proba)) <= r["pr_auc_error_bound"]


def test_learned_classes_and_merge_of_different_class_sets() -> None:
    a = ClassificationMetrics().update(["cat", "dog"], ["cat", "cat"])
    b = ClassificationMetrics().update(["emu", "dog"], ["emu", "dog"])
    m = a.merge(b)
    assert m.classes == ["cat", "dog", "emu"]
    assert m.results()["confusion_matrix"] == [[1, 0, 0], [1, 1, 0], [0, 0, 1]]
    assert a.classes == ["cat", "dog"]  # inputs unchanged
    with pytest.raises(InputError, match="max_classes=3"):
        ClassificationMetrics(max_classes=3).update([1, 2, 3, 4], [1, 2, 3, 4])


def test_a_failed_update_leaves_state_unchanged() -> None:
    acc = ClassificationMetrics([0, 1]).update([0, 1], [0, 1], [0.2, 0.9])
    before = acc.to_bytes()
    with pytest.raises(InputError):
        acc.update([0, 1], [0, 1], [0.2, 1.7])
    with pytest.raises(InputError):
        acc.update([0, 1], [0, 5], [0.2, 0.7])
    assert acc.to_bytes() == before


# -- bad input ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("y_true", "y_pred", "match"),
    [
        pytest.param([0.0, 0.5], [0, 1], "y_true: .*non-integer numbers", id="float-labels"),
        pytest.param(["a", "b"], [0, 1], "y_true: labels are strings", id="str-vs-int"),
        pytest.param([0, 1], [[0, 1]], "y_pred: expected a 1-d", id="2d-pred"),
        pytest.param([0, 1, 1], [0, 1], "y_pred: has 2 rows but y_true has 3", id="length"),
        pytest.param([0, "a"], [0, 1], "not a mix of numbers and strings", id="mixed"),
        pytest.param([0, 2], [0, 1], r"y_true: classes \[2\] are not among", id="unseen"),
    ],
)
def test_bad_labels_raise_naming_the_field(y_true: object, y_pred: object, match: str) -> None:
    with pytest.raises(InputError, match=match):
        ClassificationMetrics([0, 1]).update(y_true, y_pred)


def test_unseen_classes_can_be_excluded_and_counted() -> None:
    acc = ClassificationMetrics([0, 1], on_unknown_class="exclude")
    r = acc.update([0, 1, 2, 1], [0, 1, 1, 3]).results()
    assert r["n"] == 2 and r["excluded"]["unknown_class"] == 2


def test_missing_labels_and_predictions_are_counted() -> None:
    r = ClassificationMetrics([0, 1]).update([0, None, 1, 1], [0, 1, np.nan, 1]).results()
    assert r["n"] == 2
    assert r["excluded"]["missing_label"] == 1 and r["excluded"]["missing_prediction"] == 1


def test_nan_scores_are_excluded_and_counted() -> None:
    y, y_pred, s = _binary(1, 400, False)
    s_nan = s.copy()
    s_nan[:10] = np.nan
    r = ClassificationMetrics([0, 1]).update(y, y_pred, s_nan).results()
    assert r["excluded"]["nan_score"] == 10
    assert r["n"] == 400 and r["n_scored"] == 390
    assert r["roc_auc"] == pytest.approx(skm.roc_auc_score(y[10:], s[10:]), abs=TOL)


def test_probabilities_not_summing_to_one_raise_or_renormalise() -> None:
    proba = np.array([[0.2, 0.3, 0.5], [0.5, 0.5, 0.5], [0.1, 0.1, 0.1]])
    with pytest.raises(InputError, match="scores: 2 rows do not sum to 1"):
        ClassificationMetrics([0, 1, 2]).update([0, 1, 2], scores=proba)
    acc = ClassificationMetrics([0, 1, 2], on_unnormalised="renormalise")
    r = acc.update([0, 1, 2], scores=proba).results()
    assert r["excluded"]["renormalised"] == 2
    fixed = proba / proba.sum(axis=1, keepdims=True)
    assert r["log_loss"] == pytest.approx(skm.log_loss([0, 1, 2], fixed), abs=TOL)


@pytest.mark.parametrize(
    ("classes", "scores", "match"),
    [
        pytest.param([0, 1], [0.2, 1.5], r"scores: probabilities must lie in \[0, 1\]", id="gt1"),
        pytest.param([0, 1, 2], [0.2, 0.5], "1-d score is only allowed for 2 classes", id="1d"),
        pytest.param([0, 1], [[0.5, 0.5]], "scores: has 1 rows but y_true has 2", id="rows"),
        pytest.param([0, 1], [[0.2, 0.3, 0.5]] * 2, r"expected shape \(2, 2\)", id="cols"),
        pytest.param([0, 1], ["a", "b"], "scores: must be numbers", id="strings"),
        pytest.param(None, [0.2, 0.5], "pass classes=", id="no-classes"),
    ],
)
def test_bad_scores_raise(classes: list[int] | None, scores: object, match: str) -> None:
    with pytest.raises(InputError, match=match):
        ClassificationMetrics(classes).update([0, 1], [0, 1], scores)


def test_undefined_metrics_are_none() -> None:
    r = ClassificationMetrics([0, 1]).update([1, 1], scores=[0.3, 0.9]).results()
    assert r["roc_auc"] is None and r["accuracy"] == 0.5
    empty = ClassificationMetrics([0, 1]).results()
    assert empty["accuracy"] is None and empty["computed"] == "labels" and empty["n"] == 0


def test_merge_refuses_other_settings() -> None:
    with pytest.raises(InputError, match="classes differ"):
        ClassificationMetrics([0, 1]).merge(ClassificationMetrics([1, 2]))
    with pytest.raises(InputError, match="settings differ"):
        ClassificationMetrics([0, 1]).merge(ClassificationMetrics([0, 1], n_bins=64))


def test_corrupt_or_unknown_bytes_raise_profile_format_error() -> None:
    data = ClassificationMetrics([0, 1]).update([0, 1], scores=[0.1, 0.8]).to_bytes()
    with pytest.raises(ProfileFormatError, match="checksum"):
        ClassificationMetrics.from_bytes(data[:-9] + b"x" + data[-8:])
    with pytest.raises(ProfileFormatError, match="magic"):
        ClassificationMetrics.from_bytes(b"nonsense")
    future = bytearray(data[:-4])
    future[4] = 99
    import struct
    import zlib

    with pytest.raises(ProfileFormatError, match="unknown format version 99"):
        ClassificationMetrics.from_bytes(bytes(future) + struct.pack("<I", zlib.crc32(future)))


def test_pandas_and_pyarrow_columns_are_accepted() -> None:
    import pandas as pd
    import pyarrow as pa

    y = pd.Series(["no", "yes", None, "yes"])
    y_pred = pa.array(["no", "yes", "yes", None])
    scores = pd.DataFrame({"no": [0.9, 0.2, 0.4, 0.5], "yes": [0.1, 0.8, 0.6, 0.5]})
    r = ClassificationMetrics(["no", "yes"]).update(y, y_pred, scores).results()
    assert r["n"] == 2 and r["accuracy"] == 1.0 and r["n_scored"] == 3
    assert r["excluded"]["missing_label"] == 1 and r["excluded"]["missing_prediction"] == 1
    assert r["positive_class"] == "yes"
    nullable = pd.Series([0, 1, None], dtype="Int64")
    assert ClassificationMetrics([0, 1]).update(nullable, [0, 1, 1]).results()["n"] == 2


def test_score_frame_columns_are_matched_to_classes_by_name() -> None:
    import pandas as pd

    y_idx, proba = _multiclass(8, 300, 3)
    names = np.array(["a", "b", "c"])
    frame = pd.DataFrame(proba, columns=names)[["c", "a", "b"]]  # shuffled columns
    r = ClassificationMetrics(["a", "b", "c"]).update(names[y_idx], scores=frame).results()
    assert r["log_loss"] == pytest.approx(skm.log_loss(names[y_idx], proba), abs=TOL)
