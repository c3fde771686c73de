"""RegressionMetrics against scikit-learn, its definitions and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from driftline.errors import InputError, ProfileFormatError
from driftline.stats.performance import REGRESSION_METRICS, RegressionMetrics

TOL = 1e-9


@pytest.mark.parametrize("seed", range(6))
def test_matches_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 300 + 500 * seed
    y = rng.normal(50, 20, n) * (1 + seed)
    y_pred = y + rng.standard_t(3, n) * 5 + 1.5
    acc = RegressionMetrics()
    for part in np.array_split(np.arange(n), 4):
        acc.update(y[part], y_pred[part])
    r = acc.results()
    assert r["mae"] == pytest.approx(skm.mean_absolute_error(y, y_pred), rel=TOL, abs=TOL)
    assert r["rmse"] == pytest.approx(skm.root_mean_squared_error(y, y_pred), rel=TOL, abs=TOL)
    assert r["mape"] == pytest.approx(
        skm.mean_absolute_percentage_error(y, y_pred), rel=TOL, abs=TOL
    )
    assert r["r2"] == pytest.approx(skm.r2_score(y, y_pred), rel=TOL, abs=TOL)
    assert r["bias"] == pytest.approx(np.mean(y_pred - y), rel=TOL, abs=TOL)
    assert r["n"] == n and r["computed"] == "exact" and set(REGRESSION_METRICS) <= set(r)
    err = y_pred - y
    assert r["error_quantiles"]["p05"] == pytest.approx(np.quantile(err, 0.05), abs=TOL)
    assert r["error_quantiles"]["p50"] == pytest.approx(np.median(err), abs=TOL)
    assert r["abs_error_quantiles"]["p99"] == pytest.approx(np.quantile(abs(err), 0.99), abs=TOL)


def test_zero_targets_are_left_out_of_mape_and_counted() -> None:
    y = np.array([0.0, 2.0, 4.0, 0.0, 10.0])
    y_pred = np.array([1.0, 1.0, 5.0, -1.0, 12.0])
    r = RegressionMetrics().update(y, y_pred).results()
    nz = y != 0
    assert r["mape"] == pytest.approx(skm.mean_absolute_percentage_error(y[nz], y_pred[nz]))
    assert r["excluded"]["zero_target"] == 2 and r["n_mape"] == 3
    assert r["mae"] == pytest.approx(skm.mean_absolute_error(y, y_pred))  # zeros still count
    only_zero = RegressionMetrics().update([0.0], [1.0]).results()
    assert only_zero["mape"] is None


def test_constant_target_r2_follows_sklearn() -> None:
    assert RegressionMetrics().update([3.0, 3.0], [3.0, 3.0]).results()["r2"] == 1.0
    assert RegressionMetrics().update([3.0, 3.0], [3.0, 4.0]).results()["r2"] == 0.0


def test_missing_values_are_excluded_and_counted() -> None:
    r = RegressionMetrics().update([1.0, np.nan, 3.0, None], [1.5, 2.0, np.nan, 1.0]).results()
    assert r["n"] == 1 and r["mae"] == 0.5
    assert r["excluded"]["missing_label"] == 2 and r["excluded"]["missing_prediction"] == 1


def test_sketch_quantiles_beyond_the_exact_cap() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(size=50_000)
    y_pred = y + rng.normal(size=y.size)
    acc = RegressionMetrics(exact_cap=1_000)
    for part in np.array_split(np.arange(y.size), 10):
        acc.update(y[part], y_pred[part])
    r = acc.results()
    assert r["computed"] == "sketch"
    err = y_pred - y
    for q, name in ((0.05, "p05"), (0.5, "p50"), (0.95, "p95")):
        # KLL at k=200: normalised rank error well below 2 %
        rank = np.mean(err <= r["error_quantiles"][name])
        assert abs(rank - q) < 0.02
    assert r["mae"] == pytest.approx(skm.mean_absolute_error(y, y_pred), rel=TOL)


@pytest.mark.parametrize(
    ("y_true", "y_pred", "match"),
    [
        pytest.param(["a", "b"], [1.0, 2.0], "y_true: regression values must be numbers", id="str"),
        pytest.param([1.0, 2.0], [1.0], "y_pred: has 1 rows but y_true has 2", id="length"),
        pytest.param([1.0, np.inf], [1.0, 2.0], "y_true: infinite", id="inf"),
        pytest.param([[1.0]], [1.0], "y_true: expected a 1-d", id="2d"),
    ],
)
def test_bad_input_raises_naming_the_field(y_true: object, y_pred: object, match: str) -> None:
    with pytest.raises(InputError, match=match):
        RegressionMetrics().update(y_true, y_pred)


def test_corrupt_bytes_raise() -> None:
    data = RegressionMetrics().update([1.0, 2.0], [1.5, 2.5]).to_bytes()
    with pytest.raises(ProfileFormatError):
        RegressionMetrics.from_bytes(data[:20])
    with pytest.raises(ProfileFormatError, match="classification accumulator, got 'regression'"):
        from driftline.stats.performance import ClassificationMetrics

        ClassificationMetrics.from_bytes(data)
