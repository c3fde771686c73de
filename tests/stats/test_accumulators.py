"""Accumulators: merge equals one pass, serialisation round-trips, values match numpy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from driftline.errors import ProfileFormatError
from driftline.stats.accumulators import (
    CategoryCounts,
    DistinctCount,
    LogHistogram,
    Moments,
    QuantileSketch,
    Reservoir,
    bottom_k_keys,
    hash_floats,
)

finite = st.floats(allow_nan=False, allow_infinity=False, width=64, min_value=-1e12, max_value=1e12)
float_arrays = arrays(np.float64, st.integers(0, 300), elements=finite)


@given(float_arrays, float_arrays)
@settings(max_examples=60, deadline=None)
def test_moments_merge_equals_one_pass(a: np.ndarray, b: np.ndarray) -> None:
    merged = Moments().update(a).merge(Moments().update(b))
    whole = np.concatenate([a, b])
    assert merged.n == whole.size
    if whole.size:
        assert merged.mean == pytest.approx(whole.mean(), rel=1e-9, abs=1e-6)
        assert merged.min == whole.min() and merged.max == whole.max()
    if whole.size > 1:
        assert merged.variance == pytest.approx(np.var(whole, ddof=1), rel=1e-7, abs=1e-3)


def test_moments_match_numpy(rng: np.random.Generator) -> None:
    x = rng.lognormal(size=10_001)
    m = Moments()
    for part in np.array_split(x, 7):
        m.update(part)
    assert m.mean == pytest.approx(x.mean(), rel=1e-12)
    assert m.std == pytest.approx(x.std(ddof=1), rel=1e-10)
    back = Moments.from_bytes(m.to_bytes())
    assert (back.n, back.mean, back.m2, back.min, back.max) == (m.n, m.mean, m.m2, m.min, m.max)


@given(
    arrays(
        np.float64, st.integers(1, 200), elements=st.floats(allow_nan=False, allow_infinity=False)
    )
)
@settings(max_examples=80, deadline=None)
def test_log_histogram_buckets_contain_their_values(x: np.ndarray) -> None:
    h = LogHistogram()
    keys = h.bucket_keys(x)
    lower = h.lower_bound(keys)
    upper = h.lower_bound(keys + 1)
    assert np.all(lower <= x + 0.0)
    assert np.all((x + 0.0 < upper) | np.isinf(upper))
    order = np.argsort(x, kind="stable")
    assert np.all(np.diff(keys[order]) >= 0), "keys must be monotone in the value"


@given(float_arrays, float_arrays)
@settings(max_examples=60, deadline=None)
def test_log_histogram_merge_is_exact(a: np.ndarray, b: np.ndarray) -> None:
    merged = LogHistogram().update(a).merge(LogHistogram().update(b))
    whole = LogHistogram().update(np.concatenate([a, b]))
    np.testing.assert_array_equal(merged.keys, whole.keys)
    np.testing.assert_array_equal(merged.counts, whole.counts)
    back = LogHistogram.from_bytes(merged.to_bytes())
    np.testing.assert_array_equal(back.counts, merged.counts)


def test_log_histogram_relative_width(rng: np.random.Generator) -> None:
    x = np.abs(rng.normal(size=1000)) + 1e-3
    h = LogHistogram(mantissa_bits=6)
    keys = h.bucket_keys(x)
    width = h.lower_bound(keys + 1) - h.lower_bound(keys)
    assert np.all(width / x <= 2.0**-6 + 1e-12)


def test_quantile_sketch_within_rank_error_on_sampled_batch(rng: np.random.Generator) -> None:
    x = rng.standard_t(3, size=600_000)
    q = QuantileSketch().update(x[:400_000], rng).update(x[400_000:], rng)
    assert q.sampled
    probs = np.linspace(0.01, 0.99, 25)
    est = q.quantiles(probs)
    ranks = np.searchsorted(np.sort(x), est) / x.size
    assert np.max(np.abs(ranks - probs)) <= q.rank_error
    assert q.n == x.size


def test_quantile_sketch_merge_and_bytes(rng: np.random.Generator) -> None:
    a, b = rng.normal(size=5000), rng.normal(3, size=20_000)
    merged = QuantileSketch().update(a).merge(QuantileSketch().update(b))
    back = QuantileSketch.from_bytes(merged.to_bytes())
    probs = np.array([0.1, 0.5, 0.9])
    np.testing.assert_allclose(back.quantiles(probs), merged.quantiles(probs))
    ranks = np.searchsorted(np.sort(np.concatenate([a, b])), merged.quantiles(probs)) / 25_000
    assert np.max(np.abs(ranks - probs)) <= merged.rank_error


@given(
    st.lists(st.sampled_from(list("abcdefgh")), max_size=100),
    st.lists(st.sampled_from(list("defghijk")), max_size=100),
)
@settings(max_examples=50, deadline=None)
def test_category_counts_merge_is_exact(a: list[str], b: list[str]) -> None:
    merged = CategoryCounts().update(a).merge(CategoryCounts().update(b)) if a and b else None
    if merged is None:
        return
    expected: dict[str, int] = {}
    for v in a + b:
        expected[v] = expected.get(v, 0) + 1
    assert merged.counts() == expected
    assert CategoryCounts.from_bytes(merged.to_bytes()).counts() == expected


def test_category_counts_switch_to_sketch_past_cap(rng: np.random.Generator) -> None:
    heavy = ["common"] * 5000 + ["rare"] * 2000
    ids = [f"id{i}" for i in range(3000)]
    c = CategoryCounts(cap=100).update(heavy).update(ids)
    assert not c.is_exact
    counts = c.counts()
    assert counts["common"] >= 5000 and counts["rare"] >= 2000
    assert sum(counts.values()) == c.total == 10_000
    assert CategoryCounts.OTHER in counts
    back = CategoryCounts.from_bytes(c.to_bytes())
    assert back.counts() == counts


@pytest.mark.parametrize("n", [10, 1000, 50_000, 400_000], ids=lambda n: f"n={n}")
def test_distinct_count_error_bound(n: int, rng: np.random.Generator) -> None:
    x = rng.normal(size=n)
    d = DistinctCount(p=12).update_hashes(hash_floats(np.concatenate([x, x[: n // 2]])))
    assert abs(d.estimate - n) <= max(3 * d.relative_error * n, 1)


def test_distinct_count_union_is_exact(rng: np.random.Generator) -> None:
    a, b = rng.normal(size=3000), rng.normal(size=5000)
    merged = (
        DistinctCount()
        .update_hashes(hash_floats(a))
        .merge(DistinctCount().update_hashes(hash_floats(b)))
    )
    whole = DistinctCount().update_hashes(hash_floats(np.concatenate([a, b])))
    np.testing.assert_array_equal(merged.registers, whole.registers)
    assert DistinctCount.from_bytes(merged.to_bytes()).estimate == merged.estimate


def test_bottom_k_keys_are_uniform_sample(rng: np.random.Generator) -> None:
    # a value's chance to be sampled is k/n whatever the batch it arrived in
    hits = np.zeros(1000)
    for _ in range(400):
        r = Reservoir(size=100)
        for start in (0, 200, 900):
            stop = {0: 200, 200: 900, 900: 1000}[start]
            idx, keys = bottom_k_keys(stop - start, 100, rng)
            r.update(keys, (np.arange(start, stop)[idx]).astype(np.float64))
        hits[r.values.astype(int)] += 1
    share = hits / 400
    assert share.mean() == pytest.approx(0.1, abs=1e-12)
    # batches of different size must not change inclusion odds
    assert abs(share[:200].mean() - share[200:900].mean()) < 0.01
    assert abs(share[900:].mean() - 0.1) < 0.015


def test_reservoir_round_trip_strings() -> None:
    r = Reservoir(size=3, numeric=False).update(
        np.array([0.5, 0.1, 0.9, 0.3]), np.array(["a", None, "c", "d"], dtype=object)
    )
    back = Reservoir.from_bytes(r.to_bytes())
    assert list(back.sample()) == [None, "d", "a"]


@pytest.mark.parametrize(
    "cls", [Moments, QuantileSketch, LogHistogram, CategoryCounts, DistinctCount, Reservoir]
)
def test_corrupt_bytes_raise_profile_format_error(cls: type) -> None:
    good = cls().to_bytes()
    with pytest.raises(ProfileFormatError):
        cls.from_bytes(b"XXXX" + good[4:])
    with pytest.raises(ProfileFormatError):
        cls.from_bytes(good[:10])
    other = Moments if cls is not Moments else DistinctCount
    with pytest.raises(ProfileFormatError, match="expected a serialised"):
        cls.from_bytes(other().to_bytes())


def test_unknown_version_is_refused() -> None:
    from driftline.stats._codec import pack

    with pytest.raises(ProfileFormatError, match="format version 9"):
        Moments.from_bytes(pack("moments", 9, {}, {}))


def test_nan_helpers() -> None:
    assert math.isnan(Moments().variance)
    assert math.isnan(QuantileSketch().quantiles(np.array([0.5]))[0])


def test_log_histogram_counts_a_sparse_batch_as_a_dense_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from driftline.stats.accumulators import histogram as histogram_module

    rng = np.random.default_rng(2)
    x = np.concatenate([rng.normal(size=2000).round(3), [0.0, -0.0, 5e-324, -1e300, 1e300]])
    # a range of ~260,000 buckets for 2,005 values: counted sparsely
    sparse = LogHistogram().update(x).update(x[:100])
    monkeypatch.setattr(histogram_module, "_SPARSE_RATIO", 10**9)
    dense = LogHistogram().update(x).update(x[:100])
    assert sparse.to_bytes() == dense.to_bytes()
    assert sparse.total == x.size + 100


def test_log_histogram_adds_bucket_counts_as_their_sums() -> None:
    rng = np.random.default_rng(4)
    for _ in range(200):
        a = np.unique(rng.integers(-40, 40, rng.integers(1, 30)))
        b = rng.integers(-45, 45, rng.integers(1, 30))
        b = b if rng.random() < 0.2 else np.unique(b)  # unsorted, repeated keys too
        ca, cb = rng.integers(1, 9, a.size), rng.integers(1, 9, b.size)
        h = LogHistogram()
        h.keys, h.counts = a.astype(np.int64), ca.astype(np.int64)
        h._add(b.astype(np.int64), cb.astype(np.int64))
        want: dict[int, int] = {}
        for k, c in [
            *zip(a.tolist(), ca.tolist(), strict=True),
            *zip(b.tolist(), cb.tolist(), strict=True),
        ]:
            want[k] = want.get(k, 0) + c
        assert h.keys.tolist() == sorted(want)
        assert h.counts.tolist() == [want[k] for k in sorted(want)]
        assert h.keys.dtype == h.counts.dtype == np.int64
