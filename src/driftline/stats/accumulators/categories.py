"""Category counts: exact up to a cap, then a frequent-items sketch."""

from __future__ import annotations

from typing import Any

import datasketches as ds
import numpy as np
from typing_extensions import Self

from driftline.stats._codec import pack, unpack


class CategoryCounts:
    """Category counts: exact up to ``cap`` distinct values, then a frequent-items sketch.

    Past the cap, the exact table is folded into an Apache DataSketches
    frequent-items sketch; :meth:`top` then returns the heavy hitters with
    estimated counts and everything else lands in :attr:`OTHER`. Missing values
    are not counted here (the column profile counts them).
    """

    _KIND = "categories"
    OTHER = "__other__"

    def __init__(self, cap: int = 10_000, sketch_lg_k: int = 12) -> None:
        self.cap = cap
        self.sketch_lg_k = sketch_lg_k
        self.exact: dict[str, int] | None = {}
        self.sketch: Any = None
        self.total = 0

    @property
    def is_exact(self) -> bool:
        return self.exact is not None

    def update_counts(self, values: list[str], counts: np.ndarray) -> Self:
        """Fold in distinct ``values`` with their ``counts`` (one batch's value counts)."""
        self.total += int(counts.sum())
        if self.exact is not None:
            ex = self.exact
            for v, c in zip(values, counts.tolist(), strict=True):
                ex[v] = ex.get(v, 0) + c
            if len(ex) > self.cap:
                self._to_sketch()
            return self
        for v, c in zip(values, counts.tolist(), strict=True):
            self.sketch.update(v, c)
        return self

    def update(self, values: list[str]) -> Self:
        uniq, counts = np.unique(np.asarray(values, dtype=object), return_counts=True)
        return self.update_counts([str(u) for u in uniq], counts)

    def _to_sketch(self) -> None:
        assert self.exact is not None
        self.sketch = ds.frequent_strings_sketch(self.sketch_lg_k)
        for v, c in self.exact.items():
            self.sketch.update(v, c)
        self.exact = None

    def merge(self, other: CategoryCounts) -> Self:
        if other.exact is not None:
            items = list(other.exact.items())
            return self.update_counts([k for k, _ in items], np.array([c for _, c in items]))
        if self.exact is not None:
            self._to_sketch()
        self.sketch.merge(other.sketch)
        self.total += other.total
        return self

    def counts(self) -> dict[str, int]:
        """Exact counts, or (past the cap) the heavy hitters plus an ``__other__`` bucket."""
        if self.exact is not None:
            return dict(self.exact)
        rows = self.sketch.get_frequent_items(ds.frequent_items_error_type.NO_FALSE_POSITIVES)
        rows = sorted(rows, key=lambda r: (-r[1], str(r[0])))[:1000]
        out = {str(item): int(est) for item, est, _lb, _ub in rows}
        rest = self.total - sum(out.values())
        if rest > 0:
            out[self.OTHER] = rest
        return out

    def named(self) -> dict[str, int]:
        """The categories known by name: all of them when exact, else the sketch's heavy hitters."""
        out = self.counts()
        if self.exact is None:
            out.pop(self.OTHER, None)
        return out

    def estimate(self, items: list[str]) -> np.ndarray:
        """Counts of ``items``: exact, or the sketch's estimates (within :attr:`max_error`)."""
        if self.exact is not None:
            ex = self.exact
            return np.array([ex.get(k, 0) for k in items], dtype=np.int64)
        get = self.sketch.get_estimate
        return np.array([get(k) for k in items], dtype=np.int64)

    @property
    def max_error(self) -> int:
        """Largest error of any count :meth:`estimate` returns (0 when exact).

        The frequent-items sketch's offset: an item's true count lies in
        [estimate - max_error, estimate] for tracked items and in [0, max_error]
        for the others.
        """
        if self.exact is not None:
            return 0
        probe = "\x00driftline-probe"
        return int(self.sketch.get_upper_bound(probe) - self.sketch.get_lower_bound(probe))

    @property
    def n_distinct_exact(self) -> int | None:
        return len(self.exact) if self.exact is not None else None

    def to_bytes(self) -> bytes:
        scalars: dict[str, Any] = {
            "cap": self.cap,
            "lg_k": self.sketch_lg_k,
            "total": self.total,
            "exact": self.exact,
        }
        arrays = {}
        if self.sketch is not None:
            arrays["sketch"] = np.frombuffer(self.sketch.serialize(), dtype=np.uint8)
        return pack(self._KIND, 1, scalars, arrays)

    @classmethod
    def from_bytes(cls, data: bytes) -> CategoryCounts:
        _, s, arrs = unpack(cls._KIND, data, 1)
        c = cls(int(s["cap"]), int(s["lg_k"]))
        c.total = int(s["total"])
        c.exact = None if s["exact"] is None else {str(k): int(v) for k, v in s["exact"].items()}
        if "sketch" in arrs:
            c.sketch = ds.frequent_strings_sketch.deserialize(arrs["sketch"].tobytes())
        return c
