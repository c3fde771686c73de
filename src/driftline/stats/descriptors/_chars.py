"""Character classes per text value, counted in one vectorised pass.

The batch's texts are joined and decoded to code points once (UTF-32); each
distinct code point is classified once per process (:mod:`unicodedata`) into
a lookup table, and per-text sums come from ``np.add.reduceat``. Every
text descriptor that needs character classes reads :func:`counts` of the same
batch, which is computed once per batch and thread.
"""

from __future__ import annotations

import threading
import unicodedata
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SPACE, LETTER, LATIN, CYRILLIC, CJK, DIGIT = 1, 2, 4, 8, 16, 32
_CJK_NAMES = ("CJK ", "HIRAGANA", "KATAKANA", "HANGUL")
_memo = threading.local()


def _classify(cp: int) -> int:
    ch = chr(cp)
    if ch.isspace():
        return SPACE
    cat = unicodedata.category(ch)
    if cat.startswith("N"):
        return DIGIT
    if not cat.startswith("L"):
        return 0
    name = unicodedata.name(ch, "")
    out = LETTER
    if name.startswith("LATIN") or "LATIN" in name.split(" ")[:2]:
        out |= LATIN
    elif name.startswith("CYRILLIC"):
        out |= CYRILLIC
    elif name.startswith(_CJK_NAMES):
        out |= CJK
    return out


_UNKNOWN = 255


@cache
def _table() -> np.ndarray:
    """Classes by code point, filled in as code points are first seen."""
    return np.full(0x110000, _UNKNOWN, dtype=np.uint8)


def counts(values: pa.Array) -> dict[str, np.ndarray]:
    """Per text: ``chars``, ``spaces``, ``letters``, ``latin``, ``cyrillic``, ``cjk``,
    ``digits`` and ``words`` (runs of non-space characters); NaN for missing texts."""
    memo = getattr(_memo, "last", None)
    if memo is not None and memo[0] is values:
        out: dict[str, np.ndarray] = memo[1]
        return out
    lengths = np.asarray(pc.utf8_length(values).fill_null(0).to_numpy(), dtype=np.int64)
    texts = values.to_pylist()
    joined = "".join(t for t in texts if t is not None)
    cps = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
    table = _table()
    classes = table[cps]
    new = classes == _UNKNOWN
    if new.any():  # code points this process has not seen yet: a few hundred at most
        for cp in np.unique(cps[new]).tolist():
            table[cp] = _classify(cp)
        classes = table[cps]
    missing = np.asarray(values.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    nonempty = lengths > 0
    space = (classes & SPACE) > 0
    prev_space = np.concatenate([[True], space[:-1]])
    prev_space[starts[nonempty]] = True  # a text starts a new word
    word_start = ~space & prev_space

    def per_text(flags: np.ndarray) -> np.ndarray:
        res = np.zeros(lengths.size, dtype=np.float64)
        if cps.size:
            sums = np.add.reduceat(flags, starts[nonempty], dtype=np.int64)
            res[nonempty] = sums
        res[missing] = np.nan
        return res

    out = {
        "chars": np.where(missing, np.nan, lengths.astype(np.float64)),
        "spaces": per_text(space),
        "letters": per_text((classes & LETTER) > 0),
        "latin": per_text((classes & LATIN) > 0),
        "cyrillic": per_text((classes & CYRILLIC) > 0),
        "cjk": per_text((classes & CJK) > 0),
        "digits": per_text((classes & DIGIT) > 0),
        "words": per_text(word_start),
    }
    _memo.last = (values, out)
    return out


def share(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den``, NaN where ``den`` is 0 or missing."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out: np.ndarray = np.where(den > 0, num / den, np.nan)
    return out
