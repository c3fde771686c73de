"""Hypothesis properties every performance accumulator keeps: merge and round-trip."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from driftline.stats.performance import ClassificationMetrics, RegressionMetrics


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return bool(a == b)


@st.composite
def classification_batches(draw: st.DrawFn) -> tuple[int, list[tuple[Any, Any, Any]]]:
    k = draw(st.sampled_from([2, 3]))
    batches = []
    for _ in range(3):
        n = draw(st.integers(0, 30))
        seed = draw(st.integers(0, 2**31))
        rng = np.random.default_rng(seed)
        y = rng.integers(0, k, n)
        y_pred = rng.integers(0, k, n)
        p = np.round(rng.dirichlet(np.ones(k), n), draw(st.sampled_from([2, 6])))
        p[:, -1] = 1 - p[:, :-1].sum(axis=1)
        p = np.clip(p, 0, 1)
        scores = p[:, 1] if k == 2 else p
        batches.append((y, y_pred, scores))
    return k, batches


@settings(max_examples=60, deadline=None)
@given(classification_batches(), st.sampled_from([0, 40, 1000]))
def test_classification_merge_equals_single_pass(
    data: tuple[int, list[tuple[Any, Any, Any]]], exact_cap: int
) -> None:
    k, batches = data
    parts = [
        ClassificationMetrics(range(k), exact_cap=exact_cap, n_bins=64).update(*b) for b in batches
    ]
    whole = ClassificationMetrics(range(k), exact_cap=exact_cap, n_bins=64)
    for b in batches:
        whole.update(*b)
    left = parts[0].merge(parts[1]).merge(parts[2])
    right = parts[0].merge(parts[1].merge(parts[2]))
    assert _close(left.results(), whole.results())
    assert _close(right.results(), whole.results())
    assert _close(parts[1].merge(parts[0]).results(), parts[0].merge(parts[1]).results())


@settings(max_examples=60, deadline=None)
@given(classification_batches())
def test_classification_round_trip(data: tuple[int, list[tuple[Any, Any, Any]]]) -> None:
    k, batches = data
    acc = ClassificationMetrics(range(k), exact_cap=50)
    for b in batches:
        acc.update(*b)
    data_bytes = acc.to_bytes()
    back = ClassificationMetrics.from_bytes(data_bytes)
    assert _close(back.results(), acc.results())
    assert back.to_bytes() == data_bytes


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.lists(
            st.tuples(
                st.floats(-1e6, 1e6, allow_nan=False) | st.just(0.0),
                st.floats(-1e6, 1e6, allow_nan=False),
            ),
            max_size=25,
        ),
        min_size=3,
        max_size=3,
    )
)
def test_regression_merge_and_round_trip(batches: list[list[tuple[float, float]]]) -> None:
    def acc_of(rows: list[tuple[float, float]]) -> RegressionMetrics:
        acc = RegressionMetrics(exact_cap=60)
        if rows:
            y, p = zip(*rows, strict=True)
            acc.update(list(y), list(p))
        return acc

    parts = [acc_of(b) for b in batches]
    whole = acc_of([r for b in batches for r in b])
    merged = parts[0].merge(parts[1]).merge(parts[2])
    a, b = merged.results(), whole.results()
    for name in ("n", "computed", "excluded", "n_mape"):
        assert a[name] == b[name]
    for name in ("mae", "rmse", "mape", "bias"):
        assert (a[name] is None and b[name] is None) or math.isclose(
            a[name], b[name], rel_tol=1e-9, abs_tol=1e-6
        )
    if a["computed"] == "exact" and a["n"]:
        assert _close(a["error_quantiles"], b["error_quantiles"])
    back = RegressionMetrics.from_bytes(merged.to_bytes())
    assert _close(back.results(), merged.results())


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.lists(st.tuples(st.sampled_from("abcde"), st.sampled_from("abcde")), max_size=15),
        min_size=3,
        max_size=3,
    )
)
def test_learned_classes_merge_equals_single_pass(batches: list[list[tuple[str, str]]]) -> None:
    def acc_of(rows: list[tuple[str, str]]) -> ClassificationMetrics:
        acc = ClassificationMetrics()
        if rows:
            y, p = zip(*rows, strict=True)
            acc.update(list(y), list(p))
        return acc

    parts = [acc_of(b) for b in batches]
    whole = acc_of([r for b in batches for r in b])
    merged = parts[2].merge(parts[0]).merge(parts[1])
    assert merged.classes == whole.classes
    assert _close(merged.results(), whole.results())
    back = ClassificationMetrics.from_bytes(merged.to_bytes())
    assert _close(back.results(), whole.results())
