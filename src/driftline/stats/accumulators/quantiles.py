"""The KLL quantile sketch (Apache DataSketches) with a cheap path for big batches."""

from __future__ import annotations

import math

import datasketches as ds
import numpy as np
from typing_extensions import Self

from driftline.errors import ProfileFormatError
from driftline.stats._codec import pack, unpack
from driftline.stats.accumulators._blocks import FloatArray, _writable


class QuantileSketch:
    """Apache DataSketches KLL (doubles) with a cheap path for large batches.

    Batches of up to ``sample_above`` values are fed value by value. A larger
    batch feeds ``m`` values drawn uniformly with replacement (``sample_above/2
    < m <= sample_above``), built into their own KLL sketch and merged ``2**j``
    times, so every drawn value carries the weight ``2**j = n/m`` it stands for
    and sketches built from batches of any size still merge without bias.
    Rank error: KLL's own bound (about 1.33% at k=200, 99% confidence) plus the
    draws', at most ``3 * 0.5 / sqrt(m)`` (0.83% for m >= 32,768).
    """

    _KIND = "kll"

    def __init__(self, k: int = 200, sample_above: int = 65_536) -> None:
        self.k = k
        self.sample_above = sample_above
        self.sketch = ds.kll_doubles_sketch(k)
        self.sampled = False

    def update(self, values: FloatArray, rng: np.random.Generator | None = None) -> Self:
        n = int(values.size)
        if n == 0:
            return self
        if n <= self.sample_above:
            self.sketch.update(_writable(values))
            return self
        j = math.ceil(math.log2(n / self.sample_above))
        m = n >> j
        gen = rng if rng is not None else np.random.default_rng()
        idx = gen.integers(0, n, size=m)  # iid draws from the batch: O(m), not O(n)
        part = ds.kll_doubles_sketch(self.k)
        part.update(_writable(values[idx]))
        for _ in range(1 << j):
            self.sketch.merge(part)
        self.sampled = True
        return self

    def merge(self, other: QuantileSketch) -> Self:
        self.sketch.merge(other.sketch)
        self.sampled = self.sampled or other.sampled
        return self

    def quantiles(self, qs: FloatArray) -> FloatArray:
        if self.sketch.is_empty():
            return np.full(len(qs), math.nan)
        return np.asarray(self.sketch.get_quantiles(np.asarray(qs, dtype=np.float64)))

    def rank(self, value: float) -> float:
        return float(self.sketch.get_rank(value)) if not self.sketch.is_empty() else math.nan

    @property
    def rank_error(self) -> float:
        """Documented normalised rank error of the quantiles (99% confidence)."""
        err = float(self.sketch.normalized_rank_error(False))
        if self.sampled:
            err += 3 * 0.5 / math.sqrt(self.sample_above / 2)
        return err

    def to_bytes(self) -> bytes:
        raw = np.frombuffer(self.sketch.serialize(), dtype=np.uint8)
        return pack(
            self._KIND,
            1,
            {"k": self.k, "sample_above": self.sample_above, "sampled": self.sampled},
            {"sketch": raw},
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> QuantileSketch:
        _, s, arrs = unpack(cls._KIND, data, 1)
        q = cls(int(s["k"]), int(s["sample_above"]))
        try:
            q.sketch = ds.kll_doubles_sketch.deserialize(arrs["sketch"].tobytes())
        except (RuntimeError, ValueError) as exc:
            raise ProfileFormatError(f"corrupt KLL sketch: {exc}") from exc
        q.sampled = bool(s["sampled"])
        return q
