"""Exact counts on fixed log-linear buckets."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from typing_extensions import Self

from driftline.stats._codec import pack, unpack
from driftline.stats.accumulators._blocks import FloatArray, _blocks

#: A batch whose key range is wider than this many buckets per value is counted sparsely.
_SPARSE_RATIO = 8


def _increasing(keys: np.ndarray) -> bool:
    return bool(keys.size < 2 or (keys[1:] > keys[:-1]).all())


class LogHistogram:
    """Exact counts on fixed, data-independent log-linear buckets.

    A finite float's bucket is its sign, binary exponent and top
    ``mantissa_bits`` mantissa bits (HDR-histogram style): every bucket spans
    at most ``2**-mantissa_bits`` (1.6% for 6 bits) of its value and is
    half-open ``[lower, upper)`` on both sides of zero, buckets never
    depend on the data, so any two histograms merge exactly and coarse bins
    chosen later (quantile bins of a reference) are unions of buckets with
    exact counts. Stored sparse: sorted bucket keys and their counts.
    """

    _KIND = "loghist"

    def __init__(self, mantissa_bits: int = 6) -> None:
        self.mantissa_bits = mantissa_bits
        self.keys = np.zeros(0, dtype=np.int64)
        self.counts = np.zeros(0, dtype=np.int64)

    @property
    def _shift(self) -> int:
        return 52 - self.mantissa_bits

    @property
    def shift(self) -> int:
        """How far a float's bits are shifted right to give its bucket key."""
        return self._shift

    def bucket_keys(self, values: FloatArray) -> np.ndarray:
        """The bucket key of each finite value (monotone in the value)."""
        # Map the float's bits to an integer that is monotone in the value: a
        # negative float's magnitude bits are flipped (u = -1 - mag) and moved one
        # ulp up (u = -mag), so its bucket is [-upper, -lower) like a positive
        # one's [lower, upper); -0.0 lands in 0.0's bucket. Five in-place passes.
        bits = np.ascontiguousarray(values, dtype=np.float64).view(np.int64)
        sign = bits >> 63  # 0 or -1
        u: np.ndarray = np.bitwise_and(sign, np.int64(0x7FFFFFFFFFFFFFFF))
        np.bitwise_xor(u, bits, out=u)
        np.subtract(u, sign, out=u)
        np.right_shift(u, self._shift, out=u)
        return u

    def update(self, values: FloatArray) -> Self:
        if values.size == 0:
            return self
        # keys are monotone in the value: the key range comes from min and max
        lo, hi = self.key_range(float(values.min()), float(values.max()))
        if hi - lo + 1 > _SPARSE_RATIO * values.size:
            # few values over a wide range (values near 0 span every small exponent: some
            # 130,000 buckets): sorting the keys costs less than counting into a dense array
            keys, counts = np.unique(self.bucket_keys(values), return_counts=True)
            self._add(keys.astype(np.int64), counts.astype(np.int64))
            return self
        counts = np.zeros(hi - lo + 1, dtype=np.int64)
        for block in _blocks(values):
            keys = self.bucket_keys(block)
            keys -= lo
            part = np.bincount(keys)
            counts[: part.size] += part
        return self.add_dense(lo, counts)

    def key_range(self, lo: float, hi: float) -> tuple[int, int]:
        """The bucket keys of two finite values (keys are monotone in the value)."""
        a, b = self.bucket_keys(np.array([lo, hi], dtype=np.float64)).tolist()
        return int(a), int(b)

    def add_dense(
        self, lo: int, counts: np.ndarray, nonzero: Callable[[np.ndarray], np.ndarray] | None = None
    ) -> Self:
        """Fold in dense counts of the consecutive bucket keys ``lo, lo + 1, ...``.

        ``nonzero``: what finds the non-zero counts' indices (``np.flatnonzero``; the
        profile passes the compiled kernel's, the same indices in a fifth of the time).
        """
        nz = np.flatnonzero(counts) if nonzero is None else nonzero(counts)
        if nz.size:
            self._add(nz.astype(np.int64) + lo, counts[nz].astype(np.int64))
        return self

    def _add(self, keys: np.ndarray, counts: np.ndarray) -> None:
        if self.keys.size == 0:
            self.keys, self.counts = keys, counts
            return
        if _increasing(self.keys) and _increasing(keys):
            # sorted and unique, as every update and merge leaves them: merge by position
            pos = np.searchsorted(self.keys, keys)
            hit = np.zeros(keys.size, dtype=np.bool_)
            inside = pos < self.keys.size
            hit[inside] = self.keys[pos[inside]] == keys[inside]
            summed = self.counts.astype(np.int64)  # a copy
            summed[pos[hit]] += counts[hit]  # the positions of distinct keys: distinct
            new = ~hit
            if new.any():
                self.keys = np.insert(self.keys, pos[new], keys[new])
                summed = np.insert(summed, pos[new], counts[new])
            self.counts = summed
            return
        all_keys = np.concatenate([self.keys, keys])
        all_counts = np.concatenate([self.counts, counts])
        uniq, inv = np.unique(all_keys, return_inverse=True)
        self.keys = uniq
        self.counts = np.bincount(inv, weights=all_counts, minlength=uniq.size).astype(np.int64)

    def merge(self, other: LogHistogram) -> Self:
        if other.mantissa_bits != self.mantissa_bits:
            raise ValueError("cannot merge log histograms of different resolution")
        if other.keys.size:
            self._add(other.keys, other.counts)
        return self

    @property
    def total(self) -> int:
        return int(self.counts.sum())

    def lower_bound(self, keys: np.ndarray) -> FloatArray:
        """The smallest value that falls in each bucket (a bucket spans [lower, next lower))."""
        k = np.asarray(keys, dtype=np.int64)
        mag = np.where(k < 0, -k - 1, k)
        # for negative buckets the lower edge is the largest magnitude: next magnitude key
        mag_edge = np.where(k < 0, mag + 1, mag)
        mag_edge = np.minimum(mag_edge, (0x7FF << self.mantissa_bits))
        vals = (mag_edge << self._shift).view(np.float64)
        return np.where(k < 0, -vals, vals)

    def to_bytes(self) -> bytes:
        return pack(
            self._KIND,
            1,
            {"mantissa_bits": self.mantissa_bits},
            {"keys": self.keys, "counts": self.counts},
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> LogHistogram:
        _, s, arrs = unpack(cls._KIND, data, 1)
        h = cls(int(s["mantissa_bits"]))
        h.keys, h.counts = arrs["keys"].astype(np.int64), arrs["counts"].astype(np.int64)
        return h
