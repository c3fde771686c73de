"""A KLL quantile sketch whose coin flips are seeded: same input, same quantiles.

Apache DataSketches' KLL draws its compaction coin from a generator seeded by
the clock and the thread id, so two runs over the same rows gave different
quantiles (and with them different drift bins, p-values and reports). This
is the same algorithm (Karnin, Lang and Liberty 2016) with the coin taken
from a splitmix64 sequence held in the sketch: updates and merges in the same
order give the same sketch, bit for bit, in any process.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
from typing_extensions import Self

from driftline.errors import ProfileFormatError
from driftline.stats._codec import pack, unpack
from driftline.stats.accumulators._blocks import FloatArray
from driftline.stats.accumulators._kernels import sort_kernels

_M = 8  # the smallest capacity of a level
_C = 2.0 / 3.0  # each level down holds C times the level above
_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15


def _splitmix(state: int) -> tuple[int, int]:
    """(next state, 64 pseudo-random bits): splitmix64."""
    state = (state + _GOLDEN) & _MASK
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return state, z ^ (z >> 31)


@cache
def _capacities(k: int, n_levels: int) -> tuple[int, ...]:
    """Each level's capacity in a sketch of ``n_levels`` levels, then their sum.

    A level ``depth`` levels below the top holds ``max(M, ceil(k * C**depth))`` items.
    """
    caps = [max(_M, math.ceil(k * _C ** (n_levels - 1 - h))) for h in range(n_levels)]
    return (*caps, sum(caps))


def _sorted(items: FloatArray, has_run: bool) -> FloatArray:
    """``items`` (no NaN) sorted, with -0.0 read as 0.0.

    Equal values are then equal bits, so the sorted array, and with it the sketch,
    is the same whichever sort made it: a level that holds a compaction's output (a
    sorted run after a few older items) is merged by numpy's stable sort (timsort,
    linear on runs); a large one (a batch) is radix-sorted by the compiled kernel.
    """
    if not has_run:
        fused = sort_kernels(items.size)
        if fused is not None:
            out = np.empty(items.size, dtype=np.float64)
            fused.sort_floats(np.ascontiguousarray(items, dtype=np.float64), out)
            return out
    out = items + 0.0  # -0.0 + 0.0 is 0.0
    out.sort(kind="stable" if has_run else "quicksort")
    return out


class QuantileSketch:
    """KLL over doubles with a cheap path for large batches (module docstring).

    Batches of up to ``sample_above`` values go into the sketch whole. A larger
    batch contributes ``m`` values drawn uniformly with replacement
    (``sample_above/2 < m <= sample_above``) with the weight ``2**j = n/m`` each
    stands for, so sketches built from batches of any size still merge without
    bias. Rank error: KLL's bound (about 1.33% at k=200, 99% confidence) plus
    the draws', at most ``3 * 0.5 / sqrt(m)`` (0.83% for m >= 32,768).
    """

    _KIND = "kll"
    _VERSION = 2

    def __init__(self, k: int = 200, sample_above: int = 65_536) -> None:
        self.k = k
        self.sample_above = sample_above
        self.levels: list[FloatArray] = [np.empty(0)]
        self.n = 0
        self.min = math.inf
        self.max = -math.inf
        self.sampled = False
        self._state = 0

    # -- update ------------------------------------------------------------------------

    def update(self, values: FloatArray, rng: np.random.Generator | None = None) -> Self:
        v = np.asarray(values, dtype=np.float64).ravel()
        v = v[~np.isnan(v)] if np.isnan(v).any() else v
        n = int(v.size)
        if n == 0:
            return self
        self.min = min(self.min, float(v.min()))
        self.max = max(self.max, float(v.max()))
        if n <= self.sample_above:
            self._add(0, v)
        else:
            j = math.ceil(math.log2(n / self.sample_above))
            gen = rng if rng is not None else np.random.default_rng(self._state)
            idx = gen.integers(0, n, size=n >> j)  # iid draws: O(m), not O(n)
            self._add(j, v[idx])
            self.sampled = True
        self.n += n
        self._compress()
        return self

    def merge(self, other: QuantileSketch) -> Self:
        if other.n == 0:
            return self
        for h, items in enumerate(other.levels):
            if items.size:
                self._add(h, items)
        self.n += other.n
        self.min, self.max = min(self.min, other.min), max(self.max, other.max)
        self.sampled = self.sampled or other.sampled
        self._state = _splitmix(self._state ^ other._state)[1]
        self._compress()
        return self

    def _add(self, level: int, items: FloatArray) -> None:
        while len(self.levels) <= level:
            self.levels.append(np.empty(0))
        self.levels[level] = np.concatenate([self.levels[level], items])

    def _compress(self) -> None:
        """While the sketch holds more than its capacity, compact its lowest over-full level."""
        ran: set[int] = set()  # levels given a (sorted) compaction in this call
        while True:
            caps = _capacities(self.k, len(self.levels))
            sizes = [lv.size for lv in self.levels]
            if sum(sizes) <= caps[-1]:
                break
            h = next(h for h, size in enumerate(sizes) if size > caps[h])
            items = _sorted(self.levels[h], h in ran)
            ran.add(h + 1)
            self._state, bits = _splitmix(self._state)
            keep = np.empty(0)
            if items.size % 2:  # an odd one out stays at this level (which one: the coin)
                if bits & 2:
                    keep, items = items[:1], items[1:]
                else:
                    keep, items = items[-1:], items[:-1]
            self.levels[h] = keep
            self._add(h + 1, items[bits & 1 :: 2])

    # -- queries -----------------------------------------------------------------------

    def _weighted(self) -> tuple[FloatArray, FloatArray]:
        items = np.concatenate(self.levels)
        weights = np.concatenate(
            [np.full(lv.size, float(1 << h)) for h, lv in enumerate(self.levels)]
        )
        order = np.argsort(items)
        return items[order], np.cumsum(weights[order])

    def is_empty(self) -> bool:
        return self.n == 0

    def quantiles(self, qs: FloatArray) -> FloatArray:
        """The smallest retained value whose (inclusive) rank reaches each q; min and max exact."""
        q = np.asarray(qs, dtype=np.float64)
        if self.n == 0:
            return np.full(q.size, math.nan)
        items, cum = self._weighted()
        pos = np.searchsorted(cum, q * cum[-1], side="left")
        out = items[np.minimum(pos, items.size - 1)]
        out = np.where(q <= 0, self.min, np.where(q >= 1, self.max, out))
        return np.clip(out, self.min, self.max)

    def rank(self, value: float) -> float:
        """Estimated share of values below ``value``."""
        if self.n == 0:
            return math.nan
        items, cum = self._weighted()
        i = int(np.searchsorted(items, value, side="left"))
        return float(cum[i - 1] / cum[-1]) if i else 0.0

    @property
    def rank_error(self) -> float:
        """Documented normalised rank error of the quantiles (99% confidence)."""
        err: float = 2.296 / math.pow(self.k, 0.9723)  # KLL's single-rank bound, as in DataSketches
        if self.sampled:
            err += 3 * 0.5 / math.sqrt(self.sample_above / 2)
        return err

    # -- bytes -------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        sizes = np.array([lv.size for lv in self.levels], dtype=np.int64)
        return pack(
            self._KIND,
            self._VERSION,
            {
                "k": self.k,
                "sample_above": self.sample_above,
                "sampled": self.sampled,
                "n": self.n,
                "min": self.min if self.n else None,
                "max": self.max if self.n else None,
                "state": str(self._state),
            },
            {"sizes": sizes, "items": np.concatenate(self.levels)},
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> QuantileSketch:
        version, s, arrs = unpack(cls._KIND, data, cls._VERSION)
        q = cls(int(s["k"]), int(s["sample_above"]))
        q.sampled = bool(s["sampled"])
        if version == 1:  # a DataSketches KLL written by driftline 0.1
            q._from_datasketches(arrs["sketch"].tobytes())
            return q
        sizes, items = arrs["sizes"].astype(np.int64), arrs["items"].astype(np.float64)
        if int(sizes.sum()) != items.size or (sizes < 0).any():
            raise ProfileFormatError("corrupt KLL sketch: level sizes do not match its items")
        q.levels = list(np.split(items, np.cumsum(sizes)[:-1])) if sizes.size else [np.empty(0)]
        q.n = int(s["n"])
        if q.n:
            q.min, q.max = float(s["min"]), float(s["max"])
        q._state = int(s["state"])
        return q

    def _from_datasketches(self, raw: bytes) -> None:
        import datasketches as ds

        try:
            old = ds.kll_doubles_sketch.deserialize(raw)
        except (RuntimeError, ValueError) as exc:
            raise ProfileFormatError(f"corrupt KLL sketch: {exc}") from exc
        if old.is_empty():
            return
        by_level: dict[int, list[float]] = {}
        for item, weight in old:
            by_level.setdefault(int(weight).bit_length() - 1, []).append(float(item))
        for h in sorted(by_level):
            self._add(h, np.array(by_level[h]))
        self.n = int(old.n)
        self.min, self.max = float(old.get_min_value()), float(old.get_max_value())
