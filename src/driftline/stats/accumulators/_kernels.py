"""Fused, compiled passes over one column for large batches (numba).

The accumulators' numpy code makes one trip to memory per vectorised step: a numeric
column costs about a dozen passes (moments, histogram keys, hashes, HyperLogLog ranks,
row codes). The kernels in :mod:`driftline.stats.accumulators._numba` do the same work
in two passes per numeric column and one per categorical column, release the GIL (so
the profile's thread pool uses every core) and give bit-for-bit the same histogram
counts, hashes, HLL registers and row codes as the numpy code
(tests/stats/test_kernels.py holds them to it). Moments may differ in the last bits:
the kernel sums sequentially, numpy pairwise.

numba compiles each kernel on first use and caches the machine code (next to the
module, or in NUMBA_CACHE_DIR), so only the first large batch on a machine pays the
compile time. Small batches never import numba: below ``MIN_ROWS`` values the numpy
code is as fast and the import (about 0.3 s) is not worth it. ``DRIFTLINE_KERNELS=0``
turns the kernels off; so does a platform without numba (they are an optimisation).
"""

from __future__ import annotations

import os
from functools import cache
from types import ModuleType

#: Batches of fewer values than this use the numpy code.
MIN_ROWS = 1 << 16


@cache
def _compiled() -> ModuleType | None:
    if os.environ.get("DRIFTLINE_KERNELS", "1").strip().lower() in ("0", "false", "no", "off"):
        return None
    try:
        from driftline.stats.accumulators import _numba
    except ImportError:  # an optimisation only: the numpy code does the same work
        return None
    return _numba


def kernels(n: int) -> ModuleType | None:
    """The compiled kernels when a batch of ``n`` values is worth them, else None."""
    return _compiled() if n >= MIN_ROWS else None
