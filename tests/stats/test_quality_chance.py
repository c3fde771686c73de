"""Range checks tell chance from a fault: a few values past a bound in a small window are
what the reference's own distribution gives; the same share on many rows is not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import betabinom, binom

import driftline


def _check(report: driftline.Report, name: str) -> dict[str, object]:
    return next(q for q in report.column("x")["quality"] if q["check"] == name)


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return pd.DataFrame({"x": np.random.default_rng(0).normal(0, 1, 20_000)})


def window(reference: pd.DataFrame, n: int, beyond: int, seed: int) -> pd.DataFrame:
    """``n`` rows, ``beyond`` of them well past the reference's 99th percentile."""
    rng = np.random.default_rng(seed)
    q01, q99 = np.quantile(reference["x"], [0.01, 0.99])
    inside = rng.uniform(q01 + 0.2, q99 - 0.2, n - beyond)
    return pd.DataFrame({"x": np.r_[inside, np.full(beyond, q99 + 0.4)]})


def test_3_of_51_past_the_percentiles_is_chance_and_says_so(reference: pd.DataFrame) -> None:
    report = driftline.compare(reference, window(reference, 51, 3, 1), seed=0)
    check = _check(report, "out_of_quantile_range")
    assert check["value"] == pytest.approx(3 / 51)  # above the 5% fail threshold ...
    assert check["status"] == "ok"  # ... but what 2% gives one window in twelve
    details = check["details"]
    assert isinstance(details, dict)
    n = len(reference)  # the percentiles are estimated from n values: beta-binomial
    assert details["p_value"] == pytest.approx(betabinom.sf(2, 51, 0.02 * (n + 1), 0.98 * (n + 1)))
    assert details["p_value"] == pytest.approx(binom.sf(2, 51, 0.02), rel=0.01)  # n is large
    assert details["reason"] == "3 of 51 is within what chance gives (expected 2.00%)"


def test_the_same_share_on_500_rows_fails(reference: pd.DataFrame) -> None:
    report = driftline.compare(reference, window(reference, 500, 30, 2), seed=0)
    check = _check(report, "out_of_quantile_range")
    assert check["value"] == pytest.approx(30 / 500)
    assert check["status"] == "fail"
    assert "reason" not in check["details"]  # type: ignore[operator]


def test_one_value_past_a_small_references_max_is_expected(reference: pd.DataFrame) -> None:
    small = reference.head(142)  # the size of the wine data's training split
    cur = pd.DataFrame({"x": np.r_[np.zeros(64), [float(small["x"].max()) + 0.5]]})
    check = _check(driftline.compare(small, cur, seed=0), "out_of_range")
    assert check["value"] == pytest.approx(1 / 65)
    assert check["threshold"] == pytest.approx(0.01 + 2 / 143)  # expected 2/(n+1) added
    assert check["status"] == "ok"


def test_a_one_row_reference_fails_no_range_check(reference: pd.DataFrame) -> None:
    """One reference row has no 1st/99th percentiles of its own: values beyond them are
    expected (2/(n+1) = 100%), so no range check fails on it; each says the reference is
    too small to decide (``insufficient``), and so does the sample-size check."""
    report = driftline.compare(reference.head(1), reference.iloc[1:201], seed=0)
    for name in ("out_of_range", "out_of_quantile_range"):
        check = _check(report, name)
        assert check["status"] == "insufficient", (name, check)
    quantile = _check(report, "out_of_quantile_range")
    assert quantile["details"]["expected"] == pytest.approx(1.0)  # type: ignore[index]
    assert "insufficient data" in report.summary()


def test_a_50_row_reference_expects_2_of_51_beyond_its_percentiles(
    reference: pd.DataFrame,
) -> None:
    small = reference.head(50)
    cur = pd.DataFrame({"x": np.r_[np.zeros(196), np.full(4, float(small["x"].max()) + 1)]})
    check = _check(driftline.compare(small, cur, seed=0), "out_of_quantile_range")
    assert check["details"]["expected"] == pytest.approx(2 / 51)  # type: ignore[index]
    assert check["threshold"] == pytest.approx(0.05 + 2 / 51 - 0.02)
    assert check["status"] == "ok"


def test_values_beyond_a_40_row_references_range_are_held_to_its_own_sampling_error(
    reference: pd.DataFrame,
) -> None:
    """A 40-row reference's min and max are themselves a sample: the share of the
    distribution beyond them is Beta(2, 39), not 2/41 for sure. 37 of 500 values beyond them
    (7.4%) failed out_of_range at a binomial p = 0.009 on the new-user pass's data; the
    beta-binomial gives 0.21 (checked against scipy). 5 times that many still fails."""
    small = reference.head(40)
    lo, hi = float(small["x"].min()), float(small["x"].max())
    rng = np.random.default_rng(3)

    def current(beyond: int) -> pd.DataFrame:
        inside = rng.uniform(lo + 0.01, hi - 0.01, 500 - beyond)
        return pd.DataFrame({"x": np.r_[inside, np.full(beyond, hi + 0.5)]})

    check = _check(driftline.compare(small, current(37), seed=0), "out_of_range")
    assert check["value"] == pytest.approx(37 / 500)
    assert check["status"] == "ok", check
    details = check["details"]
    assert isinstance(details, dict)
    assert details["p_value"] == pytest.approx(betabinom.sf(36, 500, 2, 39))
    assert details["p_value"] > 0.2 and binom.sf(36, 500, 2 / 41) < 0.01
    check = _check(driftline.compare(small, current(185), seed=0), "out_of_range")
    assert check["status"] == "fail"
