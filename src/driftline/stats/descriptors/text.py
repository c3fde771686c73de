"""Built-in text descriptors: length, words, character classes, scripts, PII hits.

Each is computed per value on Arrow strings: the character classes in one
vectorised pass per batch (:mod:`._chars`); ``pii_hits`` runs the privacy
policy's detectors once per distinct value that holds a character one of them
needs. Missing values give NaN; a share whose
denominator is zero (no letters, nothing but spaces) is NaN too, so it is
counted as missing rather than as 0.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from driftline.stats.descriptors import _chars
from driftline.stats.descriptors.registry import Descriptor


def chars(values: pa.Array) -> np.ndarray:
    return _chars.counts(values)["chars"]


def words(values: pa.Array) -> np.ndarray:
    """Runs of non-space characters."""
    return _chars.counts(values)["words"]


def non_letter_share(values: pa.Array) -> np.ndarray:
    c = _chars.counts(values)
    return _chars.share(c["chars"] - c["spaces"] - c["letters"], c["chars"] - c["spaces"])


def empty(values: pa.Array) -> np.ndarray:
    """1 for an empty or whitespace-only text, 0 otherwise."""
    c = _chars.counts(values)
    out: np.ndarray = (c["chars"] == c["spaces"]).astype(np.float64)
    out[np.isnan(c["chars"])] = np.nan
    return out


def latin_share(values: pa.Array) -> np.ndarray:
    c = _chars.counts(values)
    return _chars.share(c["latin"], c["letters"])


def cyrillic_share(values: pa.Array) -> np.ndarray:
    c = _chars.counts(values)
    return _chars.share(c["cyrillic"], c["letters"])


def cjk_share(values: pa.Array) -> np.ndarray:
    c = _chars.counts(values)
    return _chars.share(c["cjk"], c["letters"])


def pii_hits(values: pa.Array) -> np.ndarray:
    """Matches of the privacy policy's PII detectors (emails, cards, phones, ...)."""
    from driftline._utils.pii import count_pii

    out = np.zeros(len(values), dtype=np.float64)
    out[np.asarray(values.is_null().to_numpy(zero_copy_only=False), dtype=bool)] = np.nan
    # only texts with a character some detector needs (@, a digit, a colon) can match
    maybe = pc.fill_null(pc.match_substring_regex(values, r"[@:0-9]"), False)
    rows = np.flatnonzero(np.asarray(maybe.to_numpy(zero_copy_only=False), dtype=bool))
    if rows.size == 0:
        return out
    encoded = pc.dictionary_encode(values.take(pa.array(rows)))
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    hits = np.array([count_pii(s) for s in encoded.dictionary.to_pylist()], dtype=np.float64)
    idx = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    out[rows] = np.append(hits, np.nan)[idx]
    return out


METHODS = [
    Descriptor("chars", "text", chars, "length in characters (Unicode code points)", "chars"),
    Descriptor("words", "text", words, "whitespace-separated words", "words"),
    Descriptor(
        "non_letter_share",
        "text",
        non_letter_share,
        "share of non-space characters that are not letters",
    ),
    Descriptor("empty", "text", empty, "1 when the text is empty or only whitespace"),
    Descriptor("latin_share", "text", latin_share, "share of letters in the Latin script"),
    Descriptor("cyrillic_share", "text", cyrillic_share, "share of letters in the Cyrillic script"),
    Descriptor(
        "cjk_share", "text", cjk_share, "share of letters that are Chinese, Japanese or Korean"
    ),
    Descriptor("pii_hits", "text", pii_hits, "PII matches (the privacy policy's detectors)"),
]
