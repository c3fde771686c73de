"""Count, mean, variance and min/max: exact and mergeable."""

from __future__ import annotations

import math

import numpy as np
from typing_extensions import Self

from driftline.stats._codec import pack, unpack
from driftline.stats.accumulators._blocks import FloatArray


class Moments:
    """Count, mean, variance (Chan et al. parallel update) and min/max of finite values."""

    _KIND = "moments"

    def __init__(self) -> None:
        self.n = 0
        self.mean = 0.0
        self.m2 = 0.0
        self.min = math.inf
        self.max = -math.inf

    def update(self, values: FloatArray) -> Self:
        n_b = int(values.size)
        if n_b == 0:
            return self
        mean_b = float(values.sum()) / n_b
        dev = values - mean_b
        # einsum's own loop, not np.dot: a dot this long goes to OpenBLAS, whose worker
        # threads then spin for a while; in a collector that was a third of the CPU per
        # event (benchmarks/RESULTS.md, "Ingest CPU per event, all threads")
        m2_b = float(np.einsum("i,i->", dev, dev))
        self.combine(n_b, mean_b, m2_b, float(values.min()), float(values.max()))
        return self

    def merge(self, other: Moments) -> Self:
        if other.n:
            self.combine(other.n, other.mean, other.m2, other.min, other.max)
        return self

    def combine(self, n_b: int, mean_b: float, m2_b: float, lo: float, hi: float) -> None:
        """Fold in the summary of ``n_b`` values: their mean, sum of squared deviations
        from that mean, min and max (Chan et al.)."""
        n_a = self.n
        n = n_a + n_b
        delta = mean_b - self.mean
        self.mean = self.mean + delta * n_b / n
        self.m2 = self.m2 + m2_b + delta * delta * n_a * n_b / n
        self.n = n
        self.min = min(self.min, lo)
        self.max = max(self.max, hi)

    @property
    def variance(self) -> float:
        """Sample variance (ddof=1); NaN below two values."""
        return self.m2 / (self.n - 1) if self.n > 1 else math.nan

    @property
    def std(self) -> float:
        return math.sqrt(self.variance) if self.n > 1 else math.nan

    def to_bytes(self) -> bytes:
        return pack(
            self._KIND,
            1,
            {"n": self.n, "mean": self.mean, "m2": self.m2, "min": self.min, "max": self.max},
            {},
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> Moments:
        _, s, _ = unpack(cls._KIND, data, 1)
        m = cls()
        m.n, m.mean, m.m2 = int(s["n"]), float(s["mean"]), float(s["m2"])
        m.min, m.max = float(s["min"]), float(s["max"])
        return m
