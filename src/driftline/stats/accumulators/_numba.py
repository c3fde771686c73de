"""The numba kernels behind :mod:`driftline.stats.accumulators._kernels` (see there)."""

# mypy: disable-error-code="misc"

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np

_leading_zeros: Any
try:  # an LLVM intrinsic (ctlz): a third faster than frexp for the HLL rank
    from numba.cpython.unsafe import numbers as _unsafe_numbers

    _leading_zeros = _unsafe_numbers.leading_zeros
except (ImportError, AttributeError):  # pragma: no cover - a numba without it
    _leading_zeros = None

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)
_NEG_ZERO = np.uint64(0x8000000000000000)
_LOW32 = np.uint64(0xFFFFFFFF)
_ABS = np.int64(0x7FFFFFFFFFFFFFFF)
_ZERO = np.uint64(0)

_jit = numba.njit(cache=True, nogil=True, boundscheck=False, error_model="numpy")


@_jit
def _mix(z: Any) -> Any:
    """SplitMix64's finaliser (the same as hashing.mix64)."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@_jit
def _hll_add(registers: Any, h: Any, p: int) -> None:
    idx = np.intp(h >> np.uint64(64 - p))
    rest = (h >> np.uint64(32 - p)) & _LOW32
    # rank = 33 - bit length of rest: 1 + the leading zeros of rest as a 32-bit word
    if _leading_zeros is not None:
        rank = np.uint8(_leading_zeros(rest) - 31)
    else:
        rank = np.uint8(33 - math.frexp(np.float64(rest))[1])
    if rank > registers[idx]:
        registers[idx] = rank


@_jit
def numeric_scan(values: Any) -> Any:
    """(finite count, NaN count, sum, min, max) of the finite values."""
    n_finite = 0
    n_nan = 0
    total = 0.0
    lo = np.inf
    hi = -np.inf
    for v in values:
        if np.isfinite(v):
            n_finite += 1
            total += v
            lo = min(lo, v)
            hi = max(hi, v)
        elif np.isnan(v):
            n_nan += 1
    return n_finite, n_nan, total, lo, hi


@_jit
def numeric_fill(
    values: Any,
    mean: float,
    key_lo: int,
    shift: int,
    counts: Any,
    registers: Any,
    p: int,
    codes: Any,
    null_code: Any,
) -> Any:
    """Second pass, in place: histogram counts (offset by key_lo), HLL registers of the
    finite values' hashes and every row's code. Returns the sum of squared deviations
    and how many values fell outside ``counts`` (none unless key_lo is wrong)."""
    bits = values.view(np.int64)
    ubits = values.view(np.uint64)
    m2_sum = 0.0
    misses = 0
    for i in range(values.size):
        v = values[i]
        if np.isfinite(v):
            d = v - mean
            m2_sum += d * d
            b = bits[i]
            sign = b >> 63
            slot = ((((sign & _ABS) ^ b) - sign) >> shift) - key_lo
            if 0 <= slot < counts.size:  # always, when key_lo is the finite minimum's key
                counts[slot] += 1
            else:
                misses += 1
            u = ubits[i]
            h = _mix(_ZERO if u == _NEG_ZERO else u)
            codes[i] = h
            _hll_add(registers, h, p)
        elif np.isnan(v):
            codes[i] = null_code
        else:  # +-inf keeps its own code
            codes[i] = _mix(ubits[i])
    return m2_sum, misses


@_jit
def category_fill(idx: Any, hashes: Any, null_code: Any, counts: Any, codes: Any) -> int:
    """Count dictionary indices (negative = missing) and gather each row's code."""
    n_null = 0
    for i in range(idx.size):
        j = idx[i]
        if j < 0:
            n_null += 1
            codes[i] = null_code
        else:
            counts[j] += 1
            codes[i] = hashes[j]
    return n_null


@_jit
def hll_update(registers: Any, hashes: Any, p: int) -> None:
    for h in hashes:
        _hll_add(registers, h, p)


@_jit
def row_combine(row_hash: Any, codes: Any, mult: Any) -> None:
    """row_hash = row_hash * mult ^ codes, in place."""
    for i in range(row_hash.size):
        row_hash[i] = (row_hash[i] * mult) ^ codes[i]


@_jit
def mix_inplace(z: Any) -> None:
    for i in range(z.size):
        z[i] = _mix(z[i])


@_jit
def nonzero_index(counts: Any) -> Any:
    """The indices of the non-zero entries of ``counts`` (``np.flatnonzero``, in one pass
    over the mostly-zero dense histogram of a batch instead of numpy's two)."""
    found = np.empty(counts.size, dtype=np.int64)
    m = 0
    for i in range(counts.size):
        if counts[i] != 0:
            found[m] = i
            m += 1
    return found[:m].copy()


_RADIX_BITS = 11
_RADIX_MASK = np.uint64((1 << _RADIX_BITS) - 1)
_RADIX_PASSES = 6  # 6 x 11 bits cover the 64-bit keys


@_jit
def sort_floats(values: Any, out: Any) -> None:
    """``out`` = ``values`` (no NaN) sorted ascending, -0.0 written as 0.0: an LSD radix sort.

    The same array as ``np.sort(values + 0.0)``, bit for bit (with -0.0 read as 0.0, equal
    values are equal bits, so every sort gives the same bytes), about 2.5x faster on 65,536
    doubles. Keys: the bits with the sign bit set for positives and all bits flipped for
    negatives, which orders them as the numbers; passes whose digit is the same in every
    key are skipped.
    """
    n = values.size
    bits = values.view(np.uint64)
    a = np.empty(n, dtype=np.uint64)
    b = np.empty(n, dtype=np.uint64)
    counts = np.zeros((_RADIX_PASSES, 1 << _RADIX_BITS), dtype=np.int64)
    for i in range(n):
        u = bits[i]
        if u == _NEG_ZERO:
            u = _ZERO
        u = ~u if u >> np.uint64(63) else u | _NEG_ZERO
        a[i] = u
        for d in range(_RADIX_PASSES):
            counts[d, (u >> np.uint64(_RADIX_BITS * d)) & _RADIX_MASK] += 1
    for d in range(_RADIX_PASSES):
        c = counts[d]
        if c.max() == n:  # one digit in every key: the pass would not move anything
            continue
        total = 0
        for j in range(c.size):
            t = c[j]
            c[j] = total
            total += t
        shift = np.uint64(_RADIX_BITS * d)
        for i in range(n):
            u = a[i]
            k = (u >> shift) & _RADIX_MASK
            b[c[k]] = u
            c[k] += 1
        a, b = b, a
    out_bits = out.view(np.uint64)
    for i in range(n):
        u = a[i]
        out_bits[i] = u ^ _NEG_ZERO if u >> np.uint64(63) else ~u


#: Reassociation lets LLVM vectorise the sums (NaN and inf still propagate: no nnan/ninf).
_jit_sums = numba.njit(
    cache=True, nogil=True, boundscheck=False, fastmath={"reassoc", "contract", "nsz"}
)


@_jit_sums
def vector_scan(x: Any, signs: Any, block: int, sq: Any, total: Any, counts: Any) -> None:
    """One pass over vectors ``x`` (n x d): squared norms, column sums, projection counts.

    ``sq`` (n, float64) gets each row's squared norm, ``total`` (d, float64) the
    column sums added; ``counts`` (k x bins) counts each non-zero, finite row's
    unit projection on direction ``b`` (``signs[b, j]`` on coordinate
    ``j * k + b``, scaled by ``1 / sqrt(block)``) in equal
    bins of [-1, 1]: the same as vectors.scan's numpy code.
    """
    n, d = x.shape
    k = signs.shape[0]
    n_bins = counts.shape[1]
    scale = 1.0 / math.sqrt(block)
    half = n_bins / 2.0
    for i in range(n):
        s = 0.0
        for j in range(d):
            v = x[i, j]
            s += v * v
            total[j] += v
        sq[i] = s
        if not (s > 0.0 and s < math.inf):
            continue
        inv = scale / math.sqrt(s)
        for b in range(k):
            acc = 0.0
            for j in range(block):
                acc += x[i, j * k + b] * signs[b, j]
            pos = int((acc * inv + 1.0) * half)
            pos = min(max(pos, 0), n_bins - 1)
            counts[b, pos] += 1
