"""CBPE and DLE: estimates track realized metrics, bands cover, bad input is refused."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from driftline.errors import InputError
from driftline.stats.estimation import CBPE, DLE


def _binary(rng: np.random.Generator, n: int, shift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    x = rng.normal(shift, 1, n)
    p = 1 / (1 + np.exp(-2 * x))
    return p, (rng.random(n) < p).astype(int)


def _realized_binary(y: np.ndarray, s: np.ndarray) -> dict[str, float]:
    y_pred = (s >= 0.5).astype(int)
    return {
        "roc_auc": skm.roc_auc_score(y, s),
        "accuracy": skm.accuracy_score(y, y_pred),
        "precision": skm.precision_score(y, y_pred, zero_division=0),
        "recall": skm.recall_score(y, y_pred),
        "f1": skm.f1_score(y, y_pred),
    }


def test_calibrated_scores_are_left_alone_and_estimates_cover() -> None:
    rng = np.random.default_rng(0)
    cbpe = CBPE().fit(*_binary(rng, 5000))
    assert not cbpe.calibrated
    assert cbpe.calibration_tests[0].ece < cbpe.calibration_tests[0].threshold + 0.02
    hits, total = 0, 0
    for shift in (-1.0, 0.0, 0.5, 1.0):
        for _ in range(5):
            s, y = _binary(rng, 1000, shift)
            est = cbpe.estimate(s)
            for name, real in _realized_binary(y, s).items():
                b = est[name]
                assert b["lower"] <= b["value"] <= b["upper"]
                assert abs(b["value"] - real) < max(0.05, b["upper"] - b["lower"]), (shift, name)
                hits += b["lower"] <= real <= b["upper"]
                total += 1
    assert hits / total > 0.85  # nominal 95 %


def test_miscalibrated_scores_are_calibrated_with_isotonic() -> None:
    rng = np.random.default_rng(1)
    p, y = _binary(rng, 5000)
    cbpe = CBPE().fit(p**3, y)  # far too low probabilities
    assert cbpe.calibrated and cbpe.calibration_tests[0].miscalibrated
    s, y = _binary(rng, 2000, 0.3)
    est = cbpe.estimate(s**3)
    real = _realized_binary(y, s**3)
    for name in ("roc_auc", "accuracy", "f1"):
        assert abs(est[name]["value"] - real[name]) < 0.04, name
    assert not CBPE(calibration="never").fit(p**3, _binary(rng, 5000)[1]).calibrated


def test_multiclass_estimates_track_realized() -> None:
    rng = np.random.default_rng(2)

    def gen(n: int, shift: float) -> tuple[np.ndarray, np.ndarray]:
        logits = rng.normal(0, 1, (n, 3)) * 2 + np.array([shift, 0, -shift])
        proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        y = (proba.cumsum(axis=1) > rng.random((n, 1))).argmax(axis=1)
        return proba, y

    names = np.array(list("abc"))
    ref_proba, ref_y = gen(4000, 0)
    cbpe = CBPE(classes=["a", "b", "c"]).fit(ref_proba, names[ref_y])
    assert not cbpe.calibrated
    proba, y = gen(3000, 1.0)
    est = cbpe.estimate(proba, names[proba.argmax(axis=1)])
    y_pred = proba.argmax(axis=1)
    assert abs(est["accuracy"]["value"] - skm.accuracy_score(y, y_pred)) < 0.03
    assert abs(est["f1"]["value"] - skm.f1_score(y, y_pred, average="macro")) < 0.03
    auc = skm.roc_auc_score(y, proba, multi_class="ovr")
    assert abs(est["roc_auc"]["value"] - auc) < 0.03


def test_cbpe_result_counts_exclusions() -> None:
    rng = np.random.default_rng(3)
    cbpe = CBPE().fit(*_binary(rng, 500))
    s, _ = _binary(rng, 200)
    s[:7] = np.nan
    result = cbpe.estimate_result(s)
    assert result.n == 193 and result.excluded["nan_score"] == 7
    assert set(result.metrics) == {"roc_auc", "accuracy", "precision", "recall", "f1"}
    assert result.to_dict()["method"] == "cbpe"


@pytest.mark.parametrize(
    ("call", "match"),
    [
        pytest.param(lambda c: c.estimate([0.2, 0.4]), "call fit", id="unfitted"),
        pytest.param(lambda c: c.fit([0.2] * 30, ["x"] * 30), "at least 2 classes", id="1class"),
        pytest.param(lambda c: c.fit([0.2] * 30, [0.5] * 30), "non-integer", id="float-labels"),
        pytest.param(lambda c: c.fit([1.2] * 30, [0, 1] * 15), r"lie in \[0, 1\]", id="range"),
        pytest.param(lambda c: c.fit([0.2] * 29, [0, 1] * 15), "29 rows but y_true", id="len"),
    ],
)
def test_cbpe_bad_input(call: object, match: str) -> None:
    with pytest.raises(InputError, match=match):
        call(CBPE())  # type: ignore[operator]


def test_cbpe_unseen_predicted_class_and_unnormalised_rows() -> None:
    rng = np.random.default_rng(4)
    cbpe = CBPE().fit(*_binary(rng, 300))
    with pytest.raises(InputError, match=r"y_pred: classes \[7\]"):
        cbpe.estimate([0.2, 0.9], [0, 7])
    multi = CBPE(classes=[0, 1, 2])
    with pytest.raises(InputError, match="rows do not sum to 1"):
        multi.fit(np.full((30, 3), 0.5), [0, 1, 2] * 10)


def _regression(
    rng: np.random.Generator, n: int, shift: float = 0.0
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    x = rng.normal(shift, 1, (n, 2))
    group = rng.choice(["calm", "wild"], n, p=[0.7, 0.3])
    noise = (0.5 + np.abs(x[:, 0])) * np.where(group == "wild", 3.0, 1.0)
    pred = x @ np.array([1.0, 2.0])
    y = pred + rng.normal(0, 1, n) * noise
    return pd.DataFrame({"x0": x[:, 0], "x1": x[:, 1], "group": group}), pred, y


def test_dle_tracks_mae_and_rmse_under_shift() -> None:
    rng = np.random.default_rng(5)
    dle = DLE(max_iter=60, n_folds=3, n_threads=1).fit(*_regression(rng, 3000))
    for shift in (0.0, 0.7):
        features, pred, y = _regression(rng, 1500, shift)
        est = dle.estimate(features, pred)
        mae = skm.mean_absolute_error(y, pred)
        rmse = skm.root_mean_squared_error(y, pred)
        assert abs(est["mae"]["value"] - mae) / mae < 0.1, shift
        assert abs(est["rmse"]["value"] - rmse) / rmse < 0.15, shift
        assert est["mae"]["lower"] < est["mae"]["value"] < est["mae"]["upper"]
    # more "wild" rows -> larger estimated error
    features, pred, _ = _regression(rng, 1000)
    calm = dle.estimate(features[features.group == "calm"], pred[features.group == "calm"])
    wild = dle.estimate(features[features.group == "wild"], pred[features.group == "wild"])
    assert wild["mae"]["value"] > 2 * calm["mae"]["value"]


def test_dle_bad_input() -> None:
    rng = np.random.default_rng(6)
    features, pred, y = _regression(rng, 200)
    with pytest.raises(InputError, match="call fit"):
        DLE().estimate(features, pred)
    with pytest.raises(InputError, match="y_true: has 199 rows"):
        DLE().fit(features, pred, y[:-1])
    dle = DLE(max_iter=10, n_folds=2, n_threads=1).fit(features, pred, y)
    with pytest.raises(InputError, match=r"columns \['x1'\] of the reference are missing"):
        dle.estimate(features.drop(columns="x1"), pred)
    pred_nan = pred.copy()
    pred_nan[:3] = np.nan
    result = dle.estimate_result(features, pred_nan)
    assert result.n == 197 and result.excluded["missing_prediction"] == 3
    unseen = features.assign(group="never-seen")
    assert dle.estimate(unseen, pred)["mae"]["value"] > 0  # unseen category -> missing value
