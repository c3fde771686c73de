"""PostgreSQL store: production, shared by several collector replicas (psycopg 3)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.dialects.postgresql import insert

from driftline.store.base import EVENT_COLUMNS, INLINE_COLUMNS, EventRow, EventSegment
from driftline.store.sql import SQLStore

_EVENT_COLUMNS = (
    ("event_id", "text"),
    ("model", "text"),
    ("version", "text"),
    ("prediction_id", "text"),
    ("ts", "float8"),
    ("received_at", "float8"),
    ("window_start", "int8"),
    ("partial_id", "text"),
    ("seq", "int4"),
    ("status", "text"),
    ("shadow", "bool"),
    ("payload", "text"),
    ("segment_id", "text"),
    ("segment_row", "int4"),
)
_TEMP_TABLE = (
    "CREATE TEMP TABLE IF NOT EXISTS events_in "
    f"({', '.join(f'{c} {t}' for c, t in _EVENT_COLUMNS)}) ON COMMIT DELETE ROWS"
)
_INSERT_EVENTS = (
    f"INSERT INTO events ({', '.join(c for c, _ in _EVENT_COLUMNS)}) "
    f"SELECT {', '.join(c for c, _ in _EVENT_COLUMNS)} FROM events_in "
    "ON CONFLICT (event_id) DO NOTHING RETURNING event_id"
)

_COPY_EVENTS = f"COPY events_in ({', '.join(EVENT_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
_COPY_INLINE = f"COPY events_in ({', '.join(INLINE_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
_COPY_NEW = f"COPY events ({', '.join(EVENT_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
_COPY_NEW_INLINE = f"COPY events ({', '.join(INLINE_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
_TYPES = [t for _, t in _EVENT_COLUMNS]
_INSERT_SEGMENT = (
    "INSERT INTO event_segments (segment_id, received_at, n_rows, data) VALUES (%s, %s, %s, %s)"
)

#: ``pg_advisory_lock`` key held while migrating, so replicas starting together take turns.
MIGRATE_LOCK = 0x64726966746C696E  # "driftlin"


def sqlalchemy_url(url: str) -> str:
    """``postgresql://`` / ``postgres://`` URLs use the psycopg 3 driver."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _copy(cur: Any, sql: str, rows: Sequence[EventRow], width: int) -> None:
    with cur.copy(sql) as copy:
        copy.set_types(_TYPES[:width])
        for r in rows:
            copy.write_row(r)


class PostgresStore(SQLStore):
    dialect = "postgresql"

    def __init__(self, url: str, pool_size: int = 8) -> None:
        engine = create_engine(
            sqlalchemy_url(url), pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
        )
        super().__init__(engine)

    def unwritable(self, min_free_bytes: int) -> str | None:
        """A server in recovery (a standby) or a read-only default takes no writes."""
        from sqlalchemy import text

        with self.engine.connect() as conn:
            standby = conn.execute(text("SELECT pg_is_in_recovery()")).scalar()
            read_only = conn.execute(text("SHOW default_transaction_read_only")).scalar()
        if standby:
            return "the PostgreSQL server is a standby (in recovery): it takes no writes"
        if read_only == "on":
            return "the PostgreSQL database is read-only (default_transaction_read_only)"
        return None

    def _insert(self, table: Any) -> Any:
        return insert(table)

    def insert_events(
        self, rows: Sequence[EventRow], segment: EventSegment | None = None
    ) -> set[str]:
        """Binary COPY straight into ``events``; when an id is known, COPY into a temporary
        table and one ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` instead.

        The straight COPY runs in a savepoint: a known id (a resent batch, or an id twice in
        the batch) fails it with a unique violation at that row, and the batch goes the
        second way, which returns exactly the ids that were new. A batch of new ids costs
        the server less than half the ``INSERT ... ON CONFLICT`` (its speculative inserts,
        the temporary table, the returned rows; benchmarks/RESULTS.md, hstore). Binary COPY
        rows are encoded by psycopg in C, four times cheaper than text ones.
        """
        if not rows:
            return set()
        import psycopg

        created: dict[Any, Any] | None = None
        width = len(rows[0])
        inline = width == len(INLINE_COLUMNS)
        with self.engine.begin() as conn:
            raw: Any = conn.connection.dbapi_connection
            info = conn.connection.info  # kept as long as the database session
            with raw.cursor() as cur:
                # a savepoint by hand: raw.transaction() before the transaction's first
                # statement would be a transaction of its own, committed before the segment
                cur.execute("SAVEPOINT events_copy")
                try:
                    _copy(cur, _COPY_NEW_INLINE if inline else _COPY_NEW, rows, width)
                    cur.execute("RELEASE SAVEPOINT events_copy")
                    new = {r[0] for r in rows}
                except psycopg.errors.UniqueViolation:
                    cur.execute("ROLLBACK TO SAVEPOINT events_copy")
                    if not info.get("events_in"):  # once per session
                        cur.execute(_TEMP_TABLE)
                        created = info
                    _copy(cur, _COPY_INLINE if inline else _COPY_EVENTS, rows, width)
                    cur.execute(_INSERT_EVENTS)
                    new = {x[0] for x in cur.fetchall()}
                if segment is not None and new:
                    seg = segment
                    cur.execute(
                        _INSERT_SEGMENT, (seg.segment_id, seg.received_at, seg.n_rows, seg.data)
                    )
        if created is not None:  # committed: the table exists for the session's next batches
            created["events_in"] = True
        return new

    def migrate(self) -> None:
        from driftline.store.migrate import upgrade

        with self.engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATE_LOCK})
            upgrade(conn)
