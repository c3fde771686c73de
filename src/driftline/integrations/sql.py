"""Read a SQL query or table from any SQLAlchemy URL as a stream of Arrow batches.

    SQLQuery(url, "select ...")  ->  driftline.profile(SQLQuery(...))

The rows are fetched through a server-side cursor (SQLAlchemy's
``stream_results``; on PostgreSQL a named cursor), ``batch_rows`` at a time,
and each batch becomes an Arrow table: the table is never loaded in memory.
The first batch fixes each column's Arrow type (later batches are cast to it, and
a value that does not fit stops the read with an error naming the column); a
column that is NULL in every row of the first batch is inferred as numeric, and
later values that are not numbers count as its type errors (cast it in the query).
A query that fails half way (a division by zero on row 3,000,001, a dropped
connection) is an :class:`InputError` that says after how many rows it failed;
nothing partial is returned as a result.

``postgresql://`` URLs use the psycopg 3 driver. Needs ``pip install
'driftline[sql]'`` (SQLAlchemy) and the database's driver (``driftline[postgres]``).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from driftline._utils.sql_url import is_sql_url
from driftline.errors import InputError, MissingDependencyError, missing_extra_message

#: Rows fetched per round trip and profiled per update.
DEFAULT_SQL_BATCH_ROWS = 100_000
_TABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$")

__all__ = ["DEFAULT_SQL_BATCH_ROWS", "SQLQuery", "is_sql_url", "redact"]


def redact(url: str) -> str:
    """``url`` with its password replaced by ``***`` (for messages and reports)."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


def engine_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` use psycopg 3, as the store does."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


@dataclass(frozen=True)
class SQLQuery:
    """A query (or a table name) on the database at ``url``, read in batches of ``batch_rows``."""

    url: str
    query: str
    batch_rows: int = DEFAULT_SQL_BATCH_ROWS

    @property
    def name(self) -> str:
        return f"{redact(self.url)} ({self.sql[:80]})"

    @property
    def sql(self) -> str:
        q = self.query.strip().rstrip(";")
        return f"SELECT * FROM {q}" if _TABLE.fullmatch(q) else q

    def batches(self) -> Iterator[pa.Table]:
        """The rows as Arrow tables of at most ``batch_rows`` rows (server-side cursor)."""
        try:
            import sqlalchemy as sa
        except ImportError:
            raise MissingDependencyError(missing_extra_message("sqlalchemy", "sql")) from None
        where = redact(self.url)
        try:
            engine = sa.create_engine(engine_url(self.url))
        except (ImportError, sa.exc.ArgumentError, sa.exc.NoSuchModuleError) as exc:
            raise InputError(f"cannot use database URL {where}: {exc}") from None
        rows_read = 0
        schema: pa.Schema | None = None
        try:
            with engine.connect() as conn:
                try:
                    result = conn.execution_options(
                        stream_results=True, yield_per=self.batch_rows
                    ).execute(sa.text(self.sql))
                except sa.exc.DBAPIError as exc:
                    raise InputError(_failed(where, self.sql, 0, exc)) from None
                try:
                    names = [str(k) for k in result.keys()]  # noqa: SIM118 (a Result, not a dict)
                    _check_names(names, self.sql)
                    parts = result.partitions(self.batch_rows)
                    while True:
                        try:
                            rows = next(parts, None)
                        except sa.exc.DBAPIError as exc:
                            raise InputError(_failed(where, self.sql, rows_read, exc)) from None
                        if rows is None:
                            break
                        table, schema = _to_arrow(names, rows, schema, rows_read)
                        rows_read += table.num_rows
                        yield table
                finally:  # also when the reader stops early: the server-side cursor is closed
                    # (a failed transaction cannot close it: the connection is closed below)
                    with contextlib.suppress(sa.exc.DBAPIError):
                        result.close()
        except sa.exc.OperationalError as exc:  # cannot connect (or lost the connection)
            raise InputError(_failed(where, self.sql, rows_read, exc)) from None
        finally:
            engine.dispose()

    def arrow_schema(self) -> tuple[pa.Schema, Iterator[pa.Table]]:
        """The first batch's schema and an iterator over every batch (the first included)."""
        it = self.batches()
        first = next(it, None)
        if first is None:
            names = self.column_names()
            schema = pa.schema([pa.field(n, pa.null()) for n in names])
            return schema, iter(())

        def chain() -> Iterator[pa.Table]:
            yield first
            yield from it

        return first.schema, chain()

    def column_names(self) -> list[str]:
        """The query's columns without reading its rows (``LIMIT 0`` around it)."""
        import sqlalchemy as sa

        engine = sa.create_engine(engine_url(self.url))
        try:
            with engine.connect() as conn:
                result = conn.execute(sa.text(f"SELECT * FROM ({self.sql}) AS q LIMIT 0"))
                return [str(k) for k in result.keys()]  # noqa: SIM118 (a Result, not a dict)
        except sa.exc.DBAPIError as exc:
            raise InputError(_failed(redact(self.url), self.sql, 0, exc)) from None
        finally:
            engine.dispose()


def _failed(where: str, sql: str, rows: int, exc: Exception) -> str:
    orig = getattr(exc, "orig", None) or exc
    first = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    when = "before returning any row" if rows == 0 else f"after {rows:,} rows"
    return f"query on {where} failed {when}: {first} (query: {sql[:200]}); no profile was written"


def _check_names(names: list[str], sql: str) -> None:
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise InputError(
            f"the query returns duplicate column name(s) {', '.join(dup)}; give each a "
            f"distinct alias (query: {sql[:200]})"
        )


def _to_arrow(
    names: list[str], rows: Sequence[Any], schema: pa.Schema | None, offset: int
) -> tuple[pa.Table, pa.Schema]:
    cols = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    arrays = []
    for i, name in enumerate(names):
        want = None if schema is None else schema.field(i).type
        try:
            arr = pa.array(cols[i], from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise InputError(
                f"column {name!r}: values of mixed types in rows {offset + 1:,}-"
                f"{offset + len(rows):,} ({exc}); cast the column in the query"
            ) from None
        if want is not None and arr.type != want:
            if pa.types.is_null(want):
                want = arr.type  # NULL so far: the first value fixes the type
            else:
                try:
                    arr = arr.cast(want)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                    raise InputError(
                        f"column {name!r}: rows {offset + 1:,}-{offset + len(rows):,} hold "
                        f"{arr.type} values, earlier rows {want} ({exc}); cast the column in "
                        "the query"
                    ) from None
        arrays.append(arr)
    table = pa.table(arrays, names=names)
    if schema is None:
        return table, table.schema
    fixed = pa.schema(
        [
            pa.field(n, a.type if pa.types.is_null(schema.field(i).type) else schema.field(i).type)
            for i, (n, a) in enumerate(zip(names, arrays, strict=True))
        ]
    )
    return table, fixed
