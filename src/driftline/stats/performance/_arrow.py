"""Arrow columns -> the numpy arrays the performance accumulators take."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from driftline.errors import InputError

MISSING = "__missing__"


def label_values(column: pa.ChunkedArray) -> npt.NDArray[Any]:
    """Class labels as numpy (floats with NaN for numbers and booleans, objects for strings)."""
    t = column.type
    if pa.types.is_dictionary(t):
        column = column.cast(t.value_type)
        t = column.type
    if pa.types.is_boolean(t) or pa.types.is_integer(t) or pa.types.is_floating(t):
        if pa.types.is_integer(t) and column.null_count == 0:
            return np.asarray(column.to_numpy(), dtype=np.int64)
        return np.asarray(column.cast(pa.float64()).to_numpy(zero_copy_only=False))
    if not (pa.types.is_string(t) or pa.types.is_large_string(t)):
        column = column.cast(pa.string())
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=object)


def numeric_column(column: pa.ChunkedArray, name: str) -> tuple[npt.NDArray[np.float64], int]:
    """Floats (NaN = missing) and how many non-empty values are not numbers."""
    t = column.type
    if pa.types.is_dictionary(t):
        column = column.cast(t.value_type)
        t = column.type
    if pa.types.is_null(t):
        return np.full(len(column), np.nan), 0
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        trimmed = pc.utf8_trim_whitespace(column)
        empty = pc.or_kleene(pc.is_null(trimmed), pc.equal(trimmed, ""))
        parsed = []
        bad = 0
        for v in pc.if_else(empty, None, trimmed).to_pylist():
            try:
                parsed.append(np.nan if v is None else float(v))
            except ValueError:
                parsed.append(np.nan)
                bad += 1
        return np.asarray(parsed, dtype=np.float64), bad
    try:
        out = column.cast(pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise InputError(f"column {name!r}: type {t} cannot be read as numbers") from exc
    return np.asarray(out, dtype=np.float64), 0


def segment_codes(column: pa.ChunkedArray) -> tuple[npt.NDArray[np.int64], list[str]]:
    """Per row an index into the returned names; missing values are named ``__missing__``."""
    t = column.type
    if pa.types.is_dictionary(t):
        column = column.cast(t.value_type)
        t = column.type
    if pa.types.is_floating(t):  # 1.0 and 1 are the same segment
        ints = pc.equal(column, pc.floor(column))
        as_int = pc.if_else(ints, column.cast(pa.int64(), safe=False).cast(pa.string()), None)
        column = pc.coalesce(as_int, column.cast(pa.string()))
    elif pa.types.is_boolean(t):
        column = pc.if_else(column, "true", "false")
    elif not pa.types.is_string(t):
        column = column.cast(pa.string())
    encoded = pc.dictionary_encode(column).combine_chunks()
    names = [str(v) for v in encoded.dictionary.to_pylist()]
    idx = encoded.indices.fill_null(len(names)).to_numpy(zero_copy_only=False)
    return np.asarray(idx, dtype=np.int64), [*names, MISSING]
