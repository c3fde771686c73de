"""Word counts in hashed buckets: the vocabulary of a text column at fixed memory.

:class:`VocabularySketch` lower-cases each text, splits it into words (at
whitespace, punctuation trimmed from both ends) and counts each word in one
of ``2**bits`` buckets by its 64-bit hash. Counts add on merge.
:func:`unseen_share` compares a current sketch with a reference one: the
share of current words whose bucket the reference never filled. A new word
that lands in a filled bucket (a hash collision) goes unseen, with
probability the reference's bucket occupancy ``f``, so the estimate divides
by ``1 - f``; both the raw and the corrected share are reported.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from typing_extensions import Self

from driftline.stats._codec import pack, unpack
from driftline.stats.accumulators.hashing import hash_strings

BITS = 16
#: Trimmed from both ends of each whitespace-separated word.
_PUNCTUATION = ".,;:!?\"'()[]{}<>«»“”‘’-…*_/"


class VocabularySketch:
    """Hashed word counts (``2**bits`` buckets, stored sparse)."""

    _KIND = "vocabulary"

    def __init__(self, bits: int = BITS) -> None:
        self.bits = bits
        self.counts = np.zeros(1 << bits, dtype=np.int64)

    @property
    def total(self) -> int:
        return int(self.counts.sum())

    @property
    def occupancy(self) -> float:
        """The share of buckets holding at least one word."""
        return float(np.count_nonzero(self.counts)) / self.counts.size

    def update(self, texts: pa.Array | pa.ChunkedArray) -> Self:
        """Fold in a batch of strings (nulls skipped)."""
        words = pc.list_flatten(pc.utf8_split_whitespace(pc.utf8_lower(texts)))
        words = pc.utf8_trim(words, characters=_PUNCTUATION)
        if isinstance(words, pa.ChunkedArray):
            words = words.combine_chunks()
        words = words.filter(pc.not_equal(words, ""))
        if len(words) == 0:
            return self
        vc = pc.value_counts(words)
        uniq = vc.field("values").to_pylist()
        counts = vc.field("counts").to_numpy().astype(np.int64)
        buckets = (hash_strings(uniq) & np.uint64((1 << self.bits) - 1)).astype(np.int64)
        self.counts += np.bincount(buckets, weights=counts, minlength=self.counts.size).astype(
            np.int64
        )
        return self

    def merge(self, other: VocabularySketch) -> Self:
        if other.bits != self.bits:
            raise ValueError(f"vocabulary sketches of {self.bits} and {other.bits} bits")
        self.counts += other.counts
        return self

    def to_bytes(self) -> bytes:
        nz = np.flatnonzero(self.counts)
        arrays = {"buckets": nz.astype(np.int64), "counts": self.counts[nz]}
        return pack(self._KIND, 1, {"bits": self.bits}, arrays)

    @classmethod
    def from_bytes(cls, data: bytes) -> VocabularySketch:
        _, s, a = unpack(cls._KIND, data, 1)
        v = cls(int(s["bits"]))
        v.counts[a["buckets"].astype(np.int64)] = a["counts"].astype(np.int64)
        return v


def unseen_share(reference: VocabularySketch, current: VocabularySketch) -> dict[str, Any]:
    """The share of current words not in the reference vocabulary (raw and corrected)."""
    total = current.total
    if total == 0 or reference.total == 0:
        return {"share": None, "raw_share": None, "current_words": total}
    unseen = int(current.counts[reference.counts == 0].sum())
    raw = unseen / total
    f = reference.occupancy
    return {
        "share": min(1.0, raw / (1.0 - f)) if f < 1 else None,
        "raw_share": raw,
        "current_words": total,
        "reference_occupancy": f,
        "computed": "sketch",
        "how": (
            f"words hashed into {reference.counts.size} buckets; a new word sharing a bucket "
            "with a reference word goes unseen, so the share is divided by 1 - occupancy"
        ),
    }
