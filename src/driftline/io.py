"""Read any supported input as a stream of Arrow tables.

Inputs: pandas and polars DataFrames, pyarrow Tables/RecordBatches, dicts of
numpy arrays or lists, and paths to Parquet, CSV or JSON-lines files. Files are
read in batches, so a file larger than memory is profiled in bounded memory.

Text files are read as UTF-8 unless :func:`text_encoding` says otherwise (the
command line's ``--encoding``); a byte sequence that is not valid in the
encoding is an :class:`InputError` naming the file, the line and the bytes.
"""

from __future__ import annotations

import codecs
import io
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
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
_ENCODING: ContextVar[str] = ContextVar("driftline_text_encoding", default="utf-8")


def check_encoding(name: str) -> str:
    """The codec's canonical name; InputError naming ``name`` when Python has no such codec."""
    try:
        return codecs.lookup(name).name
    except LookupError:
        raise InputError(
            f"unknown text encoding {name!r}; use a Python codec name such as utf-8, "
            "latin-1, cp1252 or utf-16"
        ) from None


@contextmanager
def text_encoding(name: str) -> Iterator[str]:
    """Read CSV and JSON-lines files in encoding ``name`` inside the block (default UTF-8)."""
    token = _ENCODING.set(check_encoding(name))
    try:
        yield _ENCODING.get()
    finally:
        _ENCODING.reset(token)


def _is_utf8(name: str) -> bool:
    return codecs.lookup(name).name == "utf-8"


def encoding_error(path: Path, encoding: str, data: bytes | None = None) -> InputError:
    """An error naming the first line of ``path`` (or of ``data``, its bytes) that does not
    decode in ``encoding``, the offending bytes and how to read the file instead."""
    decoder = codecs.getincrementaldecoder(encoding)()
    line, where, bad = 1, "", b""
    chunks = [data] if data is not None else _chunks(path)
    for chunk in chunks:
        try:
            decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            head = chunk[: exc.start]
            line += head.count(b"\n")
            start = head.rfind(b"\n") + 1
            where = chunk[start : exc.start][-30:].decode(encoding, "replace")
            bad = chunk[exc.start : exc.end]
            break
        line += chunk.count(b"\n")
    else:
        return InputError(f"cannot read {path}: it is not valid {encoding}")
    hint = (
        "; if the file is in another encoding, say which with --encoding "
        "(e.g. --encoding latin-1 or cp1252)"
        if _is_utf8(encoding)
        else "; check the --encoding"
    )
    shown = " ".join(f"0x{b:02x}" for b in bad)
    return InputError(
        f"cannot read {path}: line {line} is not valid {encoding} (byte {shown} after "
        f"{where!r}){hint}"
    )


def _chunks(path: Path, size: int = 1 << 20) -> Iterator[bytes]:
    """The file's bytes in pieces that end on a line break (so a line is never split)."""
    with path.open("rb") as fh:
        rest = b""
        while block := fh.read(size):
            block = rest + block
            cut = block.rfind(b"\n") + 1
            if cut == 0:
                rest = block
                continue
            rest = block[cut:]
            yield block[:cut]
        if rest:
            yield rest


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
    if type(data).__name__ == "SQLQuery" and type(data).__module__.endswith(".sql"):
        return _open_sql(data)
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


def _open_sql(query: Any) -> Source:
    """A :class:`driftline.integrations.sql.SQLQuery`: the first batch is read now (it fixes
    the schema); reading the batches again runs the query again."""
    schema, first = query.arrow_schema()
    pending = [first]

    def batches() -> Iterator[pa.Table]:
        it: Iterator[pa.Table] = pending.pop() if pending else query.batches()
        return it

    return Source(query.name, schema, batches)


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
    try:
        arr = np.asarray(values) if not isinstance(values, pa.Array | pa.ChunkedArray) else values
    except ValueError:  # ragged lists (vectors of several lengths): Arrow lists below
        arr = None
    if isinstance(arr, np.ndarray) and arr.ndim in (3, 4) and arr.dtype != object:  # images
        return pa.FixedShapeTensorArray.from_numpy_ndarray(np.ascontiguousarray(arr)), False
    if isinstance(arr, np.ndarray) and arr.ndim == 2:  # vectors: float32 stays float32
        flat = arr.reshape(-1)
        if flat.dtype not in (np.float32, np.float64):
            flat = flat.astype(np.float64)
        return pa.FixedSizeListArray.from_arrays(pa.array(flat), arr.shape[1]), False
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

    schema = pf.schema_arrow
    keep = data_columns(schema)
    if keep is not None:
        schema = pa.schema([schema.field(n) for n in keep], metadata=schema.metadata)

    def batches() -> Iterator[pa.RecordBatch]:
        yield from pf.iter_batches(batch_size=batch_rows, columns=keep)

    return Source(str(path), schema, batches, pf.metadata.num_rows)


_PANDAS_INDEX = re.compile(r"__index_level_\d+__")


def data_columns(schema: pa.Schema) -> list[str] | None:
    """The columns of a Parquet file's ``schema`` that are data, or None when all are.

    An unnamed pandas index that DataFrame.to_parquet wrote (``__index_level_0__``, e.g.
    after filtering rows) is row labels, not data: pandas reads it back as the index,
    and compared as a feature it "drifts" and fails range checks. A named index stays.
    """
    index = [
        c
        for c in (schema.pandas_metadata or {}).get("index_columns", [])
        if isinstance(c, str) and _PANDAS_INDEX.fullmatch(c)
    ]
    return [n for n in schema.names if n not in index] if index else None


_CSV_COLUMN = re.compile(r"In CSV column #(\d+)")


#: Separators a CSV written elsewhere often has (a spreadsheet in a locale whose decimal
#: mark is a comma writes ';'), and what to call them in an error.
_OTHER_SEPARATORS = {";": "semicolons", "\t": "tabs", "|": "vertical bars", ",": "commas"}


def _refuse_other_separator(path: Path, header: str, delimiter: str) -> None:
    """A file read as one column whose header holds another separator is not one column:
    read on, every row would be one text value and the comparison would say nothing true
    (a profile of "1 column", a reference's columns all "missing")."""
    for sep, name in _OTHER_SEPARATORS.items():
        if sep != delimiter and sep in header:
            shown = header if len(header) <= 60 else header[:57] + "..."
            if sep in ("\t", ","):
                how = f"name it .{'tsv' if sep == chr(9) else 'csv'}"
            else:
                decimal = ", decimal=','" if sep == ";" else ""
                how = (
                    f"write it with commas, e.g. pandas.read_csv(path, sep={sep!r}{decimal})"
                    ".to_csv(new_path, index=False)"
                )
            read_as = "commas (a .csv file)" if delimiter == "," else "tabs (a .tsv file)"
            raise InputError(
                f"cannot read {path} as CSV: its header is one column, {shown!r}, holding "
                f"{name}: the file looks separated by {name}, and is read as separated by "
                f"{read_as}; {how}"
            )


def _open_csv(path: Path, batch_rows: int) -> Source:
    import pyarrow.csv as pcsv

    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    parse = pcsv.ParseOptions(delimiter=delimiter)
    as_string: dict[str, pa.DataType] = {}
    block = 1 << 24
    encoding = _ENCODING.get()

    def reader() -> Any:
        conv = pcsv.ConvertOptions(column_types=as_string, strings_can_be_null=True)
        return pcsv.open_csv(
            path,
            read_options=pcsv.ReadOptions(block_size=block, encoding=encoding),
            parse_options=parse,
            convert_options=conv,
        )

    def bad_text(exc: Exception) -> bool:
        return "UTF8" in str(exc) or "decode" in str(exc).lower()

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
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            if isinstance(exc, UnicodeDecodeError) or bad_text(exc):
                raise encoding_error(path, encoding) from exc
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
    if any(pa.types.is_binary(f.type) for f in schema):
        # Arrow reads a column that is not valid UTF-8 as bytes, not text
        raise encoding_error(path, encoding)
    if len(schema) == 1:
        _refuse_other_separator(path, schema.names[0], delimiter)

    def batches() -> Iterator[pa.RecordBatch]:
        pending: list[pa.RecordBatch] = []
        rows = 0
        try:
            for b in reader():
                pending.append(b)
                rows += b.num_rows
                if rows >= batch_rows:
                    yield from pa.Table.from_batches(pending).combine_chunks().to_batches()
                    pending, rows = [], 0
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            if isinstance(exc, UnicodeDecodeError) or bad_text(exc):
                raise encoding_error(path, encoding) from exc
            raise InputError(f"cannot read {path} as CSV: {exc}") from exc
        if pending:
            yield from pa.Table.from_batches(pending).combine_chunks().to_batches()

    return Source(str(path), schema, batches, None, tuple(as_string))


def _open_jsonl(path: Path, batch_rows: int) -> Source:
    import pyarrow.json as pjson

    encoding = _ENCODING.get()
    utf8 = _is_utf8(encoding)

    def read_chunk(lines: list[bytes], first_line: int) -> pa.Table:
        data = b"".join(lines)
        try:  # Arrow would turn bytes that are not UTF-8 into U+FFFD without a word
            text = data.decode(encoding)
        except UnicodeDecodeError:
            exc = encoding_error(path, encoding, data)
            raise InputError(
                re.sub(r"line (\d+)", lambda m: f"line {int(m.group(1)) + first_line - 1}",
                       str(exc), count=1)
            ) from None  # fmt: skip
        if not utf8:
            data = text.encode("utf-8")
        try:
            return pjson.read_json(io.BytesIO(data))
        except pa.ArrowInvalid as exc:
            raise InputError(f"cannot read {path} as JSON lines: {exc}") from exc

    def chunks() -> Iterator[pa.Table]:
        schema: pa.Schema | None = None
        with path.open("rb") as fh:
            lines: list[bytes] = []  # blank lines kept (Arrow skips them): line numbers hold
            first, records = 1, 0  # the file line of the chunk's first line
            for n, line in enumerate(fh, start=1):
                lines.append(line if line.endswith(b"\n") else line + b"\n")
                records += bool(line.strip())
                if records >= min(batch_rows, 200_000):
                    t = read_chunk(lines, first)
                    schema = schema or t.schema
                    yield _conform(t, schema, path)
                    lines, first, records = [], n + 1, 0
            if records:
                t = read_chunk(lines, first)
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
