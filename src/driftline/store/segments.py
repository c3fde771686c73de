"""Raw-event segments: a batch's prediction events as one Arrow IPC stream.

An Arrow prediction batch (server/ingest_arrow.py) is stored as one row of
``event_segments`` instead of one JSON payload per event: each new event's
``events`` row keeps its ids, window and status, with ``payload`` empty and
``(segment_id, segment_row)`` naming its row of the segment. Readers get the
same payload text either way (:func:`payloads_of`): the JSON of the normalised
event, key for key what the JSON path stores (docs/collector.md, "Raw events").

The segment's columns are the payload's fields: ``event_id``, ``prediction_id``,
``timestamp`` (the text sent, or RFC 3339), ``ts``, ``model``, ``version``,
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

    part = table.take(pa.array(rows, pa.int64()))
    has_outlier = "outlier" in part.column_names
    dumps = orjson.dumps
    out = []
    for r in part.to_pylist():
        ev: dict[str, Any] = {"type": "prediction"}
        for name in COLUMNS:
            v = r[name]
            if name in _MAPPINGS:  # as JSON leaves them: no null values, {} for none
                v = {a: b for a, b in v.items() if b is not None} if v else {}
            ev[name] = v
        if has_outlier and r["outlier"] is not None:
            ev["outlier"] = orjson.loads(r["outlier"])
        out.append(dumps(ev).decode())
    return out
