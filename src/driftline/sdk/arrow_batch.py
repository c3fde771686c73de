"""Prediction batches as Arrow IPC streams, when pyarrow is installed (docs/collector.md).

The collector decodes and validates an Arrow batch column by column, several
times cheaper than JSON. pyarrow is imported on the first batch, not with
``driftline.sdk`` (an instrumented service that never ships predictions over
HTTP never loads it). Events that do not fit the columns (service or LLM
fields, a feature whose values mix types, ...) are sent as JSON: this returns
None for such a batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

CONTENT_TYPE = "application/vnd.apache.arrow.stream"
#: Buffer compression of the Arrow IPC stream (the collector reads it; no gzip on top).
COMPRESSION = "lz4"
#: The fields an Arrow batch carries (the server's ``ingest_arrow.COLUMNS``).
KEYS = frozenset(
    ("type", "event_id", "prediction_id", "timestamp", "model", "version", "features",
     "prediction", "scores", "segment", "latency_ms", "status", "error_type", "shadow", "tags",
     "outlier")
)  # fmt: skip

#: Columns whose values are stored as sent (JSON values only: _utils/arrow_json.py).
_PAYLOAD = ("features", "prediction", "scores", "segment", "tags")

_MAPPINGS = ("features", "segment", "tags")
#: The collector's bound on a key's length (server.ingest.MAX_ID).
_MAX_KEY = 128

_pa: Any = None
_unavailable = False


def _pyarrow() -> Any:
    global _pa, _unavailable
    if _pa is None and not _unavailable:
        try:
            import pyarrow
            import pyarrow.compute
            import pyarrow.ipc
        except ImportError:
            _unavailable = True
        else:
            _pa = pyarrow
    return _pa


def available() -> bool:
    """True when pyarrow can be imported (imports it)."""
    return _pyarrow() is not None


def encode_arrow(records: Sequence[dict[str, Any]]) -> bytes | None:
    """The Arrow IPC stream of ``records`` (predictions), or None: send them as JSON."""
    pa = _pyarrow()
    if pa is None or not records:
        return None
    from driftline._utils.arrow_json import not_json

    first = records[0].keys()
    extra: set[str] = set()
    for r in records:
        keys = r.keys()
        if not keys <= KEYS:
            return None
        if keys != first:
            extra |= keys - first
    try:
        # Table.from_pylist takes the columns of the first record only: a key the first record
        # lacks would be lost, so the first record names them all (structs are inferred over
        # every record)
        rows = list(records)
        if extra:
            rows[0] = {**rows[0], **dict.fromkeys(sorted(extra))}
        table = pa.Table.from_pylist(rows)
        names = table.column_names
        if any(not_json(table.schema.field(k).type) is not None for k in _PAYLOAD if k in names):
            return None  # bytes, dates, decimals, ...: the collector takes them as JSON only
        for k in _MAPPINGS:
            t = table.schema.field(k).type if k in names else None
            if t is not None and pa.types.is_struct(t) and any(_bad_key(f.name) for f in t):
                return None  # as a column, it would reject every event (JSON: the ones with it)
        i = table.schema.get_field_index("timestamp")
        if i >= 0 and pa.types.is_string(table.schema.field(i).type):
            stamps = pa.compute.cast(table.column(i), pa.timestamp("us", "UTC"))
            table = table.set_column(i, pa.field("timestamp", stamps.type), stamps)
        for name in ("model", "version"):  # one value per batch, nearly always
            j = table.schema.get_field_index(name)
            if j >= 0 and pa.types.is_string(table.schema.field(j).type):
                col = table.column(j).dictionary_encode()
                table = table.set_column(j, pa.field(name, col.type), col)
        sink = pa.BufferOutputStream()
        # LZ4 buffers (Arrow's own IPC compression, read by any pyarrow): about half the
        # bytes, and a fifth of gzip's CPU for the collector to read (docs/collector.md)
        options = pa.ipc.IpcWriteOptions(compression=COMPRESSION, use_threads=False)
        with pa.ipc.new_stream(sink, table.schema, options=options) as writer:
            writer.write_table(table)
        return bytes(sink.getvalue().to_pybytes())
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        return None


def decode_records(body: bytes) -> list[dict[str, Any]]:
    """The records of an Arrow batch this module made, as JSON-ready dicts (timestamps as
    RFC 3339 strings): for a collector that answers that it does not take Arrow."""
    pa = _pyarrow()
    table = pa.ipc.open_stream(pa.py_buffer(body)).read_all()
    i = table.schema.get_field_index("timestamp")
    if i >= 0 and pa.types.is_timestamp(table.schema.field(i).type):
        micros = pa.compute.cast(table.column(i), pa.int64()).to_numpy(zero_copy_only=False)
        import numpy as np

        text = np.datetime_as_string(micros.astype("datetime64[us]"), unit="us").tolist()
        nulls = table.column(i).is_null().to_pylist()
        stamps = [None if null else t + "Z" for t, null in zip(text, nulls, strict=True)]
        table = table.set_column(i, "timestamp", pa.array(stamps, pa.string()))
    rows: list[dict[str, Any]] = table.to_pylist()
    return rows


def _bad_key(name: str) -> bool:
    return not 0 < len(name) <= _MAX_KEY or "\x00" in name
