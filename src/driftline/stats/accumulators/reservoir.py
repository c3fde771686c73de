"""Mergeable uniform samples (bottom-k priority sampling)."""

from __future__ import annotations

from typing import Any

import numpy as np
from typing_extensions import Self

from driftline.errors import ProfileFormatError
from driftline.stats._codec import pack, unpack


def bottom_k_keys(n: int, k: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Row indices and priority keys of a uniform sample of ``min(n, k)`` of ``n`` rows.

    Equivalent to drawing an iid U(0,1) key for every row and keeping the ``k``
    smallest, without drawing ``n`` keys: the indices are a uniform k-subset and
    the keys are the k smallest order statistics of n uniforms (exponential
    spacings over a Gamma remainder), in random order. Keeping the k smallest
    keys of a union is then a uniform sample of the union: this is what makes
    reservoirs mergeable.
    """
    if n <= k:
        return np.arange(n), rng.random(n)
    idx = rng.choice(n, size=k, replace=False)
    spacings = np.cumsum(rng.exponential(size=k))
    keys = spacings / (spacings[-1] + rng.gamma(n - k + 1))
    rng.shuffle(keys)
    return idx, keys


class Reservoir:
    """A bounded, mergeable uniform sample (bottom-k by priority key).

    Values are floats (NaN for missing) or strings/None. Rows of one dataset
    share their keys across columns, so the columns' reservoirs hold the same
    rows and a joint sample can be rebuilt.
    """

    _KIND = "reservoir"

    def __init__(self, size: int = 10_000, numeric: bool = True) -> None:
        self.size = size
        self.numeric = numeric
        self.keys = np.zeros(0, dtype=np.float64)
        self.values: np.ndarray = np.zeros(0, dtype=np.float64 if numeric else object)

    def update(self, keys: np.ndarray, values: np.ndarray) -> Self:
        if keys.size == 0:
            return self
        all_keys = np.concatenate([self.keys, keys])
        all_vals = np.concatenate([self.values, values])
        if all_keys.size > self.size:
            keep = np.argpartition(all_keys, self.size - 1)[: self.size]
            all_keys, all_vals = all_keys[keep], all_vals[keep]
        self.keys, self.values = all_keys, all_vals
        return self

    def merge(self, other: Reservoir) -> Self:
        return self.update(other.keys, other.values)

    def sample(self) -> np.ndarray:
        """The sampled values (missing ones included), ordered by key."""
        return self.values[np.argsort(self.keys, kind="stable")]

    def to_bytes(self) -> bytes:
        scalars: dict[str, Any] = {"size": self.size, "numeric": self.numeric}
        arrays: dict[str, np.ndarray] = {"keys": self.keys}
        if self.numeric:
            arrays["values"] = self.values.astype(np.float64)
        else:
            scalars["values"] = [None if v is None else str(v) for v in self.values.tolist()]
        return pack(self._KIND, 1, scalars, arrays)

    @classmethod
    def from_bytes(cls, data: bytes) -> Reservoir:
        _, s, arrs = unpack(cls._KIND, data, 1)
        r = cls(int(s["size"]), bool(s["numeric"]))
        r.keys = arrs["keys"].astype(np.float64)
        if r.numeric:
            r.values = arrs["values"].astype(np.float64)
        else:
            r.values = np.array(s["values"], dtype=object)
        if r.values.size != r.keys.size:
            raise ProfileFormatError("reservoir keys and values differ in length")
        return r
