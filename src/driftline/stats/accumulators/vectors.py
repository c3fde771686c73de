"""A mergeable sketch of fixed-dimension vectors (embeddings).

:class:`VectorSketch` keeps, for the valid vectors of one column (right
dimension, every component finite):

* ``n`` and ``zero`` (vectors of norm 0, whose direction, and so every cosine,
  is undefined);
* ``total``: the sum of the vectors (float64), so the mean vector (centroid) is
  exact and merges by addition;
* a bounded uniform sample of at most ``size`` vectors (float32), bottom-k by
  the row priority keys every column of a profile shares, so it merges like the
  column reservoirs and lines up with them;
* ``projections``: exact counts of each unit vector's projection on
  ``N_PROJECTIONS`` fixed random unit directions, on ``N_BINS`` equal bins of
  [-1, 1]. The directions depend only on the dimension (a fixed seed), so any
  two sketches of one dimension merge exactly, and each direction's
  distribution can be compared on all vectors at fixed memory. Direction ``b``
  has random signs on every ``k``-th coordinate from ``b`` (``b``, ``b + k``,
  ...) and 0 elsewhere, scaled to norm 1 (a sparse random projection: the directions are
  orthonormal and a projection costs one multiply-add per coordinate, so the
  whole update is about one pass over the vectors).

The norm distribution is not here: the column profile keeps it with its numeric
parts (moments, quantile sketch, histogram, reservoir of norms).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
from typing_extensions import Self

from driftline.errors import InputError
from driftline.stats._codec import pack, unpack

N_PROJECTIONS = 16
N_BINS = 64
#: Vectors a sketch keeps by default: 1,000 x 384 float32 = 1.5 MB.
DEFAULT_SIZE = 1000
_SEED = 20_2026


def n_directions(dim: int) -> int:
    return min(N_PROJECTIONS, dim)


@lru_cache(maxsize=16)
def block_signs(dim: int) -> np.ndarray:
    """``k x block`` random signs of the directions of dimension ``dim`` (fixed per dim)."""
    k = n_directions(dim)
    rng = np.random.default_rng([_SEED, dim])
    out: np.ndarray = rng.choice(np.array([-1.0, 1.0], dtype=np.float32), size=(k, dim // k))
    out.flags.writeable = False
    return out


def directions(dim: int) -> np.ndarray:
    """The ``dim x k`` unit directions as a dense matrix (for checks and pictures)."""
    signs = block_signs(dim)
    k, block = signs.shape
    out = np.zeros((dim, k))
    for b in range(k):
        out[b : k * block : k, b] = signs[b] / np.sqrt(block)
    return out


def scan(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Squared norms and column sums (float64) of ``vectors``, and their projection counts.

    The counts (``k x N_BINS``) are of the non-zero, finite rows' unit vectors.
    One compiled pass for large batches (``accumulators._kernels``), else numpy.
    """
    from driftline.stats.accumulators._kernels import kernels

    n, dim = vectors.shape
    signs = block_signs(dim)
    k, block = signs.shape
    counts = np.zeros((k, N_BINS), dtype=np.int64)
    fused = kernels(n * dim // 8)
    if fused is not None and vectors.dtype in (np.float32, np.float64):
        x = np.ascontiguousarray(vectors)
        sq = np.empty(n, dtype=np.float64)
        total = np.zeros(dim, dtype=np.float64)
        fused.vector_scan(x, signs.astype(x.dtype), block, sq, total, counts)
        return sq, total, counts
    sq = np.einsum("ij,ij->i", vectors, vectors).astype(np.float64)
    total = _column_sums(vectors)
    use = (sq > 0) & np.isfinite(sq)
    head = vectors[use, : k * block].reshape(-1, block, k)  # coordinate j * k + b
    proj = np.einsum("njk,kj->nk", head, signs.astype(vectors.dtype)).astype(np.float64)
    unit = proj / (np.sqrt(block) * np.sqrt(sq[use]))[:, None]
    pos = np.clip(((unit + 1.0) * (N_BINS / 2)).astype(np.int64), 0, N_BINS - 1)
    pos += np.arange(k, dtype=np.int64) * N_BINS
    counts += np.bincount(pos.ravel(), minlength=k * N_BINS).reshape(k, N_BINS)
    return sq, total, counts


class VectorSketch:
    """Count, zero vectors, sum, a sample of vectors and random-projection counts."""

    _KIND = "vectors"

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self.size = size
        self.dim = 0
        self.n = 0
        self.zero = 0
        self.total = np.zeros(0, dtype=np.float64)
        self.keys = np.zeros(0, dtype=np.float64)
        self.sample = np.zeros((0, 0), dtype=np.float32)
        self.projections = np.zeros((N_PROJECTIONS, N_BINS), dtype=np.int64)

    # -- reading ------------------------------------------------------------------------
    @property
    def centroid(self) -> np.ndarray:
        """The mean vector (empty before the first vector)."""
        return self.total / self.n if self.n else self.total

    @property
    def nonzero(self) -> int:
        return self.n - self.zero

    def ordered_sample(self) -> np.ndarray:
        """The sampled vectors, ordered by priority key (float32, ``k x dim``)."""
        out: np.ndarray = self.sample[np.argsort(self.keys, kind="stable")]
        return out

    # -- update ---------------------------------------------------------------------------
    def _fix_dim(self, dim: int) -> None:
        if self.dim == 0:
            self.dim = dim
            self.total = np.zeros(dim, dtype=np.float64)
            self.sample = np.zeros((0, dim), dtype=np.float32)
        elif dim != self.dim:
            raise InputError(
                f"vectors of dimension {dim} cannot join vectors of dimension {self.dim}"
            )

    def update(
        self,
        vectors: np.ndarray,
        sample_rows: np.ndarray | None = None,
        sample_keys: np.ndarray | None = None,
        scanned: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    ) -> Self:
        """Fold in valid vectors (``n x dim``, every component finite).

        ``sample_rows`` (indices into ``vectors``) and ``sample_keys`` are the
        rows of this batch the profile sampled and their priority keys;
        ``scanned`` is :func:`scan` of ``vectors`` when the caller has it.
        """
        n, dim = vectors.shape
        if n == 0:
            return self
        self._fix_dim(dim)
        sq, total, counts = scanned if scanned is not None else scan(vectors)
        self.n += n
        self.zero += int(np.count_nonzero(sq == 0))
        self.total += total
        self.projections[: counts.shape[0]] += counts
        if sample_rows is not None and sample_keys is not None and sample_rows.size:
            if sample_keys.size > self.size:  # only the smallest keys can stay
                keep = np.argpartition(sample_keys, self.size - 1)[: self.size]
                sample_rows, sample_keys = sample_rows[keep], sample_keys[keep]
            self._add_sample(sample_keys, vectors[sample_rows])
        return self

    def _add_sample(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        all_keys = np.concatenate([self.keys, keys])
        all_vecs = np.concatenate([self.sample, vectors.astype(np.float32, copy=False)])
        if all_keys.size > self.size:
            keep = np.argpartition(all_keys, self.size - 1)[: self.size]
            all_keys, all_vecs = all_keys[keep], all_vecs[keep]
        self.keys, self.sample = all_keys, np.ascontiguousarray(all_vecs)

    def merge(self, other: VectorSketch) -> Self:
        if other.dim == 0:
            return self
        self._fix_dim(other.dim)
        self.n += other.n
        self.zero += other.zero
        self.total += other.total
        self.projections += other.projections
        if other.keys.size:
            self._add_sample(other.keys, other.sample)
        return self

    # -- serialise --------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        scalars: dict[str, Any] = {"size": self.size, "dim": self.dim, "n": self.n}
        scalars["zero"] = self.zero
        arrays: dict[str, np.ndarray] = {
            "total": self.total,
            "keys": self.keys,
            "sample": self.sample.astype(np.float32, copy=False),
            "projections": self.projections,
        }
        return pack(self._KIND, 1, scalars, arrays)

    @classmethod
    def from_bytes(cls, data: bytes) -> VectorSketch:
        _, s, a = unpack(cls._KIND, data, 1)
        v = cls(int(s["size"]))
        v.dim, v.n, v.zero = int(s["dim"]), int(s["n"]), int(s["zero"])
        v.total = a["total"].astype(np.float64)
        v.keys = a["keys"].astype(np.float64)
        v.sample = a["sample"].astype(np.float32).reshape(-1, v.dim) if v.dim else v.sample
        v.projections = a["projections"].astype(np.int64).reshape(N_PROJECTIONS, N_BINS)
        return v


def _column_sums(vectors: np.ndarray, block: int = 4096) -> np.ndarray:
    """Column sums in float64, from float32 BLAS sums of row blocks (fast and accurate)."""
    if vectors.dtype == np.float64:
        out: np.ndarray = vectors.sum(axis=0)
        return out
    ones = np.ones(min(block, vectors.shape[0]), dtype=vectors.dtype)
    total = np.zeros(vectors.shape[1], dtype=np.float64)
    for start in range(0, vectors.shape[0], block):
        part = vectors[start : start + block]
        total += ones[: part.shape[0]] @ part
    return total
