"""Mergeable accumulators: the building blocks of every profile.

Each accumulator has ``update(batch) -> Self`` (fold a batch in, vectorised),
``merge(other) -> Self`` (fold another accumulator of the same kind in; both
return ``self``), and ``to_bytes()`` / ``from_bytes()`` (versioned). None does
I/O or reads a clock. ``merge`` is associative; the exact parts are also
commutative, the sampled parts are equal in distribution.
"""

from driftline.stats.accumulators._blocks import BLOCK
from driftline.stats.accumulators.categories import CategoryCounts
from driftline.stats.accumulators.distinct import DistinctCount
from driftline.stats.accumulators.hashing import hash_floats, hash_strings, mix64
from driftline.stats.accumulators.histogram import LogHistogram
from driftline.stats.accumulators.moments import Moments
from driftline.stats.accumulators.quantiles import QuantileSketch
from driftline.stats.accumulators.reservoir import Reservoir, bottom_k_keys

__all__ = [
    "BLOCK",
    "CategoryCounts",
    "DistinctCount",
    "LogHistogram",
    "Moments",
    "QuantileSketch",
    "Reservoir",
    "bottom_k_keys",
    "hash_floats",
    "hash_strings",
    "mix64",
]
