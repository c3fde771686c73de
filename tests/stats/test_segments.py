"""Per-segment metrics and the worst-slice search."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from driftline.errors import InputError
from driftline.stats.performance import ClassificationMetrics
from driftline.stats.segments import (
    OTHER,
    metrics_by_segment,
    segment_labels,
    worst_segments,
)


def test_metrics_by_segment_match_sklearn_and_group_the_rest() -> None:
    rng = np.random.default_rng(0)
    n = 3000
    country = rng.choice(
        [f"c{i}" for i in range(8)], n, p=[0.3, 0.2, 0.2, 0.1, 0.1, 0.05, 0.03, 0.02]
    )
    y = rng.integers(0, 2, n)
    s = np.clip(rng.normal(0.4 + 0.2 * y, 0.2), 0, 1)
    out = metrics_by_segment(
        country, y, scores=s, task="classification", max_segments=5, classes=[0, 1]
    )
    assert list(out)[:2] == ["c0", "c1"] and OTHER in out and len(out) == 6
    for value in ("c0", "c3"):
        rows = country == value
        assert out[value]["roc_auc"] == pytest.approx(skm.roc_auc_score(y[rows], s[rows]), abs=1e-9)
        assert out[value]["n"] == rows.sum()
    rest = np.isin(country, ["c5", "c6", "c7"])
    assert out[OTHER]["n"] == rest.sum()
    assert sum(r["n"] for r in out.values()) == n


def test_metrics_by_segment_regression() -> None:
    seg = np.array(["a", "b", "a", "b"])
    out = metrics_by_segment(seg, [1.0, 2.0, 3.0, 4.0], [1.5, 2.0, 2.0, 4.0], task="regression")
    assert out["a"]["mae"] == pytest.approx(0.75) and out["b"]["mae"] == 0.0
    with pytest.raises(InputError, match="task: allowed values"):
        metrics_by_segment(seg, [1, 2, 3, 4], [1, 2, 3, 4], task="ranking")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="segment: has 4 rows but y_true has 3"):
        metrics_by_segment(seg, [1.0, 2.0, 3.0], [1.0, 2.0, 3.0], task="regression")


def test_segment_labels_bins_numeric_and_keeps_top_values() -> None:
    x = np.arange(1000, dtype=float)
    x[0] = np.nan
    labels = segment_labels(x, max_values=10, n_bins=4)
    assert len(set(labels)) == 5 and "__missing__" in labels
    cats = np.array(["a"] * 5 + ["b"] * 3 + ["c", "d"])
    assert list(segment_labels(cats, max_values=2)) == ["a"] * 5 + ["b"] * 3 + [OTHER] * 2


def _planted(seed: int, n: int = 6000) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "device": rng.choice(["ios", "android", "web"], n),
            "country": rng.choice(["de", "fr", "us", "br"], n),
            "age": rng.integers(18, 80, n),
        }
    )
    y = rng.integers(0, 2, n)
    error = rng.random(n) < 0.1
    bad = (frame.device == "web") & (frame.country == "br")
    error |= bad.to_numpy() & (rng.random(n) < 0.3)
    y_pred = np.where(error, 1 - y, y)
    return frame, y, y_pred


def test_worst_segments_finds_the_planted_slice_first() -> None:
    frame, y, y_pred = _planted(1)
    found = worst_segments(frame, y, y_pred, task="classification", min_support=50)
    assert found, "the planted slice must be found"
    top = found[0]
    assert (top.columns, top.values) == (("device", "country"), ("web", "br"))
    assert top.significant and top.q_value <= 0.05 and top.value > 0.3
    assert top.metric == "error_rate" and top.n == int(
        ((frame.device == "web") & (frame.country == "br")).sum()
    )
    assert top.to_dict()["name"] == "device = web and country = br"
    # the single-column parents may show up too, but never ahead of the planted slice
    assert all(r.value - r.overall <= top.value - top.overall for r in found)


def test_worst_segments_false_discoveries_are_rare_without_a_planted_slice() -> None:
    false_hits = 0
    for seed in range(10):
        rng = np.random.default_rng(100 + seed)
        n = 4000
        frame = pd.DataFrame({"a": rng.choice(list("abcde"), n), "b": rng.normal(size=n)})
        y = rng.integers(0, 2, n)
        y_pred = np.where(rng.random(n) < 0.2, 1 - y, y)
        false_hits += bool(worst_segments(frame, y, y_pred, task="classification"))
    assert false_hits <= 2  # BH at 5 %: a run with any false slice should be rare


def test_worst_segments_regression_and_min_support() -> None:
    rng = np.random.default_rng(3)
    n = 2000
    region = rng.choice(["north", "south", "tiny"], n, p=[0.49, 0.49, 0.02])
    y = rng.normal(size=n)
    noise = np.where(region == "south", 2.0, 0.5)
    noise[region == "tiny"] = 10.0
    y_pred = y + rng.normal(size=n) * noise
    found = worst_segments({"region": region}, y, y_pred, task="regression", min_support=100)
    assert [r.values for r in found] == [("south",)]  # "tiny" is bad but below min_support
    assert found[0].metric == "mae"


def test_worst_segments_bad_input() -> None:
    with pytest.raises(InputError, match=r"segments\['a'\]: has 2 rows but y_true has 3"):
        worst_segments({"a": ["x", "y"]}, [0, 1, 1], [0, 1, 0], task="classification")
    with pytest.raises(InputError, match="segments: expected a DataFrame"):
        worst_segments([1, 2], [0, 1], [0, 1], task="classification")


def test_segment_accumulators_merge_into_the_whole() -> None:
    rng = np.random.default_rng(4)
    seg = rng.choice(["a", "b", "c"], 500)
    y = rng.integers(0, 3, 500)
    y_pred = rng.integers(0, 3, 500)
    parts = [ClassificationMetrics([0, 1, 2]).update(y[seg == v], y_pred[seg == v]) for v in "abc"]
    merged = parts[0].merge(parts[1]).merge(parts[2]).results()
    assert merged["accuracy"] == pytest.approx(skm.accuracy_score(y, y_pred))
