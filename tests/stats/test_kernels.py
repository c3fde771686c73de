"""The compiled kernels give the numpy code's results (accumulators._kernels)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

import driftline.stats.profile as profile_module
from driftline.stats.accumulators._kernels import MIN_ROWS, kernels
from driftline.stats.profile import DatasetProfile, build_profile

pytest.importorskip("numba")

N = MIN_ROWS + 1234


def _table(seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    x = rng.normal(3.0, 2.0, N)
    x[rng.random(N) < 0.03] = np.nan
    x[:6] = [np.inf, -np.inf, -0.0, 0.0, 5e-324, -1e150]
    lognormal = rng.lognormal(0, 3, N)
    ints = rng.integers(-50, 50, N)
    cats = rng.choice(np.array(["a", "b", "ccc", "δ", ""], dtype=object), N)
    cats[rng.random(N) < 0.05] = None
    as_text = np.where(rng.random(N) < 0.01, "oops", rng.normal(size=N).round(2).astype(str))
    return pa.table(
        {
            "x": x,
            "lognormal": lognormal,
            "ints": ints,
            "flag": rng.random(N) < 0.3,
            "cat": pa.array(cats.tolist(), type=pa.string()),
            "numbers_as_text": pa.array(as_text.tolist(), type=pa.string()),
            "all_missing": pa.array([None] * N, type=pa.float64()),
        }
    )


def _profiles(monkeypatch: pytest.MonkeyPatch) -> tuple[DatasetProfile, DatasetProfile]:
    assert kernels(N) is not None, "numba is installed: the kernels must be on"
    table = _table(7)
    schema = {"columns": {"numbers_as_text": {"kind": "numeric"}}}
    fused = build_profile(table, schema, seed=11)
    monkeypatch.setattr(profile_module, "kernels", lambda n: None)
    plain = build_profile(table, schema, seed=11)
    return fused, plain


def test_kernels_match_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    fused, plain = _profiles(monkeypatch)
    assert fused.duplicate_rows == plain.duplicate_rows
    assert np.array_equal(fused.rows.registers, plain.rows.registers)
    for name in plain.columns:
        a, b = fused[name], plain[name]
        assert (a.count, a.missing, a.type_errors, a.non_finite) == (
            b.count,
            b.missing,
            b.type_errors,
            b.non_finite,
        ), name
        assert np.array_equal(a.histogram.keys, b.histogram.keys), name
        assert np.array_equal(a.histogram.counts, b.histogram.counts), name
        assert np.array_equal(a.distinct.registers, b.distinct.registers), name
        assert a.categories.to_bytes() == b.categories.to_bytes(), name
        assert a.reservoir.to_bytes() == b.reservoir.to_bytes(), name
        # the quantile sketch's coin flips are seeded: the same values give the same sketch
        assert a.quantiles.to_bytes() == b.quantiles.to_bytes(), name
        assert a.moments.n == b.moments.n, name
        assert (a.moments.min, a.moments.max) == (b.moments.min, b.moments.max), name
        assert a.moments.mean == pytest.approx(b.moments.mean, rel=1e-12, abs=1e-12), name
        assert a.moments.m2 == pytest.approx(b.moments.m2, rel=1e-10), name
    x = fused["x"]
    assert x.non_finite == 2 and x.missing > 0
    assert fused["numbers_as_text"].type_errors > 0
    assert fused["all_missing"].missing == N


def test_kernels_switch_off(monkeypatch: pytest.MonkeyPatch) -> None:
    from driftline.stats.accumulators import _kernels

    monkeypatch.setenv("DRIFTLINE_KERNELS", "0")
    _kernels._compiled.cache_clear()
    try:
        assert kernels(N) is None
    finally:
        monkeypatch.delenv("DRIFTLINE_KERNELS")
        _kernels._compiled.cache_clear()
    assert kernels(N) is not None
    assert kernels(MIN_ROWS - 1) is None


def test_radix_sort_is_numpys_sort() -> None:
    fused = kernels(N)
    assert fused is not None
    rng = np.random.default_rng(3)
    cases = {
        "normal": rng.normal(size=N),
        "signed zeros and infinities": np.array([0.0, -0.0, np.inf, -np.inf, 5e-324, -5e-324]),
        "one value (every pass skipped)": np.full(1000, 2.5),
        "small ints": rng.integers(-3, 3, N).astype(np.float64),
        "empty": np.zeros(0),
    }
    for name, x in cases.items():
        out = np.empty_like(x)
        fused.sort_floats(x, out)
        want = np.sort(x + 0.0)  # -0.0 read as 0.0
        assert out.view(np.uint64).tolist() == want.view(np.uint64).tolist(), name


def test_quantile_sketch_is_the_same_with_and_without_the_sort_kernel(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from driftline.stats.accumulators import QuantileSketch
    from driftline.stats.accumulators import quantiles as quantiles_module

    rng = np.random.default_rng(5)
    batches = [rng.normal(size=N).round(3) for _ in range(3)]  # with -0.0s among the 0.0s
    assert any(np.signbit(b[b == 0]).any() for b in batches)

    def sketch() -> bytes:
        q = QuantileSketch()
        for b in batches:
            q.update(b, np.random.default_rng(1))
        return q.to_bytes()

    fused = sketch()
    monkeypatch.setattr(quantiles_module, "sort_kernels", lambda n: None)
    assert sketch() == fused
