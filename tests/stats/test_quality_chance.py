"""Range checks tell chance from a fault: a few values past a bound in a small window are
what the reference's own distribution gives; the same share on many rows is not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom

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
    assert details["p_value"] == pytest.approx(binom.sf(2, 51, 0.02))
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
