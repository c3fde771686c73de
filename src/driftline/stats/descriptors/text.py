"""Built-in text descriptors: length, words, character classes, scripts, PII hits.

Each is computed per value on Arrow strings (vectorised with Arrow's RE2
regular expressions, apart from ``pii_hits``, which runs the privacy policy's
detectors once per distinct value). Missing values give NaN; a share whose
denominator is zero (no letters, nothing but spaces) is NaN too, so it is
counted as missing rather than as 0.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from driftline.stats.descriptors.registry import Descriptor


def _f(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    out = arr.cast(pa.float64()).to_numpy(zero_copy_only=False)
    return np.asarray(out, dtype=np.float64)


def _count(values: pa.Array, pattern: str) -> np.ndarray:
    return _f(pc.count_substring_regex(values, pattern))


def _share(values: pa.Array, part: str, whole: str) -> np.ndarray:
    num, den = _count(values, part), _count(values, whole)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / den, np.nan)


def chars(values: pa.Array) -> np.ndarray:
    return _f(pc.utf8_length(values))


def words(values: pa.Array) -> np.ndarray:
    return _count(values, r"\S+")


def non_letter_share(values: pa.Array) -> np.ndarray:
    return _share(values, r"[^\p{L}\s]", r"\S")


def empty(values: pa.Array) -> np.ndarray:
    """1 for an empty or whitespace-only text, 0 otherwise."""
    return _f(pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(values)), 0))


def latin_share(values: pa.Array) -> np.ndarray:
    return _share(values, r"\p{Latin}", r"\p{L}")


def cyrillic_share(values: pa.Array) -> np.ndarray:
    return _share(values, r"\p{Cyrillic}", r"\p{L}")


def cjk_share(values: pa.Array) -> np.ndarray:
    return _share(values, r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}]", r"\p{L}")


def pii_hits(values: pa.Array) -> np.ndarray:
    """Matches of the privacy policy's PII detectors (emails, cards, phones, ...)."""
    from driftline._utils.pii import count_pii

    encoded = pc.dictionary_encode(values)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    hits = np.array([count_pii(s) for s in encoded.dictionary.to_pylist()], dtype=np.float64)
    idx = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    out: np.ndarray = np.append(hits, np.nan)[idx]
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
