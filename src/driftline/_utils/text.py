"""Text descriptors of one value, in pure Python (the SDK's privacy policy uses them).

The same definitions as the vectorised descriptors of
:mod:`driftline.stats.descriptors.text` (a test holds them to it): characters
are Unicode code points, a word is a run of non-space characters, shares are
of non-space characters or of letters and are None when that is zero.
"""

from __future__ import annotations

import unicodedata

from driftline._utils.pii import count_pii

#: The descriptors the privacy policy's ``"descriptors"`` action sends, in order.
NAMES = ("chars", "words", "non_letter_share", "empty", "latin_share", "pii_hits")


def describe(text: str) -> dict[str, float | None]:
    """``{descriptor: value}`` of one text (see :data:`NAMES`)."""
    spaces = letters = latin = 0
    for ch in text:
        if ch.isspace():
            spaces += 1
        elif unicodedata.category(ch).startswith("L"):
            letters += 1
            name = unicodedata.name(ch, "")
            if name.startswith("LATIN") or "LATIN" in name.split(" ")[:2]:
                latin += 1
    visible = len(text) - spaces
    return {
        "chars": float(len(text)),
        "words": float(len(text.split())),
        "non_letter_share": (visible - letters) / visible if visible else None,
        "empty": 1.0 if visible == 0 else 0.0,
        "latin_share": latin / letters if letters else None,
        "pii_hits": float(count_pii(text)),
    }


__all__ = ["NAMES", "describe"]
