"""Version comparison statistics against statsmodels, scipy, scikit-learn and their definitions."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import f1_score, mean_absolute_error, roc_auc_score
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar
from statsmodels.stats.proportion import proportion_confint

from driftline.errors import InputError
from driftline.stats.versions import (
    CompareOptions,
    VersionData,
    agreement,
    compare_paired,
    compare_unpaired,
    delong,
    half_width,
    mcnemar,
    score_shift,
)
from driftline.stats.versions.bootstrap import components, paired_bootstrap
from driftline.stats.versions.sequential import decide, samples_needed

TOL = 1e-9
ASAH = Path(__file__).parent / "data" / "asah.csv"


def _pair(rng: np.random.Generator, n: int, acc_a: float, acc_b: float) -> tuple[np.ndarray, ...]:
    y = rng.integers(0, 2, n)
    pa = np.where(rng.random(n) < acc_a, y, 1 - y)
    pb = np.where(rng.random(n) < acc_b, y, 1 - y)
    return y, pa, pb


@pytest.mark.parametrize(
    "table",
    [
        ((30, 3), (9, 40)),
        ((100, 40), (22, 300)),
        ((5, 0), (0, 5)),
        ((10, 12), (12, 10)),
        ((500, 130), (171, 900)),
    ],
    ids=["exact-small", "chi2", "no-discordant", "tied", "large"],
)
def test_mcnemar_equals_statsmodels(table: tuple[tuple[int, int], tuple[int, int]]) -> None:
    (both, a_only), (b_only, neither) = table
    # rebuild requests with this table: rows = A right/wrong, columns = B right/wrong
    y = np.zeros(both + a_only + b_only + neither, dtype=int)
    pa = np.r_[np.zeros(both + a_only), np.ones(b_only + neither)].astype(int)
    pb = np.r_[np.zeros(both), np.ones(a_only), np.zeros(b_only), np.ones(neither)].astype(int)
    for exact in (True, False):
        ours = mcnemar(y, pa, pb, exact=exact)
        assert (ours.a_only, ours.b_only) == (a_only, b_only)
        if a_only + b_only:
            ref = sm_mcnemar(np.array(table), exact=exact, correction=True)
            assert abs(ours.statistic - ref.statistic) < TOL
            assert abs(ours.p_value - ref.pvalue) < TOL
        else:
            assert ours.p_value == 1.0


def _delong_by_definition(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AUCs and covariance from DeLong et al. (1988) eqs.: O(m n) placement values."""
    x, z = s[:, y == 1], s[:, y == 0]
    psi = (x[:, :, None] > z[:, None, :]) + 0.5 * (x[:, :, None] == z[:, None, :])
    v10 = psi.mean(axis=2)  # per positive
    v01 = psi.mean(axis=1)  # per negative
    aucs = v10.mean(axis=1)
    m, n = x.shape[1], z.shape[1]
    s10 = (v10 - aucs[:, None]) @ (v10 - aucs[:, None]).T / (m - 1)
    s01 = (v01 - aucs[:, None]) @ (v01 - aucs[:, None]).T / (n - 1)
    return aucs, s10 / m + s01 / n


@pytest.mark.parametrize("ties", [False, True], ids=["continuous", "ties"])
@pytest.mark.parametrize("seed", range(4), ids=lambda s: f"seed{s}")
def test_delong_equals_its_definition_and_sklearn(seed: int, ties: bool) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(50, 400))
    y = rng.integers(0, 2, n)
    sa = y * 0.8 + rng.normal(size=n)
    sb = y * 0.5 + rng.normal(size=n) + 0.3 * sa
    if ties:
        sa, sb = np.round(sa), np.round(sb * 2) / 2
    r = delong(y, sa, sb)
    aucs, cov = _delong_by_definition(y, np.vstack([sa, sb]))
    var = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    assert abs(r.auc_a - roc_auc_score(y, sa)) < TOL
    assert abs(r.auc_b - roc_auc_score(y, sb)) < TOL
    assert abs(r.auc_a - aucs[0]) < TOL and abs(r.auc_b - aucs[1]) < TOL
    assert abs(r.variance - var) < TOL
    z = (aucs[1] - aucs[0]) / math.sqrt(var)
    assert r.z is not None and r.p_value is not None
    assert abs(r.z - z) < TOL
    assert abs(r.p_value - 2 * stats.norm.sf(abs(z))) < TOL


def test_delong_reproduces_the_published_pROC_example() -> None:
    """pROC's roc.test example on the aSAH data (Turck et al. 2010; Robin et al. 2011):
    outcome ~ wfns vs s100b: AUCs 0.8236789 and 0.7313686, Z = 2.209, p = 0.02718."""
    df = pd.read_csv(ASAH)
    y = (df["outcome"] == "Poor").to_numpy()
    r = delong(y, df["s100b"], df["wfns"].astype(float), positive=True)
    assert round(r.auc_b, 7) == 0.8236789
    assert round(r.auc_a, 7) == 0.7313686
    assert r.z is not None and round(r.z, 3) == 2.209
    assert r.p_value is not None and round(r.p_value, 5) == 0.02718
    assert (r.n_positive, r.n_negative) == (41, 72)


def test_delong_errors_name_the_problem() -> None:
    with pytest.raises(InputError, match="both classes"):
        delong([1, 1, 1], [0.1, 0.2, 0.3], [0.3, 0.2, 0.1], positive=1)
    with pytest.raises(InputError, match="two label classes"):
        delong([0, 1, 2], [0.1, 0.2, 0.3], [0.3, 0.2, 0.1])
    with pytest.raises(InputError, match="NaN"):
        delong([0, 1, 0, 1], [0.1, np.nan, 0.3, 0.4], [0.3, 0.2, 0.1, 0.5])
    with pytest.raises(InputError, match="lengths"):
        delong([0, 1], [0.1, 0.2, 0.3], [0.3, 0.2])


def test_agreement_interval_equals_statsmodels_wilson() -> None:
    rng = np.random.default_rng(3)
    a = rng.integers(0, 3, 777)
    b = np.where(rng.random(777) < 0.8, a, rng.integers(0, 3, 777))
    r = agreement(a, b)
    k = int((a == b).sum())
    lo, hi = proportion_confint(k, 777, alpha=0.05, method="wilson")
    assert r.rate == k / 777
    assert r.low is not None and r.high is not None
    assert abs(r.low - lo) < TOL and abs(r.high - hi) < TOL


def test_score_shift_equals_scipy() -> None:
    rng = np.random.default_rng(5)
    sa = rng.random(500)
    sb = np.clip(sa + rng.normal(0.05, 0.05, 500), 0, 1)
    r = score_shift(sa, sb)
    assert abs(r.ks_statistic - stats.ks_2samp(sa, sb).statistic) < TOL
    assert r.wilcoxon_p_value is not None
    assert abs(r.wilcoxon_p_value - stats.wilcoxon(sa, sb).pvalue) < TOL
    assert r.mean_difference > 0.03


@pytest.mark.parametrize("metric", ["accuracy", "f1", "mae", "rmse", "brier", "ece"])
def test_bootstrap_point_values_follow_definitions(metric: str) -> None:
    rng = np.random.default_rng(1)
    n = 600
    y = rng.integers(0, 2, n)
    s = np.clip(y * 0.4 + rng.random(n) * 0.6, 0, 1)
    p = (s > 0.5).astype(int)
    if metric in ("mae", "rmse"):
        yr = rng.normal(size=n)
        pr = yr + rng.normal(0, 0.5, n)
        comp, fn = components(metric, yr, pr)
        want = (
            mean_absolute_error(yr, pr) if metric == "mae" else math.sqrt(np.mean((yr - pr) ** 2))
        )
    else:
        comp, fn = components(metric, y, p, s, classes=[0, 1], positive=1)
        bins = np.clip((s * 10).astype(int), 0, 9)
        ece = sum(abs((s[bins == b] - y[bins == b]).sum()) / n for b in range(10))
        want = {
            "accuracy": float(np.mean(p == y)),
            "f1": f1_score(y, p, average="macro"),
            "brier": float(np.mean((s - y) ** 2)),
            "ece": ece,
        }[metric]
    assert abs(float(fn(comp.mean(axis=0))) - want) < TOL


def test_paired_bootstrap_keeps_the_pairing() -> None:
    """B = A plus a tiny constant error on every request: the paired interval is narrow
    around the true difference, far narrower than resampling each version apart would be."""
    rng = np.random.default_rng(2)
    y = rng.normal(size=2000)
    pa = y + rng.normal(0, 1, 2000)
    pb = pa + 0.01
    r = paired_bootstrap("mae", components("mae", y, pa), components("mae", y, pb), seed=1)
    assert r.low <= r.difference <= r.high
    assert r.high - r.low < 0.005
    assert abs(r.difference - (np.abs(pb - y).mean() - np.abs(pa - y).mean())) < TOL


def test_confidence_sequence_is_wider_than_the_fixed_interval_and_shrinks() -> None:
    z = stats.norm.ppf(0.975)
    widths = [half_width(0.25 / n, 0.05, 0.01) for n in (100, 1000, 10_000, 100_000)]
    assert all(
        w > z * math.sqrt(0.25 / n)
        for w, n in zip(widths, (100, 1000, 10_000, 100_000), strict=True)
    )
    assert widths == sorted(widths, reverse=True)
    need = samples_needed(0.25, 0.005, 0.05, 0.01, 100)
    assert need is not None
    assert half_width(0.25 / need, 0.05, 0.01) <= 0.005 < half_width(0.25 / (need - 1), 0.05, 0.01)


def test_verdicts_cover_better_worse_equivalent_undecided_insufficient() -> None:
    common = {"alpha": 0.05, "min_n": 200, "method": "t", "paired": False}
    worse = decide(
        "accuracy",
        0.9,
        0.85,
        1e-5,
        10_000,
        10_000,
        higher_is_better=True,
        min_effect=0.01,
        **common,
    )
    better_loss = decide(
        "mae", 1.0, 0.8, 1e-4, 5000, 5000, higher_is_better=False, min_effect=0.05, **common
    )
    same = decide(
        "accuracy",
        0.9,
        0.9005,
        1e-7,
        10**6,
        10**6,
        higher_is_better=True,
        min_effect=0.01,
        **common,
    )
    open_ = decide(
        "accuracy", 0.9, 0.895, 2e-5, 3000, 3000, higher_is_better=True, min_effect=0.01, **common
    )
    few = decide(
        "accuracy", 0.9, 0.5, 1e-3, 150, 4000, higher_is_better=True, min_effect=0.01, **common
    )
    assert (worse.verdict, better_loss.verdict, same.verdict) == ("worse", "better", "equivalent")
    assert open_.verdict == "undecided" and open_.n_needed is not None and open_.n_needed > 0
    assert few.verdict == "insufficient_data" and few.seq_low is None


def test_compare_paired_calls_a_worse_shadow_worse() -> None:
    rng = np.random.default_rng(8)
    y, pa, _ = _pair(rng, 20_000, 0.9, 0.9)
    flip = rng.random(20_000) < 0.05
    pb = np.where(flip, 1 - y, pa)  # B makes extra mistakes on 5 % of requests
    c = compare_paired(y, pa, pb, options=CompareOptions(bootstrap_resamples=200))
    assert c.verdict == "worse"
    acc = c.metric("accuracy")
    mc = sm_mcnemar(
        [
            [int(((pa == y) & (pb == y)).sum()), int(((pa == y) & (pb != y)).sum())],
            [int(((pa != y) & (pb == y)).sum()), int(((pa != y) & (pb != y)).sum())],
        ],
        exact=False,
        correction=True,
    )
    assert abs(c.extra["mcnemar"]["p_value"] - mc.pvalue) < TOL
    assert acc.seq_high is not None and acc.seq_high < 0
    f1 = next(b for b in c.extra["bootstrap"] if b["metric"] == "f1")
    assert f1["high"] < 0
    assert c.to_dict()["metrics"][0]["verdict"] == "worse"


def test_compare_unpaired_regression_and_sample_needed() -> None:
    rng = np.random.default_rng(4)
    ya, yb = rng.normal(size=400), rng.normal(size=400)
    a = VersionData(ya, ya + rng.normal(0, 1.0, 400))
    b = VersionData(yb, yb + rng.normal(0, 1.02, 400))
    c = compare_unpaired(a, b, task="regression")
    assert [m.metric for m in c.metrics] == ["mae", "rmse"]
    assert c.verdict == "undecided"
    assert c.n_needed is not None and c.n_needed > 400


@pytest.mark.parametrize(
    ("labels", "pa", "pb", "task", "reason"),
    [
        ([0, 1] * 50, ["cat", "dog"] * 50, [0, 1] * 50, "classification", "different label sets"),
        ([0.5, 1.5] * 50, ["x", "y"] * 50, [0.5, 1.0] * 50, "regression", "numeric"),
        ([0, 1] * 50, [0, 1] * 50, [0, 1] * 50, "ranking", "task 'ranking'"),
        ([], [], [], "classification", "no request"),
    ],
    ids=["label-sets", "non-numeric", "unknown-task", "no-traffic"],
)
def test_not_comparable_states_say_why(
    labels: list[object], pa: list[object], pb: list[object], task: str, reason: str
) -> None:
    c = compare_paired(labels, pa, pb, task=task)
    assert c.verdict == "not_comparable"
    assert c.reason is not None and reason in c.reason
    assert c.metrics == []


def test_unpaired_version_without_traffic_is_not_comparable() -> None:
    c = compare_unpaired(VersionData([0, 1], [0, 1]), VersionData([], []))
    assert c.verdict == "not_comparable"
    assert c.reason == ("version B has no labelled requests yet (no traffic, or no label arrived)")


def test_small_samples_never_get_a_verdict() -> None:
    y = np.array([0, 1] * 50)
    c = compare_paired(y, y, 1 - y)  # B always wrong, but only 100 requests
    assert c.verdict == "insufficient_data"
    assert c.metric("accuracy").details["min_n"] == 200
