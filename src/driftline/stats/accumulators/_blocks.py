"""Cache-sized blocks for chains of vectorised passes."""

from __future__ import annotations

import numpy as np

FloatArray = np.ndarray


BLOCK = 1 << 15


def _blocks(values: np.ndarray) -> list[np.ndarray]:
    """Views of ``values`` in blocks small enough for their temporaries to stay in cache.

    Each vectorised pass over a large array costs a trip to memory; a chain of
    passes over a 32k-element block runs in the CPU cache instead (3-5x faster).
    """
    return [values[i : i + BLOCK] for i in range(0, values.size, BLOCK)]


def _writable(values: FloatArray) -> FloatArray:
    """A contiguous, writable float64 array (the DataSketches binding rejects read-only ones)."""
    v = np.ascontiguousarray(values, dtype=np.float64)
    return v if v.flags.writeable else v.copy()
