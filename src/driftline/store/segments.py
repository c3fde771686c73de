"""Raw-event segments: a batch's prediction events as one Arrow IPC stream.

An Arrow prediction batch (server/ingest_arrow.py) is stored as one row of
``event_segments`` instead of one JSON payload per event: each new event's
``events`` row keeps its ids, window and status, with ``payload`` empty and
``(segment_id, segment_row)`` naming its row of the segment. Readers get the
same payload text either way (:func:`payloads_of`): the JSON of the normalised
event, key for key what the JSON path stores (docs/collector.md, "Raw events").

The segment's columns are the payload's fields: ``event_id``, ``prediction_id``,
``timestamp`` (the text sent; null when sent as an Arrow timestamp or epoch seconds:
readers write :func:`rfc3339` of ``ts``, as it was stored before), ``ts``, ``model``, ``version``,
``features``, ``prediction``, ``scores``, ``segment``, ``latency_ms``,
``status``, ``error_type``, ``shadow``, ``tags`` as validated, and ``outlier``
(its JSON, when the batch had one). Streams are LZ4-compressed
(:data:`COMPRESSION`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pyarrow as pa

#: Columns of a segment, in the order of the payload's keys (after ``type``).
COLUMNS = (
    "event_id",
    "prediction_id",
    "timestamp",
    "ts",
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
)
#: IPC buffer compression (a batch of 500 events, 20 features: see benchmarks/RESULTS.md).
COMPRESSION = "lz4"
_MAPPINGS = ("features", "segment", "tags")
_PAYLOAD = ("features", "prediction", "scores", "tags")


def encode(table: pa.Table) -> bytes:
    """The IPC stream of a segment table (:data:`COLUMNS`, and ``outlier`` when present).

    On the calling thread: Arrow's thread pool would compress the columns in parallel,
    costing more CPU in all (and other requests' time) than it saves this one.
    """
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    options = pa.ipc.IpcWriteOptions(compression=COMPRESSION, use_threads=False)
    with pa.ipc.new_stream(sink, table.schema, options=options) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def decode(data: bytes) -> pa.Table:
    import pyarrow as pa

    options = pa.ipc.IpcReadOptions(use_threads=False)
    return pa.ipc.open_stream(pa.py_buffer(data), options=options).read_all()


def payloads_of(table: pa.Table, rows: Sequence[int]) -> list[str]:
    """The stored payload (JSON text) of each of ``rows`` of a segment table."""
    import pyarrow as pa

    dumps = orjson.dumps
    return [dumps(e).decode() for e in events_of(table.take(pa.array(rows, pa.int64())))]


def rfc3339(ts: npt.NDArray[np.float64]) -> list[str]:
    """Epoch seconds as RFC 3339 UTC text to the microsecond (``...T12:00:00.250000Z``):
    the ``timestamp`` stored for an Arrow event whose timestamp was not sent as text."""
    import numpy as np

    micros = np.round(ts * 1e6).astype("datetime64[us]")
    return [s + "Z" for s in np.datetime_as_string(micros, unit="us").tolist()]


def events_of(table: pa.Table) -> list[dict[str, Any]]:
    """The normalised events of a segment table, row for row (the JSON path's, key for key)."""
    import pyarrow as pa

    cols = table.to_pydict()  # column by column: cheaper than a dict per row from Arrow
    if pa.types.is_null(table.column("timestamp").type):  # not sent as text: from ``ts``
        cols["timestamp"] = rfc3339(table.column("ts").to_numpy())
    for name in _MAPPINGS:
        cols[name] = _mappings(table.column(name), cols[name])
    for name in _PAYLOAD:
        if _nested_struct(table.column(name).type, top=name in _MAPPINGS):
            cols[name] = [_without_nulls(v) for v in cols[name]]
    keys = ("type", *COLUMNS)
    outlier = cols.get("outlier")
    out = []
    for k, vals in enumerate(zip(*(cols[c] for c in COLUMNS), strict=True)):
        ev = dict(zip(keys, ("prediction", *vals), strict=True))
        if outlier is not None and outlier[k] is not None:
            ev["outlier"] = orjson.loads(outlier[k])
        out.append(ev)
    return out


def _mappings(column: pa.ChunkedArray, values: list[Any]) -> list[Any]:
    """A struct column's values as JSON leaves them: no null values, ``{}`` for none."""
    import pyarrow as pa

    t = column.type
    if not pa.types.is_struct(t):  # all null
        return [{}] * len(values)
    whole = column.combine_chunks()
    if not column.null_count and not any(whole.field(i).null_count for i in range(t.num_fields)):
        return values
    return [{a: b for a, b in v.items() if b is not None} if v else {} for v in values]


def _nested_struct(t: pa.DataType, top: bool) -> bool:
    """True when values of type ``t`` hold objects (structs) besides ``t`` itself (``top``)."""
    import pyarrow as pa

    if pa.types.is_struct(t):
        return not top or any(_nested_struct(f.type, False) for f in t)
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return _nested_struct(t.value_type, False)
    return False


def _without_nulls(v: Any) -> Any:
    """``v`` with no null-valued key in any of its objects: a struct column's null is a key
    the event did not send (the SDK's columns are the union of its events' keys), as at
    the top level of features, segment and tags (:func:`_mappings`)."""
    if isinstance(v, dict):
        return {k: _without_nulls(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [_without_nulls(x) for x in v]
    return v
