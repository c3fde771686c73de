"""Stable, vectorised 64-bit hashes of floats and strings."""

from __future__ import annotations

import hashlib

import numpy as np

from driftline.stats.accumulators._blocks import FloatArray, _blocks

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def mix64(x: np.ndarray, *, inplace: bool = False) -> np.ndarray:
    """SplitMix64 finaliser, vectorised: spreads every input bit over the output.

    With ``inplace=True``, ``x`` (a uint64 array) is overwritten and returned.
    """
    z = x if inplace and x.dtype == np.uint64 else x.astype(np.uint64, copy=True)
    t = np.empty_like(z)
    for shift, mult in ((30, _M1), (27, _M2)):
        np.right_shift(z, np.uint64(shift), out=t)
        np.bitwise_xor(z, t, out=z)
        np.multiply(z, mult, out=z)
    np.right_shift(z, np.uint64(31), out=t)
    np.bitwise_xor(z, t, out=z)
    return z


def hash_floats(values: FloatArray) -> np.ndarray:
    """Stable 64-bit hashes of float values (0.0 and -0.0 hash alike)."""
    out = np.empty(values.size, dtype=np.uint64)
    start = 0
    for block in _blocks(values):
        end = start + block.size
        out[start:end] = mix64((block + 0.0).view(np.uint64), inplace=True)
        start = end
    return out


def hash_strings(values: list[str]) -> np.ndarray:
    """Stable 64-bit hashes of strings (BLAKE2b); call it on distinct values only."""
    out = np.empty(len(values), dtype=np.uint64)
    for i, v in enumerate(values):
        out[i] = int.from_bytes(hashlib.blake2b(v.encode(), digest_size=8).digest(), "little")
    return out
