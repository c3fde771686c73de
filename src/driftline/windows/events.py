"""An Arrow batch's accepted predictions as columns (server/ingest_arrow.py hands them on).

The live path reads a handful of fields of each prediction (id, prediction id,
timestamp, model, version, status, shadow, segment, the SDK's outlier score).
The JSON path gives them as one dict per event; an Arrow batch keeps them as
columns, which the hot loops (grouping by window, the rows of the ``events``
table, segment splits, counts) read whole. Anything else may still read an event
as a dict (``events[i]``), made when asked: the same light dict as before.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, overload

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

#: What an event read as a dict carries (``outlier`` too, where the SDK sent one).
FIELDS = ("event_id", "prediction_id", "ts", "model", "version", "status", "shadow", "segment")


class ArrowEvents(Sequence[dict[str, Any]]):
    """Accepted predictions of one Arrow batch, field by field (row ``i`` of each).

    ``rows``: each event's row in the batch's validated table and segment (0..n-1 for a
    whole batch; a group's rows after :meth:`take`). ``segment``: the ``segment`` struct
    column of these events (None: none sent). ``outlier``: the SDK's checked outlier
    objects (None where not sent) or None when the batch has no such column.
    """

    __slots__ = (
        "_ts_list", "event_id", "model", "outlier", "prediction_id", "rows", "segment",
        "shadow", "status", "ts", "version",
    )  # fmt: skip

    def __init__(
        self,
        event_id: list[str],
        prediction_id: list[str],
        ts: npt.NDArray[np.float64],
        model: list[str],
        version: list[str],
        status: list[str],
        shadow: list[bool],
        segment: pa.ChunkedArray | pa.Array | None = None,
        outlier: list[Any] | None = None,
        rows: npt.NDArray[np.int64] | None = None,
    ) -> None:
        self.event_id = event_id
        self.prediction_id = prediction_id
        self.ts = ts
        self.model = model
        self.version = version
        self.status = status
        self.shadow = shadow
        self.segment = segment
        self.outlier = outlier
        self.rows = rows if rows is not None else np.arange(len(event_id), dtype=np.int64)
        self._ts_list: list[float] | None = None

    def __len__(self) -> int:
        return len(self.event_id)

    @overload
    def __getitem__(self, i: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, i: slice) -> ArrowEvents: ...

    def __getitem__(self, i: int | slice) -> dict[str, Any] | ArrowEvents:
        if isinstance(i, slice):
            return self.take(np.arange(len(self))[i])
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(i)
        ev: dict[str, Any] = {
            "event_id": self.event_id[i],
            "prediction_id": self.prediction_id[i],
            "ts": float(self.ts[i]),
            "model": self.model[i],
            "version": self.version[i],
            "status": self.status[i],
            "shadow": self.shadow[i],
            "segment": self._segment_of(i),
        }
        if self.outlier is not None and self.outlier[i] is not None:
            ev["outlier"] = self.outlier[i]
        return ev

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for i in range(len(self)):
            yield self[i]

    def _segment_of(self, i: int) -> dict[str, Any]:
        """Row ``i``'s segment without the keys whose value is null (as JSON leaves out)."""
        seg = self.segment
        if seg is None or seg.type.num_fields == 0:
            return {}
        m = seg[i].as_py()
        return {k: v for k, v in m.items() if v is not None} if m else {}

    @property
    def ts_list(self) -> list[float]:
        if self._ts_list is None:
            self._ts_list = self.ts.tolist()
        return self._ts_list

    def take(self, idx: npt.NDArray[np.int64] | Sequence[int]) -> ArrowEvents:
        """The events at positions ``idx`` (ascending), with their batch rows."""
        at = np.asarray(idx, dtype=np.int64)
        pos = at.tolist()
        seg = None if self.segment is None else self.segment.take(pa.array(at))
        return ArrowEvents(
            [self.event_id[i] for i in pos],
            [self.prediction_id[i] for i in pos],
            self.ts[at],
            [self.model[i] for i in pos],
            [self.version[i] for i in pos],
            [self.status[i] for i in pos],
            [self.shadow[i] for i in pos],
            seg,
            None if self.outlier is None else [self.outlier[i] for i in pos],
            self.rows[at],
        )

    def error(self) -> npt.NDArray[np.bool_]:
        out: npt.NDArray[np.bool_] = np.array(self.status, dtype=object) == "error"
        return out

    def segment_keys(self) -> list[str]:
        """The segment keys these events carry, first seen first (event order, then the
        keys' order within an event): what reading the events one by one finds."""
        seg = self.segment
        if seg is None:
            return []
        found: list[tuple[int, int, str]] = []
        # flattened once: pc.struct_field per key costs time in the number of keys
        for pos, (f, values) in enumerate(zip(seg.type, seg.flatten(), strict=True)):
            valid = _valid(values)
            if valid.any():
                found.append((int(np.argmax(valid)), pos, f.name))
        return [name for _, _, name in sorted(found)]

    def segment_groups(self, key: str) -> dict[Any, npt.NDArray[np.int64]]:
        """Rows (positions here) of each non-null value of segment key ``key``, in the order
        of their first row."""
        seg = self.segment
        if seg is None or seg.type.get_field_index(key) < 0:
            return {}
        col = pc.struct_field(seg, key)
        if isinstance(col, pa.ChunkedArray):
            col = col.combine_chunks()
        if pa.types.is_dictionary(col.type):
            col = col.cast(col.type.value_type)
        if col.null_count == len(col):
            return {}
        enc = pc.dictionary_encode(col)
        codes = enc.indices.to_numpy(zero_copy_only=False)
        codes = np.where(_valid(col), codes, -1).astype(np.int64)
        values = enc.dictionary.to_pylist()
        order = np.argsort(codes, kind="stable")
        sorted_codes = codes[order]
        bounds = np.flatnonzero(np.diff(sorted_codes)) + 1
        out: list[tuple[int, Any, npt.NDArray[np.int64]]] = []
        for part in np.split(order, bounds):
            code = int(codes[part[0]])
            if code >= 0:
                out.append((int(part[0]), values[code], part))
        out.sort(key=lambda t: t[0])
        return {v: rows for _, v, rows in out}


def _valid(col: pa.ChunkedArray | pa.Array) -> npt.NDArray[np.bool_]:
    return np.asarray(col.is_valid().to_numpy(zero_copy_only=False), dtype=np.bool_)
