"""Turn user label arrays into class indices, with clear errors for bad input."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from driftline.errors import InputError

Label = int | str
_STR_OR_MISSING = {str, float, type(None), np.float64}
LabelKind = Literal["int", "str", "empty"]


def to_numpy(values: Any, field: str) -> npt.NDArray[Any]:
    """A 1-d or 2-d numpy view of a list, numpy array, pandas or pyarrow column."""
    if values is None:
        raise InputError(f"{field}: expected an array, got None")
    if hasattr(values, "to_numpy") and type(values).__module__.startswith("pyarrow"):
        return np.asarray(values.to_numpy(zero_copy_only=False))
    if hasattr(values, "to_numpy"):
        return np.asarray(values.to_numpy())
    try:
        return np.asarray(values)
    except (ValueError, TypeError) as exc:
        raise InputError(f"{field}: cannot be read as an array ({exc})") from exc


def is_missing(v: Any) -> bool:
    if v is None or type(v).__name__ in ("NAType", "NaTType"):
        return True
    return isinstance(v, float | np.floating) and math.isnan(v)


def normalise_labels(
    values: Any, field: str
) -> tuple[npt.NDArray[Any], npt.NDArray[np.bool_], LabelKind]:
    """Return (labels, missing mask, kind) with labels as int64 or str values.

    Allowed: integers, booleans (as 0/1), integral floats, strings. Missing
    values (None, NaN, NA) are masked, not rejected. Anything else, non-integral
    numbers or a mix of numbers and strings raise :class:`InputError`.
    """
    arr = to_numpy(values, field)
    if isinstance(values, list | tuple) and arr.dtype.kind in "US":
        arr = np.empty(len(values), dtype=object)  # numpy would turn [0, "a"] into strings
        arr[:] = list(values)
    if arr.ndim != 1:
        raise InputError(f"{field}: expected a 1-d array of class labels, got shape {arr.shape}")
    allowed = "classification labels must be integers, booleans or strings"
    kind = arr.dtype.kind
    if kind in "biu":
        return arr.astype(np.int64), np.zeros(arr.shape, dtype=bool), "int"
    if kind == "f":
        missing = np.isnan(arr)
        ok = arr[~missing]
        bad = ok[~np.isfinite(ok) | (ok != np.round(ok))]
        if bad.size:
            raise InputError(f"{field}: {allowed}; got non-integer numbers such as {bad[0]!r}")
        out = np.where(missing, 0, arr).astype(np.int64)
        return out, missing, "int" if ok.size else "empty"
    if kind in "US":
        return arr.astype(str), np.zeros(arr.shape, dtype=bool), "str"
    if kind != "O":
        raise InputError(f"{field}: {allowed}; got values of dtype {arr.dtype}")
    types = set(map(type, arr))
    if types == {str}:  # fast path: plain strings (a pandas object column)
        return arr.astype(str), np.zeros(arr.shape, dtype=bool), "str"
    if str in types and types <= _STR_OR_MISSING:
        is_str = np.fromiter((type(v) is str for v in arr), dtype=bool, count=arr.size)
        missing = ~is_str
        if all(is_missing(v) for v in arr[missing]):
            return np.where(is_str, arr, "").astype(str), missing, "str"
    missing = np.fromiter((is_missing(v) for v in arr), dtype=bool, count=arr.size)
    present = [v for v, m in zip(arr, missing, strict=True) if not m]
    n_str = sum(isinstance(v, str) for v in present)
    if n_str and n_str != len(present):
        example = next(v for v in present if not isinstance(v, str))
        raise InputError(f"{field}: {allowed}, not a mix of numbers and strings (e.g. {example!r})")
    if n_str:
        out_s = np.array(["" if m else v for v, m in zip(arr, missing, strict=True)], dtype=str)
        return out_s, missing, "str"
    ints: list[int] = []
    for v, m in zip(arr, missing, strict=True):
        if m:
            ints.append(0)
        elif isinstance(v, bool | np.bool_ | int | np.integer) or (
            isinstance(v, float | np.floating) and math.isfinite(v) and float(v).is_integer()
        ):
            ints.append(int(v))
        else:
            raise InputError(f"{field}: {allowed}; got {type(v).__name__} value {v!r}")
    return np.asarray(ints, dtype=np.int64), missing, "int" if present else "empty"


def normalise_classes(classes: Sequence[Any], field: str = "classes") -> list[Label]:
    labels, missing, kind = normalise_labels(np.asarray(list(classes), dtype=object), field)
    if missing.any() or kind == "empty":
        raise InputError(f"{field}: class labels must not be missing")
    out: list[Label] = [int(v) if kind == "int" else str(v) for v in labels]
    if len(set(out)) != len(out):
        raise InputError(f"{field}: class labels must be distinct, got {out}")
    return out


def classes_kind(classes: Sequence[Label]) -> LabelKind:
    if not classes:
        return "empty"
    return "str" if isinstance(classes[0], str) else "int"


def check_kind(kind: LabelKind, classes: Sequence[Label], field: str) -> None:
    ck = classes_kind(classes)
    if kind != "empty" and ck != "empty" and kind != ck:
        got = "numbers" if kind == "int" else "strings"
        raise InputError(f"{field}: labels are {got} but the classes are {list(classes)}")


def index_of(
    labels: npt.NDArray[Any], classes: Sequence[Label]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """Index of each label in ``classes`` and a mask of labels not in ``classes``."""
    if not classes:
        return np.zeros(labels.shape, dtype=np.int64), np.ones(labels.shape, dtype=bool)
    lookup = np.asarray(classes)
    order = np.argsort(lookup, kind="stable")
    sorted_lookup = lookup[order]
    pos = np.searchsorted(sorted_lookup, labels)
    pos = np.clip(pos, 0, len(classes) - 1)
    known = sorted_lookup[pos] == labels
    return order[pos].astype(np.int64), ~known


def numeric_values(values: Any, field: str) -> npt.NDArray[np.float64]:
    """Numbers as float64 (None -> NaN); strings or infinities raise InputError."""
    arr = to_numpy(values, field)
    if arr.ndim != 1:
        raise InputError(f"{field}: expected a 1-d array of numbers, got shape {arr.shape}")
    if arr.dtype.kind == "O":
        try:
            arr = np.array([np.nan if v is None else v for v in arr], dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InputError(f"{field}: regression values must be numbers ({exc})") from exc
    if arr.dtype.kind not in "biuf":
        raise InputError(f"{field}: regression values must be numbers, got dtype {arr.dtype}")
    out = arr.astype(np.float64)
    if np.isinf(out).any():
        raise InputError(f"{field}: infinite values are not allowed")
    return out
