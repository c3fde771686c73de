"""Read any supported input as a stream of Arrow tables.

Inputs: pandas and polars DataFrames, pyarrow Tables/RecordBatches, dicts of
numpy arrays or lists, and paths to Parquet, CSV or JSON-lines files. Files are
read in batches, so a file larger than memory is profiled in bounded memory.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from driftline.errors import InputError

DEFAULT_BATCH_ROWS = 1_000_000
_PARQUET = {".parquet", ".pq", ".parq"}
_CSV = {".csv", ".tsv", ".txt"}
_JSONL = {".jsonl", ".ndjson", ".json"}


@dataclass
class Source:
    """A readable input: its Arrow schema, a display name and a batch iterator."""

    name: str
    schema: pa.Schema
    _batches: Any
    n_rows: int | None = None
    mixed_columns: tuple[str, ...] = ()

    def batches(self) -> Iterator[pa.Table]:
        for b in self._batches():
            yield b if isinstance(b, pa.Table) else pa.Table.from_batches([b])


def is_path(data: object) -> bool:
    return isinstance(data, str | Path)


def open_source(data: Any, batch_rows: int = DEFAULT_BATCH_ROWS) -> Source:
    """Wrap ``data`` as a :class:`Source`; raise InputError naming what is unsupported."""
    if is_path(data):
        return _open_path(Path(data), batch_rows)
    if isinstance(data, pa.RecordBatch):
        data = pa.Table.from_batches([data])
    if isinstance(data, pa.Table):
        return _table_source("arrow table", data, batch_rows=batch_rows)
    mod = type(data).__module__.split(".")[0]
    if mod == "pandas":
        return _from_pandas(data, batch_rows)
    if mod == "polars":
        if type(data).__name__ == "LazyFrame":
            data = data.collect()
        return _table_source("polars frame", data.to_arrow(), batch_rows=batch_rows)
    if isinstance(data, Mapping):
        return _from_mapping(data, batch_rows)
    raise InputError(
        f"cannot read data of type {type(data).__name__}; pass a pandas or polars DataFrame, "
        "a pyarrow Table, a dict of arrays, or a path to a .parquet, .csv or .jsonl file"
    )


def _table_source(
    name: str,
    table: pa.Table,
    mixed: tuple[str, ...] = (),
    batch_rows: int = DEFAULT_BATCH_ROWS,
) -> Source:
    """An in-memory table read in zero-copy slices of ``batch_rows`` rows (so the
    temporaries of a profile stay the size of a batch, not of the table)."""
    step = max(int(batch_rows), 1)

    def batches() -> Iterator[pa.Table]:
        if table.num_rows <= step:
            yield table
            return
        for start in range(0, table.num_rows, step):
            yield table.slice(start, step)

    return Source(name, table.schema, batches, table.num_rows, mixed)


def _column_to_arrow(name: str, values: Any) -> tuple[pa.Array | pa.ChunkedArray, bool]:
    """Arrow array for one column; mixed-type object columns become strings (flagged)."""
    arr = np.asarray(values) if not isinstance(values, pa.Array | pa.ChunkedArray) else values
    if isinstance(arr, np.ndarray) and arr.ndim == 2:
        flat = pa.array(arr.reshape(-1).astype(np.float64))
        return pa.FixedSizeListArray.from_arrays(flat, arr.shape[1]), False
    try:
        return pa.array(values, from_pandas=True), False
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
        pass
    objs = np.asarray(values, dtype=object)
    out = [None if _is_missing(v) else str(v) for v in objs.tolist()]
    return pa.array(out, type=pa.string()), True


def _is_missing(v: object) -> bool:
    return v is None or (isinstance(v, float) and v != v)


def _from_pandas(df: Any, batch_rows: int = DEFAULT_BATCH_ROWS) -> Source:
    names = [str(c) for c in df.columns]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise InputError(f"duplicate column name(s) in DataFrame: {', '.join(dup)}")
    try:
        table = pa.Table.from_pandas(df, preserve_index=False)
        table = table.rename_columns(names)
        return _table_source("pandas frame", table, batch_rows=batch_rows)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
        pass
    arrays, mixed = [], []
    for name, col in zip(names, df.columns, strict=True):
        arr, was_mixed = _column_to_arrow(name, df[col])
        arrays.append(arr)
        if was_mixed:
            mixed.append(name)
    table = pa.table(arrays, names=names)
    return _table_source("pandas frame", table, tuple(mixed), batch_rows)


def _from_mapping(data: Mapping[str, Any], batch_rows: int = DEFAULT_BATCH_ROWS) -> Source:
    arrays, names, mixed = [], [], []
    lengths: dict[str, int] = {}
    for key, values in data.items():
        name = str(key)
        arr, was_mixed = _column_to_arrow(name, values)
        arrays.append(arr)
        names.append(name)
        lengths[name] = len(arr)
        if was_mixed:
            mixed.append(name)
    if len(set(lengths.values())) > 1:
        desc = ", ".join(f"{k}={v}" for k, v in lengths.items())
        raise InputError(f"columns of a dict input must have one length; got {desc}")
    table = pa.table(arrays, names=names)
    return _table_source("dict of arrays", table, tuple(mixed), batch_rows)


def _open_path(path: Path, batch_rows: int) -> Source:
    if not path.exists():
        raise InputError(f"cannot read {path}: no such file")
    if path.is_dir():
        raise InputError(f"cannot read {path}: it is a directory, expected a file")
    suffixes = [s.lower() for s in path.suffixes]
    suffix = (
        suffixes[-2]
        if suffixes and suffixes[-1] == ".gz" and len(suffixes) > 1
        else (suffixes[-1] if suffixes else "")
    )
    if suffix in _PARQUET:
        return _open_parquet(path, batch_rows)
    if suffix in _CSV:
        return _open_csv(path, batch_rows)
    if suffix in _JSONL:
        return _open_jsonl(path, batch_rows)
    raise InputError(
        f"cannot read {path}: unknown file type {suffix or '(none)'}; "
        "expected .parquet, .csv or .jsonl"
    )


def _open_parquet(path: Path, batch_rows: int) -> Source:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise InputError(f"cannot read {path} as Parquet: {exc}") from exc

    def batches() -> Iterator[pa.RecordBatch]:
        yield from pf.iter_batches(batch_size=batch_rows)

    return Source(str(path), pf.schema_arrow, batches, pf.metadata.num_rows)


_CSV_COLUMN = re.compile(r"In CSV column #(\d+)")


def _open_csv(path: Path, batch_rows: int) -> Source:
    import pyarrow.csv as pcsv

    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    parse = pcsv.ParseOptions(delimiter=delimiter)
    as_string: dict[str, pa.DataType] = {}
    block = 1 << 24

    def reader() -> Any:
        conv = pcsv.ConvertOptions(column_types=as_string, strings_can_be_null=True)
        return pcsv.open_csv(
            path,
            read_options=pcsv.ReadOptions(block_size=block),
            parse_options=parse,
            convert_options=conv,
        )

    # A streaming CSV reader fixes column types from the first block; a later
    # value of another type fails the read. Those columns are read as strings
    # (the profile then counts values that do not parse as type errors).
    for _ in range(64):
        try:
            first = reader()
            schema = first.schema
            for _b in first:
                pass
            break
        except pa.ArrowInvalid as exc:
            m = _CSV_COLUMN.search(str(exc))
            if not m:
                raise InputError(f"cannot read {path} as CSV: {exc}") from exc
            col = first.schema.names[int(m.group(1))] if "first" in locals() else None
            if col is None or col in as_string:
                raise InputError(f"cannot read {path} as CSV: {exc}") from exc
            as_string[col] = pa.string()
        except OSError as exc:
            raise InputError(f"cannot read {path} as CSV: {exc}") from exc
    else:
        raise InputError(f"cannot read {path} as CSV: too many columns with mixed types")

    def batches() -> Iterator[pa.RecordBatch]:
        pending: list[pa.RecordBatch] = []
        rows = 0
        for b in reader():
            pending.append(b)
            rows += b.num_rows
            if rows >= batch_rows:
                yield from pa.Table.from_batches(pending).combine_chunks().to_batches()
                pending, rows = [], 0
        if pending:
            yield from pa.Table.from_batches(pending).combine_chunks().to_batches()

    return Source(str(path), schema, batches, None, tuple(as_string))


def _open_jsonl(path: Path, batch_rows: int) -> Source:
    import pyarrow.json as pjson

    def read_chunk(lines: list[bytes]) -> pa.Table:
        try:
            return pjson.read_json(io.BytesIO(b"".join(lines)))
        except pa.ArrowInvalid as exc:
            raise InputError(f"cannot read {path} as JSON lines: {exc}") from exc

    def chunks() -> Iterator[pa.Table]:
        schema: pa.Schema | None = None
        with path.open("rb") as fh:
            lines: list[bytes] = []
            for line in fh:
                if line.strip():
                    lines.append(line if line.endswith(b"\n") else line + b"\n")
                if len(lines) >= min(batch_rows, 200_000):
                    t = read_chunk(lines)
                    schema = schema or t.schema
                    yield _conform(t, schema, path)
                    lines = []
            if lines:
                t = read_chunk(lines)
                yield _conform(t, schema or t.schema, path)

    try:
        first = next(chunks())
    except StopIteration:
        raise InputError(f"cannot read {path}: the file has no JSON records") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from exc
    return Source(str(path), first.schema, chunks)


def _conform(t: pa.Table, schema: pa.Schema, path: Path) -> pa.Table:
    """Cast a later JSON chunk to the first chunk's schema (missing columns become null)."""
    if t.schema.equals(schema):
        return t
    cols = []
    for f in schema:
        if f.name in t.column_names:
            col = t.column(f.name)
            try:
                cols.append(col.cast(f.type))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                cols.append(
                    col.cast(pa.string()).cast(f.type, safe=False)
                    if pa.types.is_string(f.type)
                    else pa.nulls(len(t), f.type)
                )
        else:
            cols.append(pa.nulls(len(t), f.type))
    return pa.table(cols, schema=schema)
