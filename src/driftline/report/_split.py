"""Split a data source into chunks (calendar periods or runs of rows) and profile each in one pass.

Used by :mod:`driftline.report.chunks`; see there for what is compared.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from driftline.errors import ConfigError, InputError, SchemaError
from driftline.io import DEFAULT_BATCH_ROWS, Source, open_source
from driftline.schema import Kind, Role, Schema, timestamp_name, type_family
from driftline.stats.profile import (
    DEFAULT_SEED,
    DatasetProfile,
    absent_targets,
    resolve_schema,
    with_task,
)
from driftline.timestamps import numbers_as_seconds, parse_iso

PERIODS = ("day", "week", "month")
MAX_CHUNKS = 500
MIN_REFERENCE_CHUNKS = 3
Progress = Callable[..., None]  # (rows or chunks done, total or None)


@dataclass(frozen=True)
class ChunkBy:
    """How to split: a calendar ``period`` of the timestamp column, or ``count`` equal chunks."""

    period: str | None = None
    count: int | None = None

    @classmethod
    def parse(cls, value: str | int | ChunkBy, option: str = "chunk_by") -> ChunkBy:
        if isinstance(value, ChunkBy):
            return value
        text = str(value).strip().lower()
        if text in PERIODS:
            return cls(period=text)
        if text.isdigit() and 2 <= int(text) <= MAX_CHUNKS:
            return cls(count=int(text))
        raise ConfigError(
            f"{option}: {value!r} is not allowed; use day, week, month or a whole number "
            f"of chunks from 2 to {MAX_CHUNKS}"
        )

    def __str__(self) -> str:
        return self.period or str(self.count)


@dataclass
class Chunk:
    """One chunk: its key (period start or chunk index), bounds, rows and profile."""

    key: int
    start: str | int
    end: str | int
    profile: DatasetProfile

    @property
    def n(self) -> int:
        return self.profile.n_rows


@dataclass
class ChunkedProfile:
    whole: DatasetProfile
    chunks: list[Chunk]
    chunk_by: ChunkBy | None
    timestamp: str | None
    unassigned: int = 0  # rows without a timestamp (in ``whole``, in no chunk)


@dataclass
class _Splitter:
    """Assigns every row of a batch to a chunk key."""

    chunk_by: ChunkBy | None
    timestamp: str | None
    n_rows: int | None = None
    rows_per_chunk: int | None = None
    offset: int = 0
    bounds: dict[int, tuple[str | int, str | int]] = field(default_factory=dict)
    unit: str | None = None  # of a numeric timestamp column

    def keys(self, table: pa.Table) -> np.ndarray:
        n = table.num_rows
        if self.rows_per_chunk is not None:
            keys = (self.offset + np.arange(n)) // self.rows_per_chunk
            if self.chunk_by is not None and self.chunk_by.count is not None:
                keys = np.minimum(keys, self.chunk_by.count - 1)
            self.offset += n
            return keys
        assert self.chunk_by is not None and self.chunk_by.period and self.timestamp
        return _period_keys(
            table.column(self.timestamp), self.chunk_by.period, self.timestamp, self.unit
        )

    def bound(self, key: int, n: int) -> tuple[str | int, str | int]:
        if self.rows_per_chunk is not None:
            return key * self.rows_per_chunk, key * self.rows_per_chunk + n
        assert self.chunk_by is not None and self.chunk_by.period
        start = datetime.fromtimestamp(key, tz=timezone.utc)
        return _iso(start), _iso(_next_period(start, self.chunk_by.period))


def _iso(d: datetime) -> str:
    return d.strftime("%Y-%m-%dT%H:%M:%SZ") if d.hour or d.minute else d.strftime("%Y-%m-%d")


def _next_period(start: datetime, period: str) -> datetime:
    if period == "day":
        return start + timedelta(days=1)
    if period == "week":
        return start + timedelta(days=7)
    return start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)


_NO_KEY = np.iinfo(np.int64).min


def _period_keys(
    column: pa.ChunkedArray, period: str, name: str, unit: str | None = None
) -> np.ndarray:
    """Period start (epoch seconds, UTC) of every row; ``_NO_KEY`` where the timestamp is null."""
    t = column.type
    if pa.types.is_dictionary(t):
        column, t = column.cast(t.value_type), t.value_type
    if pa.types.is_timestamp(t):
        ts = column.cast(pa.timestamp("us", tz=t.tz))  # keys below are in microseconds
    elif pa.types.is_date(t):
        ts = column.cast(pa.timestamp("us"))
    elif pa.types.is_integer(t) or pa.types.is_floating(t):
        if unit is None:
            raise InputError(
                f"timestamp column {name!r} holds numbers ({t}), and numbers do not say their "
                "unit: give it (--timestamp-unit s, ms, us or ns; unit: in the schema)"
            )
        ts = _seconds_to_us(numbers_as_seconds(column.cast(pa.float64()).to_numpy(), unit))
    elif pa.types.is_string(t) or pa.types.is_large_string(t):
        secs, bad = parse_iso(column)
        if bad.any():
            example = column.combine_chunks().filter(pa.array(bad))[0].as_py()
            raise InputError(
                f"timestamp column {name!r}: {int(bad.sum())} values are not ISO 8601 times, "
                f"e.g. {example!r} (expected e.g. 2025-03-01, 2025-03-01T14:30:00Z or "
                "2025-03-01 14:30:00+02:00)"
            )
        ts = _seconds_to_us(secs)
    else:
        raise InputError(
            f"timestamp column {name!r} has type {t}; chunking by {period} needs a timestamp, "
            "a date, ISO 8601 strings or numbers with their unit (--timestamp-unit)"
        )
    floored = pc.floor_temporal(ts, unit=period, week_starts_monday=True)
    ints = pc.cast(floored, pa.int64()).fill_null(_NO_KEY).to_numpy()
    out = np.where(ints == _NO_KEY, _NO_KEY, ints // 1_000_000)
    return np.asarray(out, dtype=np.int64)


def _seconds_to_us(secs: np.ndarray) -> pa.Array:
    ok = np.isfinite(secs)
    us = np.where(ok, np.round(secs * 1e6), 0).astype(np.int64)
    return pa.array(us, type=pa.timestamp("us"), mask=~ok)


def _groups(keys: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    """(key, row indices) for each distinct key of a batch, in key order."""
    if keys.size and keys[0] == keys[-1] and (keys == keys[0]).all():
        yield int(keys[0]), np.arange(keys.size)
        return
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    cuts = np.flatnonzero(np.diff(sorted_keys)) + 1
    for part in np.split(order, cuts):
        yield int(keys[part[0]]), part


def profile_chunks(
    data: Any,
    chunk_by: str | int | ChunkBy | None = None,
    schema: Schema | dict[str, Any] | str | Path | None = None,
    *,
    timestamp: str | None = None,
    rows_per_chunk: int | None = None,
    reservoir_size: int = 10_000,
    seed: int | None = None,
    batch_rows: int | None = None,
    progress: Progress | None = None,
    column_sources: Mapping[str, str] | None = None,
    task: str | None = None,
    like: Schema | None = None,
    performance: Any = "auto",
) -> ChunkedProfile:
    """Profile ``data`` in one pass, one profile per chunk; ``whole`` is their merge.

    ``chunk_by`` is ``"day"``, ``"week"``, ``"month"`` (periods of the
    ``timestamp`` column, by default the schema's one timestamp-role column),
    an integer N (N equal chunks of rows) or None (no chunks).
    ``rows_per_chunk`` instead cuts runs of that many rows (used to split a
    reference like the current side). ``progress`` is called with the number
    of rows of each batch read (and first with 0 and the row count, if known).
    ``column_sources`` names where each column name came from (an option, a
    file) for the error when a column is not in the data. ``task``, ``like``
    (the reference's schema, for the current side) and ``performance`` (a
    callable on the resolved schema, or a spec): as for
    :func:`driftline.stats.profile.build_profile`.
    """
    spec = None if chunk_by is None else ChunkBy.parse(chunk_by)
    source = open_source(data, batch_rows or DEFAULT_BATCH_ROWS)
    optional = absent_targets(like, _overrides(schema), source.schema.names) if like else set()
    _check_columns(source, schema, column_sources or {}, optional)
    if progress is not None:
        progress(0, source.n_rows)
    resolved = _resolve(schema, source, column_sources, task, like)
    ts_col = None
    if spec is not None and spec.period is not None:
        ts_col = find_timestamp(resolved, timestamp, source.name, spec, _first_rows(source))
    unit = resolved[ts_col].unit if ts_col is not None and ts_col in resolved else None
    splitter = _Splitter(spec, ts_col, rows_per_chunk=rows_per_chunk, unit=unit)
    if spec is not None and spec.count is not None:
        splitter.n_rows = _count_rows(source)
        if splitter.n_rows < spec.count:
            raise InputError(
                f"cannot split {source.name} into {spec.count} chunks: it has only "
                f"{splitter.n_rows} rows"
            )
        splitter.rows_per_chunk = splitter.n_rows // spec.count
    rng = np.random.default_rng(DEFAULT_SEED if seed is None else seed)
    performance = with_task(performance, task)
    perf = performance(resolved) if callable(performance) else performance

    def new_profile() -> DatasetProfile:
        return DatasetProfile(resolved, reservoir_size, perf)

    whole = new_profile()
    whole.mixed_type_columns = set(source.mixed_columns)
    if spec is None and rows_per_chunk is None:
        for table in source.batches():
            whole.update(table.select(resolved.names), rng)
            if progress is not None:
                progress(table.num_rows)
        return ChunkedProfile(whole, [], None, None)
    profiles: dict[int, DatasetProfile] = {}
    for table in source.batches():
        sub = table.select(resolved.names)
        keys = splitter.keys(table)
        new = set(np.unique(keys).tolist()) - set(profiles) - {_NO_KEY}
        if len(profiles) - (_NO_KEY in profiles) + len(new) > MAX_CHUNKS:
            raise InputError(
                f"chunking {source.name} by {spec} gives more than {MAX_CHUNKS} chunks; "
                "pick a longer period or a number of chunks"
            )
        for key, rows in _groups(keys):
            if key not in profiles:
                profiles[key] = new_profile()
            part = sub if rows.size == sub.num_rows else sub.take(pa.array(rows))
            profiles[key].update(part, rng)
        if progress is not None:
            progress(table.num_rows)
    unassigned = profiles.pop(_NO_KEY, None)
    chunks = [
        Chunk(k, *splitter.bound(k, profiles[k].n_rows), profiles[k])
        for k in sorted(profiles)
        if rows_per_chunk is None or profiles[k].n_rows * 2 >= rows_per_chunk
    ]
    for p in [*profiles.values(), *([unassigned] if unassigned else [])]:
        whole.merge(p)
    whole.mixed_type_columns = set(source.mixed_columns)
    return ChunkedProfile(
        whole, chunks, spec, ts_col, unassigned.n_rows if unassigned is not None else 0
    )


def _resolve(
    schema: Any,
    source: Source,
    column_sources: Mapping[str, str] | None,
    task: str | None = None,
    like: Schema | None = None,
) -> Schema:
    """resolve_schema, with a bad column's error naming the option that named it."""
    try:
        return resolve_schema(schema, source.schema, source, task, like)
    except SchemaError as exc:
        named = [src for col, src in (column_sources or {}).items() if repr(col) in str(exc)]
        if named:
            raise SchemaError(f"{named[0]}: {exc}") from exc
        raise


def reference_roles(
    reference: Any,
    schema: Any,
    task: str | None,
    batch_rows: int | None = None,
    column_sources: Mapping[str, str] | None = None,
) -> tuple[Schema, Any]:
    """The reference's schema and what its performance spec is (a profile, or a spec).

    For raw data only the first batch is read: the schema is inferred from it.
    """
    from driftline.stats.performance.spec import PerformanceSpec

    if isinstance(reference, DatasetProfile):
        return reference.schema, reference
    source = open_source(reference, batch_rows or DEFAULT_BATCH_ROWS)
    _check_columns(source, schema, column_sources or {}, set())
    resolved = _resolve(schema, source, column_sources, task)
    return resolved, PerformanceSpec.infer(resolved, task=task, strict=False)


def _overrides(schema: Any) -> Any:
    return schema.get("columns", schema) if isinstance(schema, Mapping) else {}


def _check_columns(
    source: Source, schema: Any, sources: Mapping[str, str], optional: set[str]
) -> None:
    names = set(source.schema.names)
    wanted = list(sources)
    if isinstance(schema, Mapping):
        wanted += [c for c in schema.get("columns", schema) if c not in sources]
    for col in wanted:
        if col not in names and col not in optional:
            listed = ", ".join(source.schema.names[:30])
            more = " ..." if len(names) > 30 else ""
            raise SchemaError(
                f"{sources.get(col, 'schema')}: column {col!r} is not in {source.name} "
                f"(columns: {listed}{more})"
            )


def _count_rows(source: Source) -> int:
    if source.n_rows is not None:
        return source.n_rows
    return sum(t.num_rows for t in source.batches())


def _first_rows(source: Source) -> pa.Table | None:
    table = next(iter(source.batches()), None)
    return None if table is None else table.slice(0, 1000)


def find_timestamp(
    schema: Schema,
    timestamp: str | None,
    where: str,
    spec: ChunkBy,
    sample: pa.Table | None = None,
) -> str:
    """The column to chunk by: ``timestamp`` if given, else the schema's one timestamp column.

    Failing that, the one text column named like a time (``ts``, ``event_time``,
    ``created_at``) whose first rows (``sample``) are all ISO 8601 times; it
    keeps its kind in the profiles (give ``timestamp`` to make it the timestamp).
    """
    if timestamp is not None:
        if timestamp not in schema:
            raise ConfigError(
                f"timestamp: column {timestamp!r} is not in {where} "
                f"(columns: {', '.join(schema.names[:30])})"
            )
        return timestamp
    found = schema.with_role(Role.TIMESTAMP) or [c.name for c in schema if c.kind is Kind.DATETIME]
    if not found and sample is not None:
        from driftline.timestamps import looks_like_times

        found = [
            c.name
            for c in schema
            if timestamp_name(c.name)
            and type_family(sample.schema.field(c.name).type) == "string"
            and looks_like_times(sample.column(c.name))
        ]
    if len(found) == 1:
        return found[0]
    listed = ", ".join(found) if found else "none"
    hint = ""
    if not found and sample is not None:
        from driftline.timestamps import looks_like_times

        texts = [
            c.name
            for c in schema
            if type_family(sample.schema.field(c.name).type) == "string"
            and looks_like_times(sample.column(c.name))
        ]
        if texts:
            hint = f"; text columns holding times: {', '.join(texts[:10])}"
    raise ConfigError(
        f"chunk_by {spec} needs a timestamp column: name it with --timestamp "
        f"(timestamp= in Python) (timestamp columns found in {where}: {listed}{hint})"
    )
