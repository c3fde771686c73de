"""HyperLogLog distinct counts over 64-bit hashes, updated in bulk."""

from __future__ import annotations

import math

import numpy as np
from typing_extensions import Self

from driftline.errors import ProfileFormatError
from driftline.stats._codec import pack, unpack
from driftline.stats.accumulators._blocks import _blocks


class DistinctCount:
    """HyperLogLog distinct count over 64-bit hashes, updated in bulk with numpy.

    Registers are the standard HLL registers (``2**p`` of them, p=12 by
    default: about 1.6% relative standard error); the estimate uses linear
    counting at small cardinalities, so it is near exact there. The hashes come
    from :func:`hash_floats` / :func:`hash_strings`, which are stable across
    processes and versions, so profiles made anywhere merge. DataSketches' HLL
    is not used here because its Python binding updates one value per call
    (about 250 ns each), which is 50x slower than this vectorised update.
    """

    _KIND = "hll"

    def __init__(self, p: int = 12) -> None:
        self.p = p
        self.registers = np.zeros(1 << p, dtype=np.uint8)

    def update_hashes(self, hashes: np.ndarray) -> Self:
        if hashes.size == 0:
            return self
        p = self.p
        for block in _blocks(hashes):
            idx = (block >> np.uint64(64 - p)).astype(np.intp)
            # rank = position of the first 1-bit in the next 32 bits (33 if none):
            # floor(log2(rest)) read exactly off the exponent of rest as a float64
            rest = block >> np.uint64(32 - p)
            np.bitwise_and(rest, np.uint64(0xFFFFFFFF), out=rest)
            exponent = rest.astype(np.float64).view(np.int64)
            np.right_shift(exponent, 52, out=exponent)  # biased: 0 for rest == 0
            rank = np.minimum(1055 - exponent, 33).astype(np.uint8)  # 32 - (e - 1023)
            np.maximum.at(self.registers, idx, rank)
        return self

    def merge(self, other: DistinctCount) -> Self:
        if other.p != self.p:
            raise ValueError("cannot merge HLL sketches of different precision")
        np.maximum(self.registers, other.registers, out=self.registers)
        return self

    @property
    def estimate(self) -> float:
        m = float(1 << self.p)
        alpha = 0.7213 / (1 + 1.079 / m)
        raw = alpha * m * m / float(np.sum(np.exp2(-self.registers.astype(np.float64))))
        zeros = int(np.count_nonzero(self.registers == 0))
        if raw <= 2.5 * m and zeros:
            return m * math.log(m / zeros)
        return raw

    @property
    def relative_error(self) -> float:
        return 1.04 / math.sqrt(1 << self.p)

    def to_bytes(self) -> bytes:
        return pack(self._KIND, 1, {"p": self.p}, {"registers": self.registers})

    @classmethod
    def from_bytes(cls, data: bytes) -> DistinctCount:
        _, s, arrs = unpack(cls._KIND, data, 1)
        d = cls(int(s["p"]))
        if arrs["registers"].size != (1 << d.p):
            raise ProfileFormatError("HLL registers do not match the precision")
        d.registers = arrs["registers"].astype(np.uint8)
        return d
