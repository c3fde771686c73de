"""KS past the reservoir: bounded against ks_2samp on raw rows; a global method per kind."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import driftline

Gen = Callable[[np.random.Generator, int, float], np.ndarray]
SHAPES: dict[str, Gen] = {
    "normal": lambda r, n, s: r.normal(s, 1.0, n),
    "lognormal": lambda r, n, s: r.lognormal(s, 1.0, n),
    "N(100, 15)": lambda r, n, s: r.normal(100 + 15 * s, 15, n),
    "exponential": lambda r, n, s: r.exponential(1 + s, n),
    "integers": lambda r, n, s: r.integers(0, 1000 + int(1000 * s), n).astype(float),
}
SHIFTS = (0.0, 0.005, 0.01, 0.02, 0.05)


def test_ks_on_all_rows_is_bounded_and_never_claims_more_than_scipy() -> None:
    """25 cells (5 shapes x 5 shifts), 30k vs 20k rows: more than the 10k reservoir."""
    agree = 0
    for i, (shape, gen) in enumerate(SHAPES.items()):
        for j, shift in enumerate(SHIFTS):
            rng = np.random.default_rng(100 * i + j)
            ref, cur = gen(rng, 30_000, 0.0), gen(rng, 20_000, shift)
            ks = driftline.compare({"x": ref}, {"x": cur}, seed=0).to_dict()["columns"]["x"][
                "metrics"
            ]["ks"]
            raw = stats.ks_2samp(ref, cur)  # 'auto' is asymp at these sizes
            lo, hi = ks["details"]["statistic_range"]
            p_lo, p_hi = ks["details"]["p_value_range"]
            assert ks["computed"] == "bins"
            assert lo - 1e-12 <= raw.statistic <= hi + 1e-12, (shape, shift)
            assert p_lo - 1e-12 <= raw.pvalue <= p_hi + 1e-12, (shape, shift)
            assert ks["p_value"] == p_hi and ks["statistic"] == lo
            # conservative: a drift verdict here is one scipy gives on the raw rows
            if ks["drifted"]:
                assert raw.pvalue < 0.05, (shape, shift)
            agree += ks["drifted"] == (raw.pvalue < 0.05)
            if ks["details"]["decision_certain"]:
                assert ks["drifted"] == (raw.pvalue < 0.05)
    assert agree >= 23  # measured: see docs/drift.md ("Kolmogorov-Smirnov past the reservoir")


def test_ks_p_value_is_scipys_asymptotic_formula() -> None:
    from driftline.stats.drift.ks import ks_p_value

    rng = np.random.default_rng(3)
    a, b = rng.normal(size=12_000), rng.normal(0.03, 1, size=15_000)
    raw = stats.ks_2samp(a, b, method="asymp")
    assert ks_p_value(raw.statistic, a.size, b.size) == pytest.approx(raw.pvalue, rel=1e-12)


@pytest.mark.parametrize("method", ["ks", "wasserstein", "anderson_darling", "mean_shift"])
def test_a_numeric_global_method_leaves_categorical_columns_to_the_default(method: str) -> None:
    rng = np.random.default_rng(5)
    ref = pd.DataFrame(
        {
            "x": rng.normal(size=3000),
            "c": rng.choice(list("abc"), 3000),
            "b": rng.random(3000) < 0.5,
        }
    )
    cur = pd.DataFrame(
        {
            "x": rng.normal(1.0, size=3000),
            "c": rng.choice(list("abc"), 3000, p=[0.6, 0.2, 0.2]),
            "b": rng.random(3000) < 0.5,
        }
    )
    d = driftline.compare(ref, cur, method=method).to_dict()
    x, c = d["columns"]["x"]["drift"], d["columns"]["c"]["drift"]
    assert x["method"] == method and x["details"]["method_source"] == "global"
    assert x["drifted"] is True
    assert c["method"] == "jensen_shannon" and c["details"]["rule"] == "auto"
    assert c["details"]["method_source"] == "default"
    assert f"global method {method} does not apply to categorical" in c["details"]["method_note"]
    assert c["drifted"] is True
    assert d["dataset"]["methods"] == {method: ["x"], "auto": ["c", "b"]}
    # a method named for one column must fit it
    with pytest.raises(driftline.DriftlineError, match="'ks' does not apply to column 'c'"):
        driftline.compare(ref, cur, per_column={"c": "ks"})


def test_a_categorical_method_applies_to_numeric_columns_too() -> None:
    rng = np.random.default_rng(6)
    ref = pd.DataFrame({"x": rng.normal(size=3000), "c": rng.choice(list("abc"), 3000)})
    cur = pd.DataFrame({"x": rng.normal(size=3000), "c": rng.choice(list("abc"), 3000)})
    d = driftline.compare(ref, cur, method="chi_squared").to_dict()
    assert d["dataset"]["methods"] == {"chi_squared": ["x", "c"]}
