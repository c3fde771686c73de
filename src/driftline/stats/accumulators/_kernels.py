"""Fused, compiled passes over one column for large batches (numba).

The accumulators' numpy code makes one trip to memory per vectorised step: a numeric
column costs about a dozen passes (moments, histogram keys, hashes, HyperLogLog ranks,
row codes). The kernels in :mod:`driftline.stats.accumulators._numba` do the same work
in two passes per numeric column and one per categorical column, release the GIL (so
the profile's thread pool uses every core) and give bit-for-bit the same histogram
counts, hashes, HLL registers and row codes as the numpy code
(tests/stats/test_kernels.py holds them to it). Moments may differ in the last bits:
the kernel sums sequentially, numpy pairwise. The quantile sketch sorts a large batch
with a radix-sort kernel (the same sorted array as numpy's sort).

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


#: Once the kernels are loaded, the radix sort beats numpy's sort from this many values.
SORT_MIN_ROWS = 1 << 12


def sort_kernels(n: int) -> ModuleType | None:
    """The compiled kernels when sorting ``n`` values is worth them, else None.

    From ``MIN_ROWS`` values, as :func:`kernels`; from ``SORT_MIN_ROWS`` once they are
    loaded (a large batch or :func:`warm_up` loaded them). Sorting gives the same array
    either way, so this choice never changes a result.
    """
    if n >= MIN_ROWS or (n >= SORT_MIN_ROWS and _compiled.cache_info().currsize):
        return _compiled()
    return None


def warm_up() -> bool:
    """Load (or compile) every kernel for the array types profiles pass them, now.

    The first large batch of a process otherwise pays it (about 0.5 s with a warm
    cache). Returns False when the kernels are off or numba is missing.
    """
    import numpy as np

    from driftline.stats.accumulators.histogram import LogHistogram

    fused = _compiled()
    if fused is None:
        return False
    null = np.uint64(0)
    hist = LogHistogram()
    key_lo, key_hi = hist.key_range(-2.0, 1.0)
    for writeable in (True, False):
        values = np.array([1.0, np.nan, np.inf, -2.0])
        idx = np.array([0, -1, 1], dtype=np.int32)
        values.flags.writeable = writeable
        idx.flags.writeable = writeable
        fused.numeric_scan(values)
        counts = np.zeros(key_hi - key_lo + 1, dtype=np.int64)
        codes = np.empty(values.size, dtype=np.uint64)
        registers = np.zeros(1 << 12, dtype=np.uint8)
        fused.numeric_fill(values, 0.0, key_lo, hist.shift, counts, registers, 12, codes, null)
        cat_codes = np.empty(idx.size, dtype=np.uint64)
        hashes = np.array([1, 2], dtype=np.uint64)
        fused.category_fill(idx, hashes, null, np.zeros(2, dtype=np.int64), cat_codes)
        fused.row_combine(codes, codes.copy(), null)
        fused.nonzero_index(counts)
    fused.sort_floats(np.array([2.0, -0.0, -1.0]), np.empty(3))
    fused.mix_inplace(codes)
    fused.hll_update(registers, codes, 12)
    return True
