"""Prediction batches as Arrow IPC streams (``Content-Type: application/vnd.apache.arrow.stream``).

Beside JSON: the SDK sends a batch of predictions as one Arrow record-batch
stream when pyarrow is installed (docs/collector.md, "Arrow batches"). One
column per event field (the JSON names), ``features``, ``segment`` and
``tags`` as struct columns, ``timestamp`` as an Arrow timestamp (or epoch
seconds, or RFC 3339 strings). Validation runs over whole columns (pyarrow
compute and numpy), not event by event; a bad value still rejects only its
event, with the same ``{index, event_id, field, error}`` as JSON, and a column
of the wrong type rejects the request (422) naming the column.

The accepted events are handed on as the same normalised events the JSON path
makes, without their JSON: the batch's payloads are stored as one Arrow segment
(``Batch.segment``, store/segments.py), from which readers get the same payload
text the JSON path stores.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from driftline._utils.arrow_json import not_json
from driftline.server.ingest import (
    MAX_ID,
    MIN_TS,
    Batch,
    BodyError,
    InvalidEventError,
    Limits,
    outlier_object,
    parse_time,
    reject,
    valid_name,
)
from driftline.server.ipc_size import decoded_bytes
from driftline.windows.events import ArrowEvents

ARROW_STREAM = "application/vnd.apache.arrow.stream"
#: Columns an Arrow prediction batch may have (the JSON fields; the service and LLM fields
#: are sent as JSON: the SDK does so for the events that carry them).
COLUMNS = (
    "type",
    "event_id",
    "prediction_id",
    "timestamp",
    "model",
    "version",
    "features",
    "prediction",
    "scores",
    "segment",
    "latency_ms",
    "status",
    "error_type",
    "shadow",
    "tags",
    "outlier",
)
_MAX_SEGMENT = 32
_MAX_TAGS = 64


def decode_arrow(body: bytes, max_decoded: int) -> pa.Table:
    """The table of an Arrow IPC stream; :class:`BodyError` 400 (not one) or 413 (too big)."""
    try:
        if decoded_bytes(body) > max_decoded:  # before decompressing anything
            raise BodyError(413, f"decoded Arrow batch exceeds {max_decoded} bytes")
        # on the calling thread: Arrow's pool would decompress buffers on other threads,
        # costing more CPU in all than a batch saves in time (0.2 of 1 ms a batch)
        options = pa.ipc.IpcReadOptions(use_threads=False)
        reader = pa.ipc.open_stream(pa.py_buffer(body), options=options)
        table = reader.read_all()
        # offsets, lengths and dictionary indices as the body says them: checked before any
        # kernel reads them (a body altered in a few bytes crashed the process otherwise)
        table.validate(full=True)
        _read_names(table.schema)
    except (pa.ArrowException, OSError, UnicodeDecodeError, ValueError) as exc:
        raise BodyError(400, f"body is not a valid Arrow IPC stream: {exc}") from None
    if sum(_plain_nbytes(table.column(i), table.field(i)) for i in range(table.num_columns)) > (
        max_decoded
    ):
        raise BodyError(413, f"decoded Arrow batch exceeds {max_decoded} bytes")
    return table


def _read_names(fields: Any) -> None:
    """Read every field name and time zone (UnicodeDecodeError where one is not UTF-8)."""
    for f in fields:
        _ = f.name
        t = f.type
        if pa.types.is_dictionary(t):
            t = t.value_type
        if pa.types.is_timestamp(t):
            _ = t.tz
        elif pa.types.is_struct(t):
            _read_names(t)
        elif pa.types.is_map(t):
            _read_names([t.key_field, t.item_field])
        elif pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
            _read_names([t.value_field])


def _has_dictionary(t: pa.DataType) -> bool:
    if pa.types.is_dictionary(t):
        return True
    if pa.types.is_struct(t):
        return any(_has_dictionary(f.type) for f in t)
    if pa.types.is_map(t):
        return _has_dictionary(t.key_type) or _has_dictionary(t.item_type)
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return _has_dictionary(t.value_type)
    return False


def _plain_nbytes(col: pa.ChunkedArray, field: pa.Field) -> int:
    """The bytes of ``col`` without dictionary encoding, as validation and the stored
    payloads make it: a dictionary's values count once per row that uses them (a 100 kB
    string in a dictionary of one, used by 10 000 rows, is 1 GB made whole)."""
    if not _has_dictionary(col.type):
        return int(col.nbytes)
    return sum(_array_nbytes(a, field.name) for a in col.chunks)


def _array_nbytes(a: pa.Array, name: str) -> int:
    t = a.type
    if pa.types.is_dictionary(t):
        values = a.dictionary
        vt = values.type
        if _is_text(vt) or pa.types.is_binary(vt) or pa.types.is_large_binary(vt):
            lengths = pc.binary_length(values).cast(pa.int64())
            bound = (pc.max(lengths).as_py() or 0) * len(a)
            if bound > 1 << 20:  # (the SDK's model and version: a few bytes, many rows)
                bound = pc.sum(lengths.take(a.indices)).as_py() or 0
            return int(bound) + 8 * len(a)
        if pa.types.is_primitive(vt):
            return len(a) * max(int(vt.bit_width) // 8, 1)
        raise BodyError(
            422,
            f"Arrow batch column {name!r} is dictionary-encoded with values of type {vt}; "
            "allowed: dictionaries of strings or numbers",
        )
    if pa.types.is_struct(t):
        return sum(_array_nbytes(f, name) for f in a.flatten()) + len(a) // 8
    if pa.types.is_map(t):
        return _array_nbytes(a.keys, name) + _array_nbytes(a.items, name) + 8 * len(a)
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return _array_nbytes(a.flatten(), name) + 8 * len(a)
    return int(a.nbytes)


def _type_depth(t: pa.DataType) -> int:
    if pa.types.is_struct(t):
        return 1 + max((_type_depth(f.type) for f in t), default=0)
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return 1 + _type_depth(t.value_type)
    if pa.types.is_map(t):
        return 1 + _type_depth(t.item_type)
    return 0


def _json_only(errs: _Errors, name: str, t: pa.DataType) -> bool:
    """Reject every row when column (or struct field) ``name`` holds a type JSON has not."""
    bad = not_json(t)
    if bad is None:
        twice = _twice(t)
        if twice is None:
            return True
        errs.all(name, f"{name} has an object with key {twice[:40]!r} twice; allowed: once")
        return False
    errs.all(
        name,
        f"{name} must hold JSON values (strings, numbers, booleans, nulls, lists and structs); "
        f"got Arrow type {bad}",
    )
    return False


def _repeated(names: list[str]) -> str | None:
    seen: set[str] = set()
    for n in names:
        if n in seen:
            return n
        seen.add(n)
    return None


def _twice(t: pa.DataType) -> str | None:
    """A key that a struct within ``t`` (or ``t``) has twice (JSON objects have none)."""
    if pa.types.is_struct(t):
        twice = _repeated([f.name for f in t])
        for f in t:
            twice = twice or _twice(f.type)
        return twice
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return _twice(t.value_type)
    if pa.types.is_map(t):
        return _twice(t.item_type)
    return None


def _is_text(t: pa.DataType) -> bool:
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t))


def _value_type(t: pa.DataType) -> pa.DataType:
    """The type of the values of a column of type ``t`` (a dictionary's: its values')."""
    return t.value_type if pa.types.is_dictionary(t) else t


def _plain(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """``col`` without dictionary encoding (the SDK may send names dictionary-encoded)."""
    if pa.types.is_dictionary(col.type):
        return col.cast(col.type.value_type)
    return col


class _Errors:
    """The first error of each row (the JSON path stops at a row's first bad field too)."""

    def __init__(self, n: int) -> None:
        self.field: list[str | None] = [None] * n
        self.message: list[str] = [""] * n
        self.limit: dict[int, str] = {}
        self.bad = np.zeros(n, dtype=np.bool_)

    def mark(
        self, rows: npt.NDArray[np.bool_], field: str, message: str | Any, limit: str | None = None
    ) -> None:
        """Reject ``rows`` not rejected yet; ``message``: a string, or a function of the row."""
        todo = np.flatnonzero(rows & ~self.bad)
        for i in todo.tolist():
            self.field[i] = field
            self.message[i] = message if isinstance(message, str) else message(i)
            if limit is not None:
                self.limit[i] = limit
        self.bad[todo] = True

    def all(self, field: str, message: str, limit: str | None = None) -> None:
        self.mark(np.ones(self.bad.size, dtype=np.bool_), field, message, limit)


def _mask(arr: pa.ChunkedArray | pa.Array) -> npt.NDArray[np.bool_]:
    """A boolean Arrow array as numpy (null -> False)."""
    return np.asarray(pc.fill_null(arr, False).to_numpy(zero_copy_only=False), dtype=np.bool_)


def _ids(
    errs: _Errors, table: pa.Table, name: str, required: bool
) -> tuple[pa.ChunkedArray | None, npt.NDArray[np.bool_]]:
    """Check a string id column; (the column or None, rows where it is null)."""
    n = table.num_rows
    if name not in table.column_names:
        if required:
            errs.all(name, f"{name} is required: a string of 1 to {MAX_ID} characters")
        return None, np.ones(n, dtype=np.bool_)
    col = _plain(table.column(name))
    if pa.types.is_null(col.type):
        if required:
            errs.all(name, f"{name} is required: a string of 1 to {MAX_ID} characters")
        return None, np.ones(n, dtype=np.bool_)
    if not _is_text(col.type):
        errs.all(
            name, f"{name} must be a string of 1 to {MAX_ID} characters (column of type {col.type})"
        )
        return None, np.ones(n, dtype=np.bool_)
    null = _mask(col.is_null())
    if required:
        errs.mark(null, name, f"{name} is required: a string of 1 to {MAX_ID} characters")
    length = pc.fill_null(pc.utf8_length(col), 1).to_numpy(zero_copy_only=False)
    errs.mark(
        ~null & ((length < 1) | (length > MAX_ID)),
        name,
        f"{name} must be a string of 1 to {MAX_ID} characters",
    )
    errs.mark(
        _mask(pc.match_substring(col, "\x00")),
        name,
        f"{name} contains a NUL character (\\u0000); allowed: any other characters",
    )
    return col, null


def _names(errs: _Errors, table: pa.Table, name: str) -> pa.ChunkedArray | None:
    message = (
        f"{name} must be 1 to 128 characters of letters, digits and _.:@+- "
        "starting with a letter or digit"
    )
    if name not in table.column_names:
        errs.all(name, message)
        return None
    col = _plain(table.column(name))
    if not _is_text(col.type):
        errs.all(name, message)
        return None
    # the distinct values (a batch has one model and version, nearly always), each checked
    # once; a regex kernel compiled its pattern on every call (0.6 ms a batch)
    bad = [v for v in pc.unique(col).to_pylist() if v is None or not valid_name(v)]
    if bad:
        wrong = pc.is_in(col, value_set=pa.array([v for v in bad if v is not None], col.type))
        errs.mark(_mask(wrong) | _mask(col.is_null()), name, message)
    return col


def _timestamps(errs: _Errors, table: pa.Table, lim: Limits) -> npt.NDArray[np.float64]:
    """Epoch seconds of the ``timestamp`` column (NaN where invalid, then rejected)."""
    n = table.num_rows
    name = "timestamp"
    if name not in table.column_names:
        errs.all(name, f"{name} must be an RFC 3339 time string or epoch seconds")
        return np.full(n, np.nan)
    col = table.column(name)
    t = col.type
    if pa.types.is_timestamp(t):
        if t.tz is not None and t.tz.upper() not in ("UTC", "Z", "+00:00", "ETC/UTC"):
            col = col.cast(pa.timestamp(t.unit, "UTC"))  # an offset: the same instants
        scale = {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9}[t.unit]
        raw = pc.cast(col, pa.int64()).to_numpy(zero_copy_only=False)
        ts = np.asarray(raw, dtype=np.float64) / scale
        null = _mask(col.is_null())
    elif pa.types.is_integer(t) or pa.types.is_floating(t):
        ts = np.asarray(
            pc.cast(col, pa.float64(), safe=False).to_numpy(zero_copy_only=False), np.float64
        )
        null = _mask(col.is_null())
    elif _is_text(t):  # RFC 3339 strings: the JSON path's parser, value by value
        ts = np.full(n, np.nan)
        null = np.zeros(n, dtype=np.bool_)
        for i, v in enumerate(col.to_pylist()):
            if v is None:
                null[i] = True
                continue
            try:
                ts[i] = parse_time(v, name, lim.now, lim.max_future)
            except InvalidEventError as exc:
                errs.mark(_one(n, i), name, exc.message)
    else:
        errs.all(
            name,
            f"{name} must be an Arrow timestamp, epoch seconds or RFC 3339 strings "
            f"(column of type {t})",
        )
        return np.full(n, np.nan)
    errs.mark(null, name, f"{name} must be an RFC 3339 time string or epoch seconds")
    with np.errstate(invalid="ignore"):
        out = ~np.isfinite(ts) | (ts < MIN_TS) | (ts > lim.now + lim.max_future)
    errs.mark(
        out & ~null,
        name,
        lambda i: (
            f"{name}={_shown(float(ts[i]))} is out of range; allowed: from 2000-01-01 to "
            f"{int(lim.max_future)} s after the collector's clock"
        ),
    )
    return ts


def _shown(ts: float) -> str:
    if not math.isfinite(ts):
        return repr(ts)
    from datetime import datetime, timezone

    try:
        return repr(datetime.fromtimestamp(ts, tz=timezone.utc).isoformat())
    except (OverflowError, OSError, ValueError):
        return repr(ts)


def _one(n: int, i: int) -> npt.NDArray[np.bool_]:
    m = np.zeros(n, dtype=np.bool_)
    m[i] = True
    return m


def _struct(
    errs: _Errors, table: pa.Table, name: str, limit: int, lim: Limits
) -> pa.ChunkedArray | None:
    """A struct column (``features``, ``segment``, ``tags``): keys, their number and depth."""
    if name not in table.column_names:
        return None
    col = table.column(name)
    t = col.type
    if pa.types.is_null(t):
        return None
    if not pa.types.is_struct(t):
        errs.all(name, f"{name} must be a JSON object (an Arrow struct column; got {t})")
        return None
    names = [f.name for f in t]
    twice = _repeated(names)
    if twice is not None:
        errs.all(name, f"{name} has key {twice[:40]!r} twice; allowed: each key once")
        return None
    # each key's values, the struct's nulls applied (pc.struct_field costs time in the
    # number of keys: called per key, a 3 MB body of 20 000 keys took 100 s of CPU)
    fields = dict(zip(names, col.flatten(), strict=True))
    if t.num_fields > limit:
        # the column holds the keys of all its events: count each event's own (non-null)
        keys = np.zeros(table.num_rows, dtype=np.int64)
        for f in t:
            keys += _mask(fields[f.name].is_valid())
        keys[~_mask(col.is_valid())] = 0
        errs.mark(
            keys > limit,
            name,
            lambda i: f"{name} has {keys[i]} keys; at most {limit} allowed",
            limit="max_features" if name == "features" else None,
        )
    for f in t:
        if not 0 < len(f.name) <= MAX_ID or "\x00" in f.name:
            shown = f.name[:40].replace("\x00", "\\u0000")
            errs.all(
                f"{name}.{shown}",
                f"{name} key {shown!r} must be 1 to {MAX_ID} characters without NUL (\\u0000)",
            )
            return None
        if not _json_only(errs, f"{name}.{f.name}", f.type):
            return None
        if name == "segment":
            vt = _value_type(f.type)
            if _type_depth(vt) or not (
                _is_text(vt)
                or pa.types.is_integer(vt)
                or pa.types.is_floating(vt)
                or pa.types.is_boolean(vt)
                or pa.types.is_null(vt)
            ):
                errs.all(
                    f"segment.{f.name}", f"segment value of {f.name!r} must be a string or number"
                )
                return None
        elif 1 + _type_depth(f.type) > lim.max_depth:
            errs.all(
                f"{name}.{f.name}",
                f"{name}.{f.name} is nested more than {lim.max_depth} "
                f"levels deep; allowed: max_depth={lim.max_depth}",
                limit="max_depth",
            )
            return None
    if name == "segment":  # string values: at most MAX_ID characters, no NUL
        for f in t:
            if pa.types.is_floating(_value_type(f.type)):  # JSON has no NaN or infinity
                v = _plain(fields[f.name])
                errs.mark(
                    _mask(pc.invert(pc.is_finite(v))),
                    f"segment.{f.name}",
                    f"segment value of {f.name!r} must be a string or a finite number",
                )
            if not _is_text(_value_type(f.type)):  # numbers: nothing more to check
                continue
            v = _plain(fields[f.name])
            long = pc.fill_null(pc.greater(pc.utf8_length(v), MAX_ID), False)
            bad = _mask(pc.or_(long, pc.match_substring(v, "\x00")))
            errs.mark(
                bad,
                f"segment.{f.name}",
                f"segment keys and values must be 1 to {MAX_ID} characters without NUL (\\u0000)",
            )
    return col


def _floats(
    errs: _Errors, table: pa.Table, name: str, minimum: float
) -> npt.NDArray[np.float64] | None:
    if name not in table.column_names or pa.types.is_null(table.column(name).type):
        return None
    col = table.column(name)
    if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
        errs.all(name, f"{name} must be a finite number or null (column of type {col.type})")
        return None
    v = np.asarray(
        pc.cast(col, pa.float64(), safe=False).to_numpy(zero_copy_only=False), np.float64
    )
    null = _mask(col.is_null())
    with np.errstate(invalid="ignore"):
        errs.mark(~null & ~np.isfinite(v), name, f"{name} must be a finite number or null")
        errs.mark(~null & (v < minimum), name, lambda i: f"{name}={v[i]} must be >= {minimum}")
    return v


def validate_arrow(table: pa.Table, lim: Limits) -> Batch:
    """Validate a prediction batch column by column; accepted events as the JSON path's."""
    unknown = [c for c in table.column_names if c not in COLUMNS]
    if unknown:
        raise BodyError(
            422,
            f"Arrow batch column {unknown[0]!r} is not supported; allowed: {', '.join(COLUMNS)} "
            "(send events with stages, llm, error, resources, checks or trace ids as JSON)",
        )
    if len(set(table.column_names)) != table.num_columns:
        raise BodyError(422, "Arrow batch has a column twice")
    n = table.num_rows
    errs = _Errors(n)
    if "type" in table.column_names:
        col = _plain(table.column("type"))
        if pa.types.is_null(col.type):  # none sent (JSON's ``"type": null`` is taken too)
            pass
        elif not _is_text(col.type):
            errs.all("type", "type must be 'prediction'")
        else:
            wrong = _mask(pc.and_(col.is_valid(), pc.not_equal(col, "prediction")))
            errs.mark(wrong, "type", "type does not belong here; allowed: 'prediction'")
    ids, _ = _ids(errs, table, "event_id", True)
    pids, pid_null = _ids(errs, table, "prediction_id", False)
    status = None
    if "status" in table.column_names:
        status = _plain(table.column("status"))
        if pa.types.is_null(status.type):  # no value: every event "ok", as a null one
            status = None
        elif not _is_text(status.type):
            errs.all("status", "status must be 'ok' or 'error'")
            status = None
        else:
            wrong = pc.and_(
                status.is_valid(), pc.invert(pc.is_in(status, pa.array(["ok", "error"])))
            )
            errs.mark(
                _mask(wrong), "status", "status is not 'ok' or 'error'; allowed: 'ok', 'error'"
            )
    shadow = None
    if "shadow" in table.column_names:
        shadow = table.column("shadow")
        if not pa.types.is_boolean(shadow.type):  # (a null column: every event false)
            if not pa.types.is_null(shadow.type):
                errs.all("shadow", "shadow must be true or false")
            shadow = None
    error_type = None
    if "error_type" in table.column_names:
        error_type = _plain(table.column("error_type"))
        if not (_is_text(error_type.type) or pa.types.is_null(error_type.type)):
            errs.all("error_type", "error_type must be a string or null")
    _struct(errs, table, "features", lim.max_features, lim)  # read from the table
    for name in ("prediction", "scores"):
        if name in table.column_names and not _json_only(errs, name, table.column(name).type):
            continue
        if name in table.column_names and _type_depth(table.column(name).type) > lim.max_depth:
            errs.all(
                name,
                f"{name} is nested more than {lim.max_depth} levels deep; "
                f"allowed: max_depth={lim.max_depth}",
                limit="max_depth",
            )
    segment = _struct(errs, table, "segment", _MAX_SEGMENT, lim)
    _struct(errs, table, "tags", _MAX_TAGS, lim)
    latency = _floats(errs, table, "latency_ms", 0.0)
    outliers = _outliers(errs, table)
    ts = _timestamps(errs, table, lim)
    models = _names(errs, table, "model")
    versions = _names(errs, table, "version")

    batch = Batch()
    id_list: list[Any] = ids.to_pylist() if ids is not None else [None] * n
    for i in np.flatnonzero(errs.bad).tolist():
        batch.rejected.append(reject(i, id_list[i], errs.field[i] or "", errs.message[i]))
        lim_name = errs.limit.get(i)
        if lim_name is not None:
            batch.limited[lim_name] = batch.limited.get(lim_name, 0) + 1
    idx = np.flatnonzero(~errs.bad)
    if not idx.size:
        return batch
    # accepted rows have a valid (non-null string) id
    eids: list[str] = id_list if idx.size == n else [id_list[i] for i in idx.tolist()]
    seen: set[str] = set(eids)
    taken: list[int] = list(range(len(eids)))
    if len(seen) < len(eids):  # the first event of each id (a repeat in the batch: a duplicate)
        seen.clear()
        taken.clear()
        for k, eid in enumerate(eids):
            if eid in seen:
                batch.repeated += 1
                continue
            seen.add(eid)
            taken.append(k)
    if len(taken) < idx.size:
        idx = idx[taken]
        eids = [eids[k] for k in taken]
    every = idx.size == n
    keep = pa.array(idx)

    k = int(idx.size)

    def taken_col(col: pa.ChunkedArray | None, default: Any = None) -> pa.ChunkedArray | None:
        """``col``'s accepted rows (nulls as ``default``, when one is given)."""
        if col is None:
            return None
        if col.null_count and default is not None:
            col = pc.fill_null(col, default)
        return col if every else col.take(keep)

    def values(col: pa.ChunkedArray | None, default: Any = None) -> list[Any]:
        if col is None:
            return [default] * k
        if not col.null_count and k and pc.count_distinct(col).as_py() == 1:
            return [col[0].as_py()] * k  # one model, version, status: no value per row
        return list(col.to_pylist())

    rows = idx.tolist()
    id_col = taken_col(ids)
    pid_col = id_col
    pid_vals: list[str] = eids
    if pids is not None and not pid_null.all():
        if pid_null.any():  # no prediction_id: the event's id (as the JSON path)
            text = pa.string()
            pids = pc.coalesce(pids.cast(text), ids.cast(text))  # type: ignore[union-attr]
        pid_col = taken_col(pids)
        pid_vals = values(pid_col)
    ts_vals = ts[idx]
    model_col, version_col = taken_col(models), taken_col(versions)
    status_col, shadow_col = taken_col(status, "ok"), taken_col(shadow, False)
    model_vals, version_vals = values(model_col), values(version_col)
    status_vals, shadow_vals = values(status_col, "ok"), values(shadow_col, False)
    seg_col = None
    if segment is not None and segment.type.num_fields:
        seg_col = segment if every else segment.take(keep)
    picked = None if outliers is None else [outliers[i] for i in rows]
    # what the live path reads of each event, as columns (windows/events.py); the rest
    # (features, prediction, scores, tags, the timestamp sent, latency, error type) stays
    # in batch.table and batch.segment
    batch.accepted = ArrowEvents(
        eids, pid_vals, ts_vals, model_vals, version_vals, status_vals, shadow_vals, seg_col,
        picked,
    )  # fmt: skip
    batch.index = rows
    batch.table = table if every else table.take(keep)
    if latency is None:
        lat = pa.nulls(k, pa.float64())
    else:
        lat = pa.array(latency[idx], pa.float64(), mask=np.isnan(latency[idx]))
    text = pa.string()
    stamps = table.column("timestamp")
    segment_cols = {
        "event_id": id_col, "prediction_id": pid_col,
        # the text sent; else none: readers write the time of ``ts`` (store/segments.py)
        "timestamp": taken_col(_plain(stamps)) if _is_text(stamps.type) else pa.nulls(k),
        "ts": pa.array(ts_vals, pa.float64()), "model": model_col, "version": version_col,
        "latency_ms": lat,
        "status": pa.array(status_vals, text) if status_col is None else status_col,
        "shadow": pa.array(shadow_vals, pa.bool_()) if shadow_col is None else shadow_col,
    }  # fmt: skip
    batch.segment = _segment(batch.table, segment_cols, picked)
    return batch


def _segment(part: pa.Table, cols: dict[str, Any], outliers: list[Any] | None) -> pa.Table:
    """The accepted events' payload fields as a segment table (store/segments.py): ``cols``
    (the normalised columns made for the events) and the other columns as sent."""
    n = part.num_rows
    names = part.column_names

    def sent(name: str) -> pa.ChunkedArray | pa.Array:
        if name not in names or pa.types.is_null(part.column(name).type):
            return pa.nulls(n)
        return _plain(part.column(name))

    def text(name: str) -> pa.ChunkedArray | pa.Array:
        col = cols[name]
        return col if pa.types.is_null(col.type) else col.cast(pa.string())

    columns: dict[str, Any] = {
        "event_id": text("event_id"),
        "prediction_id": text("prediction_id"),
        "timestamp": text("timestamp"),
        "ts": cols["ts"],
        "model": text("model"),
        "version": text("version"),
        "features": sent("features"),
        "prediction": sent("prediction"),
        "scores": sent("scores"),
        "segment": sent("segment"),
        "latency_ms": cols["latency_ms"],
        "status": text("status"),
        "error_type": sent("error_type"),
        "shadow": cols["shadow"],
        "tags": sent("tags"),
    }
    if outliers is not None:
        dumped = [None if o is None else orjson.dumps(o).decode() for o in outliers]
        columns["outlier"] = pa.array(dumped, pa.string())
    return pa.table(columns)


def _outliers(errs: _Errors, table: pa.Table) -> list[Any] | None:
    """The SDK's outlier scores (``outlier`` {score, model}), checked as the JSON path does."""
    if "outlier" not in table.column_names or pa.types.is_null(table.column("outlier").type):
        return None
    n = table.num_rows
    values: list[Any] = table.column("outlier").to_pylist()
    for i, v in enumerate(values):
        if v is None:
            continue
        try:
            values[i] = outlier_object(v)
        except InvalidEventError as exc:
            errs.mark(_one(n, i), exc.field, exc.message)
    return values
