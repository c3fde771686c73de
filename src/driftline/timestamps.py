"""Times stored as text or numbers -> epoch seconds (UTC).

ISO 8601 strings are parsed with their time zone (``Z``, ``+02:00``); a time
without a zone is taken as UTC; a date alone is midnight UTC. Numbers are
only times when their unit is given (``s``, ``ms``, ``us``, ``ns`` since
1970-01-01 UTC): an epoch in milliseconds read as seconds lands in the year
50,000, one in seconds read as nanoseconds on 1970-01-01, and nothing in the
numbers says which, so a numeric timestamp without a unit is refused.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

UNITS = ("s", "ms", "us", "ns")
_PER_SECOND = {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9}
_FRACTION = re.compile(r"(\.\d{6})\d+")


def parse_iso(strings: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """``(seconds, bad)``: epoch seconds (NaN where missing or unparseable) and where unparseable.

    Each distinct string is parsed once: Arrow's ISO parser first (with and
    without a zone), Python's ``datetime.fromisoformat`` for what it refuses
    (mixed zones, nanoseconds, ``2024-01-05 10:00``).
    """
    arr = strings.combine_chunks() if isinstance(strings, pa.ChunkedArray) else strings
    if pa.types.is_dictionary(arr.type):
        arr = arr.cast(arr.type.value_type)
    encoded = pc.dictionary_encode(arr)
    uniques = encoded.dictionary
    secs = _parse_uniques(uniques)
    idx = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    seconds = np.append(secs, np.nan)[idx]
    blank = np.array([s is None or not s.strip() for s in uniques.to_pylist()] + [True])
    bad = np.isnan(seconds) & ~blank[idx]
    return seconds, bad


def _parse_uniques(uniques: pa.Array) -> np.ndarray:
    for target in (pa.timestamp("us", tz="UTC"), pa.timestamp("us")):
        try:
            us = uniques.cast(target).cast(pa.int64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
        return np.asarray(us.to_numpy(zero_copy_only=False), dtype=np.float64) / 1e6
    out = np.full(len(uniques), np.nan)
    for i, text in enumerate(uniques.to_pylist()):
        out[i] = _one(text)
    return out


def _one(text: str | None) -> float:
    if text is None:
        return np.nan
    s = _FRACTION.sub(r"\1", text.strip())  # Python reads at most microseconds
    if s.endswith(("Z", "z")):
        s = s[:-1] + "+00:00"
    try:
        d = datetime.fromisoformat(s)
    except ValueError:
        return np.nan
    if d.tzinfo is None:
        d = d.replace(tzinfo=timezone.utc)
    return d.timestamp()


def numbers_as_seconds(values: np.ndarray, unit: str) -> np.ndarray:
    """Epoch numbers in ``unit`` -> epoch seconds."""
    return np.asarray(values, dtype=np.float64) / _PER_SECOND[unit]


def looks_like_times(sample: pa.Array | pa.ChunkedArray) -> bool:
    """True when every non-empty string of ``sample`` is an ISO 8601 date or time."""
    values = sample.drop_null()
    if len(values) == 0:
        return False
    text = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    if pa.types.is_dictionary(text.type):
        text = text.cast(text.type.value_type)
    # a cheap screen first: 2024-01-05 or 20240105T... shapes only
    if not pc.all(pc.match_substring_regex(text, r"^\s*\d{4}-?\d{2}-?\d{2}")).as_py():
        return False
    _, bad = parse_iso(text)
    return not bad.any()
