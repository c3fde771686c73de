"""Standard errors of sampled metrics match the spread of the metric over repeated samples."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score, roc_auc_score

from driftline.stats.performance import ClassificationMetrics, RegressionMetrics
from driftline.stats.performance.uncertainty import (
    auc_se,
    proportion_se,
    standard_errors,
)


def _binary_window(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = rng.normal(size=n)
    p = 1 / (1 + np.exp(-(1.5 * x + 0.3)))
    y = (rng.random(n) < p).astype(int)
    return y, (p > 0.5).astype(int), p


@pytest.mark.parametrize("n", [60, 400], ids=["60-rows", "400-rows"])
def test_classification_errors_match_the_spread_over_windows(n: int) -> None:
    rng = np.random.default_rng(0)
    realized: dict[str, list[float]] = {"accuracy": [], "f1": [], "precision": [], "roc_auc": []}
    predicted: dict[str, list[float]] = {k: [] for k in realized}
    for _ in range(300):
        y, pred, p = _binary_window(rng, n)
        res = ClassificationMetrics([0, 1]).update(y, pred, p).results()
        se = standard_errors(res)
        for k in realized:
            realized[k].append(res[k])
            predicted[k].append(se[k])
    for k in realized:
        spread = float(np.std(realized[k], ddof=1))
        # within 20 %: the standard error is an estimate from one window
        assert np.mean(predicted[k]) == pytest.approx(spread, rel=0.2), k


def test_f1_error_agrees_with_scikit_learn_bootstrap() -> None:
    rng = np.random.default_rng(1)
    y, pred, p = _binary_window(rng, 300)
    res = ClassificationMetrics([0, 1]).update(y, pred, p).results()
    boot = []
    for _ in range(1000):
        i = rng.integers(0, y.size, y.size)
        boot.append(f1_score(y[i], pred[i]))
    assert standard_errors(res)["f1"] == pytest.approx(np.std(boot), rel=0.15)
    auc_boot = []
    for _ in range(500):
        i = rng.integers(0, y.size, y.size)
        auc_boot.append(roc_auc_score(y[i], p[i]))
    assert standard_errors(res)["roc_auc"] == pytest.approx(np.std(auc_boot), rel=0.2)


def test_multiclass_macro_metrics_get_errors() -> None:
    rng = np.random.default_rng(2)
    y = rng.integers(0, 3, 500)
    pred = np.where(rng.random(500) < 0.7, y, rng.integers(0, 3, 500))
    res = ClassificationMetrics([0, 1, 2]).update(y, pred).results()
    se = standard_errors(res)
    assert set(se) >= {"accuracy", "f1", "f1_macro", "precision_weighted", "recall"}
    assert 0.01 < se["f1"] < 0.05


def test_shares_never_get_a_zero_error() -> None:
    """25 right of 25 is not certainty: sqrt(p (1 - p) / n) would say 0."""
    assert proportion_se(25, 25) == pytest.approx((27 / 29 * 2 / 29 / 29) ** 0.5)  # Agresti-Coull
    assert proportion_se(0, 25) == pytest.approx(proportion_se(25, 25))
    assert proportion_se(0, 0) is None
    assert auc_se(1.0, 10, 10) > 0  # type: ignore[operator]
    # 1 on 18 positives and 12 negatives: the value - 1.96 errors reaches the score
    # interval's 0.875 (Hanley & McNeil's error at the value was 0.0002)
    assert 1 - 1.96 * auc_se(1.0, 18, 12) == pytest.approx(0.875, abs=0.003)  # type: ignore[operator]
    # mid-range: the lower side, 0.676, a little wider than Hanley & McNeil at the value (0.0344)
    assert auc_se(0.75, 100, 100) == pytest.approx(0.0378, abs=0.001)
    assert auc_se(0.8, 0, 10) is None


def test_regression_errors_match_the_spread_over_windows() -> None:
    rng = np.random.default_rng(3)
    maes, rmses, se_mae, se_rmse = [], [], [], []
    for _ in range(300):
        y = rng.normal(size=200)
        pred = y + rng.normal(scale=0.5, size=200)
        res = RegressionMetrics().update(y, pred).results()
        se = standard_errors(res)
        maes.append(res["mae"])
        rmses.append(res["rmse"])
        se_mae.append(se["mae"])
        se_rmse.append(se["rmse"])
    assert np.mean(se_mae) == pytest.approx(np.std(maes, ddof=1), rel=0.15)
    assert np.mean(se_rmse) == pytest.approx(np.std(rmses, ddof=1), rel=0.15)
