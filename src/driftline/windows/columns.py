"""Events as columns: the live-window schema and the Arrow table of a batch of events.

A batch of validated events becomes one :class:`EventBlock`: an Arrow table
with the schema's columns, built column by column (one list comprehension and
one Arrow conversion per column, not one Python object per value), plus the
operational columns (latency, error and shadow flags) as numpy arrays. Window
statistics fold blocks, never single events.

Where the columns come from: a feature column from ``features[name]``; a
column with the prediction role from the features, else the event's
``prediction``; a score column from the features, else the event's
``scores``: a mapping by column name or by class (``p_cat`` -> ``cat``), a
list by position (one score column and two probabilities: the second, i.e.
the positive class), or a number for the only score column.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from driftline.errors import InputError
from driftline.schema import ColumnSpec, Kind, Role, Schema, infer_kind
from driftline.windows.abuse import fingerprints
from driftline.windows.events import ArrowEvents
from driftline.windows.service import ServiceBlock

_ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError)


# -- schemas -----------------------------------------------------------------------------


def schema_to_json(schema: Schema) -> str:
    return orjson.dumps(schema.to_dict()).decode()


def schema_from_json(text: str) -> Schema:
    data = orjson.loads(text)
    return Schema.from_specs(
        ColumnSpec(name, Kind(spec["kind"]), Role(spec["role"]), spec.get("unit"))
        for name, spec in data.items()
    )


def infer_schema(events: Sequence[Mapping[str, Any]], max_columns: int | None = None) -> Schema:
    """Columns and kinds from the features of the first events of a version.

    At most ``max_columns`` names, the first seen (see :func:`feature_names`).
    """
    names = dict.fromkeys(feature_names(events)[:max_columns])
    cols = {n: [(e.get("features") or {}).get(n) for e in events] for n in names}
    specs = []
    for name, values in cols.items():
        present = [v for v in values if v is not None]
        if present and all(isinstance(v, bool) for v in present):
            kind = Kind.BOOLEAN
        elif present and all(isinstance(v, int | float) for v in present):
            kind = Kind.NUMERIC
        elif present and all(isinstance(v, list) for v in present):
            kind = Kind.EMBEDDING
        elif present and all(isinstance(v, str) for v in present):
            kind = infer_kind(pa.string(), pa.array(present, type=pa.string()))  # free text?
        else:
            kind = Kind.CATEGORICAL
        specs.append(ColumnSpec(name, kind, Role.FEATURE))
    return Schema.from_specs(specs)


def feature_names(events: Sequence[Mapping[str, Any]]) -> list[str]:
    """The distinct feature names of ``events``, in order of first appearance."""
    names: dict[str, None] = {}
    for e in events:
        for k in e.get("features") or {}:
            names.setdefault(str(k), None)
    return list(names)


# -- one column ----------------------------------------------------------------------------


def _arrow_type(spec: ColumnSpec) -> pa.DataType:
    kind = spec.kind
    if kind is Kind.NUMERIC:
        return pa.float64()
    if kind is Kind.EMBEDDING:
        return pa.list_(pa.float64())
    if kind is Kind.BOOLEAN:
        return pa.bool_()
    if kind is Kind.DATETIME:
        return pa.timestamp("us")
    return pa.string()


def column(spec: ColumnSpec, values: Sequence[Any]) -> pa.Array:
    """One column of ``values`` as the kind of ``spec`` wants; odd values never raise."""
    kind = spec.kind
    if kind is Kind.NUMERIC or kind is Kind.CATEGORICAL or kind is Kind.TEXT:
        try:
            return pa.array(values, type=_arrow_type(spec))
        except _ARROW_ERRORS:
            pass
    if kind is Kind.NUMERIC:
        # strings are parsed by the profile, which counts what does not parse as type errors
        return pa.array([None if v is None else _text(v) for v in values], type=pa.string())
    if kind is Kind.EMBEDDING:
        vecs = [
            v if isinstance(v, list) and all(type(x) in (int, float) for x in v) else None
            for v in values
        ]
        return pa.array(vecs, type=pa.list_(pa.float64()))
    if kind is Kind.BOOLEAN:
        return pa.array([v if isinstance(v, bool) else None for v in values], type=pa.bool_())
    if kind is Kind.DATETIME:
        return pa.array([_as_datetime(v) for v in values], type=pa.timestamp("us"))
    return pa.array(
        [None if v is None else (v if type(v) is str else _text(v)) for v in values],
        type=pa.string(),
    )


def _text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return v if isinstance(v, str) else orjson.dumps(v).decode()


def _as_datetime(v: Any) -> datetime | None:
    try:
        if isinstance(v, int | float) and not isinstance(v, bool):
            return datetime.fromtimestamp(float(v), tz=timezone.utc).replace(tzinfo=None)
        if isinstance(v, str):
            return datetime.fromisoformat(v.replace("Z", "+00:00")).replace(tzinfo=None)
    except (ValueError, OverflowError, OSError):
        return None
    return None


# -- scores --------------------------------------------------------------------------------


def _score_keys(names: list[str]) -> list[tuple[str, Any]]:
    """(column name, class key) of each score column, for scores sent as a mapping."""
    if len(names) < 2:
        return [(n, n) for n in names]
    from driftline.stats.performance.spec import classes_from_names

    try:
        classes = classes_from_names(names)
    except InputError:
        return [(n, n) for n in names]
    return [(n, str(c)) for n, c in zip(names, classes, strict=True)]


def _score(scores: Any, i: int, name: str, key: str, n: int) -> Any:
    if type(scores) is dict:
        v = scores.get(name)
        return scores.get(key) if v is None else v
    if type(scores) is list:
        if len(scores) == n:
            return scores[i]
        return scores[-1] if n == 1 and len(scores) == 2 else None
    if n == 1 and type(scores) in (float, int):
        return scores
    return None


# -- a batch ---------------------------------------------------------------------------------


def _seconds(ms: Any) -> float:
    ok = isinstance(ms, int | float) and not isinstance(ms, bool)
    return float(ms) / 1000.0 if ok else math.nan


def events_table(schema: Schema, events: Sequence[Mapping[str, Any]]) -> pa.Table:
    """The Arrow table of ``events`` with the columns of ``schema`` (missing -> null)."""
    feats = [e.get("features") or {} for e in events]
    plain = [s.name for s in schema if s.role not in (Role.PREDICTION, Role.SCORE)]
    values = _feature_columns(plain, feats)
    score_names = schema.with_role(Role.SCORE)
    score_keys = dict(_score_keys(score_names))
    arrays = []
    for spec in schema:
        name = spec.name
        col: Sequence[Any]
        if spec.role is Role.PREDICTION:
            col = [f.get(name, e.get("prediction")) for f, e in zip(feats, events, strict=True)]
        elif spec.role is Role.SCORE:
            i, key, n = score_names.index(name), score_keys[name], len(score_names)
            col = [
                f[name] if name in f else _score(e.get("scores"), i, name, key, n)
                for f, e in zip(feats, events, strict=True)
            ]
        else:
            col = values[name]
        arrays.append(column(spec, col))
    return pa.Table.from_arrays(arrays, names=schema.names) if arrays else _empty(len(events))


def _feature_columns(names: list[str], feats: list[dict[str, Any]]) -> dict[str, Sequence[Any]]:
    """``{name: values}``: one C-level lookup per event when every event has every name."""
    if len(names) >= 2 and feats:
        getter = operator.itemgetter(*names)
        try:
            rows = list(map(getter, feats))
        except KeyError:
            pass  # some event lacks a feature: look each value up with a default
        else:
            return dict(zip(names, zip(*rows, strict=True), strict=True))
    return {n: [f.get(n) for f in feats] for n in names}


def _arrow_column(spec: ColumnSpec, values: pa.ChunkedArray) -> pa.ChunkedArray | pa.Array:
    """A column sent as Arrow, as :func:`column` would make it of the same values."""
    t = values.type
    kind = spec.kind
    if kind is Kind.NUMERIC and (pa.types.is_floating(t) or pa.types.is_integer(t)):
        try:
            return values.cast(pa.float64())
        except _ARROW_ERRORS:
            pass
    elif ((kind is Kind.CATEGORICAL or kind is Kind.TEXT) and pa.types.is_string(t)) or (
        kind is Kind.BOOLEAN and pa.types.is_boolean(t)
    ):
        return values
    elif pa.types.is_null(t):
        return pa.nulls(len(values), _arrow_type(spec))
    return column(spec, values.to_pylist())


def _scores_of(schema: Schema, name: str, table: pa.Table) -> list[Any]:
    """One score column's values from an Arrow batch's ``scores`` (as events_table reads them
    for events without a feature of that name)."""
    names = schema.with_role(Role.SCORE)
    key = dict(_score_keys(names))[name]
    i, n = names.index(name), len(names)
    return [_score(sc, i, name, key, n) for sc in _values(table, "scores")]


def _values(table: pa.Table, name: str) -> list[Any]:
    """A column's values (None where the batch has no such column)."""
    if name not in table.column_names:
        return [None] * table.num_rows
    out: list[Any] = table.column(name).to_pylist()
    return out


def _valid(col: pa.ChunkedArray | pa.Array) -> npt.NDArray[np.bool_]:
    return np.asarray(col.is_valid().to_numpy(zero_copy_only=False), dtype=np.bool_)


def _mappings(col: pa.ChunkedArray | pa.Array) -> list[dict[str, Any]]:
    """Struct values as the events have them: without null values, {} for a null row."""
    return [{a: b for a, b in m.items() if b is not None} if m else {} for m in col.to_pylist()]


def _arrow_clients(table: pa.Table) -> dict[int, tuple[str, str]] | None:
    """:func:`fingerprints` of the rows of an Arrow batch that name a client (``tags.client``),
    reading their tags and features only."""
    tags = table.column("tags") if "tags" in table.column_names else None
    if tags is None or not pa.types.is_struct(tags.type) or tags.type.get_field_index("client") < 0:
        return None
    rows = np.flatnonzero(_valid(pc.struct_field(tags, "client")))
    if not rows.size:
        return None
    part = table.take(pa.array(rows))
    feats = part.column("features") if "features" in part.column_names else None
    if feats is None or not pa.types.is_struct(feats.type):
        features: list[dict[str, Any]] = [{}] * rows.size
    else:
        features = _mappings(feats)
    events = [
        {"tags": t, "features": f}
        for t, f in zip(_mappings(part.column("tags")), features, strict=True)
    ]
    got = fingerprints(events)
    return None if got is None else {int(rows[j]): v for j, v in got.items()}


def _empty(n: int) -> pa.Table:
    return pa.table({"__row": pa.nulls(n)}).drop_columns(["__row"])


Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]


@dataclass
class EventBlock:
    """A batch of events as columns: the schema's table plus operational arrays.

    ``latency`` is in seconds (NaN where none was sent); ``unknown`` maps a row
    to the feature names it sent that the schema lacks (only rows with some).
    """

    table: pa.Table
    latency: Floats
    error: Bools
    shadow: Bools
    unknown: dict[int, list[str]] = field(default_factory=dict)
    #: per row, whether the version's outlier model flags it (None: not scored)
    outliers: npt.NDArray[np.bool_] | None = None
    #: per row, whether the event records an LLM request (an ``llm`` object; docs/llm.md)
    llm: Bools | None = None
    #: row -> (client, fingerprint) of events with ``tags.client`` (windows/abuse.py)
    clients: dict[int, tuple[str, str]] | None = None
    #: stages, errors, resources, checks (windows/service.py); None when no event has any
    service: ServiceBlock | None = None
    #: the block's most anomalous flagged events, [(score, event_id)] (windows/review.py);
    #: all traffic only (a segment's block from :meth:`take` has none)
    review: list[tuple[float, str]] | None = None

    @property
    def n_rows(self) -> int:
        return int(self.latency.size)

    @classmethod
    def of(cls, schema: Schema, events: Sequence[Mapping[str, Any]]) -> EventBlock:
        cols = schema.columns
        unknown: dict[int, list[str]] = {}
        for i, e in enumerate(events):
            f = e.get("features")
            if f and not f.keys() <= cols.keys():
                unknown[i] = [k for k in f if k not in cols]
        lat = [e.get("latency_ms") for e in events]
        try:
            latency = np.array(lat, dtype=np.float64) / 1000.0
        except (TypeError, ValueError):
            latency = np.array([_seconds(v) for v in lat], dtype=np.float64)
        llm = np.fromiter(("llm" in e for e in events), dtype=np.bool_, count=len(events))
        return cls(
            events_table(schema, events),
            latency,
            np.array([e.get("status") == "error" for e in events], dtype=np.bool_),
            np.array([bool(e.get("shadow")) for e in events], dtype=np.bool_),
            unknown,
            llm=llm if llm.any() else None,
            clients=fingerprints(events),
            service=ServiceBlock.of(events),
        )

    @classmethod
    def of_arrow(
        cls, schema: Schema, table: pa.Table, events: Sequence[Mapping[str, Any]]
    ) -> EventBlock:
        """The block of ``events`` from their validated Arrow batch (server/ingest_arrow.py),
        column by column: what :meth:`of` makes of the same events, without reading them one
        by one. A feature whose Arrow type is not the schema's kind goes through :func:`column`
        (the JSON path's conversion), so both paths give equal tables."""
        n = len(events)
        names = table.column_names
        feats = table.column("features") if "features" in names else None
        if feats is not None and not pa.types.is_struct(feats.type):
            feats = None  # all null
        # each feature's values (flattened once: pc.struct_field per key costs time in the
        # number of keys, quadratic over a batch of many)
        given = {} if feats is None else dict(zip(feats.type.names, feats.flatten(), strict=True))
        sent = set(given)
        cols = schema.columns
        unknown: dict[int, list[str]] = {}
        if feats is not None:  # the row's features that are not columns, in the row's order
            for f in feats.type:
                if f.name not in cols:
                    for i in np.flatnonzero(_valid(given[f.name])).tolist():
                        unknown.setdefault(i, []).append(f.name)
        predictions: list[Any] | None = None
        arrays = []
        for spec in schema:
            name = spec.name
            if spec.role is Role.PREDICTION and name not in sent and "prediction" in names:
                # the events' predictions, column to column (_arrow_column falls back to
                # column() for types it does not take as they are)
                arrays.append(_arrow_column(spec, table.column("prediction")))
            elif spec.role is Role.PREDICTION:  # the feature, else the event's prediction
                if predictions is None:
                    predictions = _values(table, "prediction")
                col = predictions
                if name in sent:
                    own = given[name].to_pylist()
                    col = [p if f is None else f for f, p in zip(own, col, strict=True)]
                arrays.append(column(spec, col))
            elif feats is not None and name in sent:
                arrays.append(_arrow_column(spec, given[name]))
            elif spec.role is Role.SCORE:
                arrays.append(column(spec, _scores_of(schema, name, table)))
            else:
                arrays.append(pa.nulls(n, _arrow_type(spec)))
        t = pa.Table.from_arrays(arrays, names=schema.names) if arrays else _empty(n)
        if "latency_ms" in names and not pa.types.is_null(table.column("latency_ms").type):
            lat = table.column("latency_ms").cast(pa.float64(), safe=False)
            lat = lat.to_numpy(zero_copy_only=False)
            latency = np.asarray(lat, dtype=np.float64) / 1000.0
        else:
            latency = np.full(n, np.nan)
        if isinstance(events, ArrowEvents):
            status = events.error()
            shadow = np.array(events.shadow, dtype=np.bool_)
        else:
            status = np.array([e["status"] == "error" for e in events], dtype=np.bool_)
            shadow = np.array([e["shadow"] for e in events], dtype=np.bool_)
        return cls(t, latency, status, shadow, unknown, clients=_arrow_clients(table))

    def take(self, rows: Sequence[int]) -> EventBlock:
        """The block of ``rows`` (ascending row numbers)."""
        idx = np.asarray(rows, dtype=np.int64)
        if idx.size == self.n_rows and np.array_equal(idx, np.arange(idx.size)):
            # every row (a segment all the batch's events are in): the same columns, shared
            # (a block is never changed in place), without the review candidates as below
            return replace(self, review=None)
        unknown = {}
        if self.unknown:
            unknown = {j: self.unknown[int(i)] for j, i in enumerate(idx) if int(i) in self.unknown}
        return EventBlock(
            self.table.take(pa.array(idx)),
            self.latency[idx],
            self.error[idx],
            self.shadow[idx],
            unknown,
            None if self.outliers is None else self.outliers[idx],
            None if self.llm is None else self.llm[idx],
            _take_clients(self.clients, idx),
            None if self.service is None else self.service.take(idx.tolist()),
        )


def _take_clients(
    clients: dict[int, tuple[str, str]] | None, idx: npt.NDArray[np.int64]
) -> dict[int, tuple[str, str]] | None:
    if not clients:
        return None
    out = {j: clients[int(i)] for j, i in enumerate(idx) if int(i) in clients}
    return out or None
