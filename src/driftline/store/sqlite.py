"""SQLite store: the embedded default (one file, WAL mode, zero set-up)."""

from __future__ import annotations

import functools
import itertools
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.dialects.sqlite import insert

from driftline.store.base import EVENT_COLUMNS, INLINE_COLUMNS, EventRow, EventSegment
from driftline.store.sql import SQLStore

#: Page size of a new store: 16 kB pages took 0.3-0.6 us of CPU less per event of the
#: events rows' insert than 4 kB ones (1M events, benchmarks/RESULTS.md, hstore).
PAGE_SIZE = 16384
_ROWS_PER_STATEMENT = 32_000 // len(EVENT_COLUMNS)  # SQLite allows 32766 parameters


@functools.lru_cache(maxsize=64)
def _insert_sql(n_rows: int, width: int) -> str:
    """The INSERT of ``n_rows`` rows of :data:`EVENT_COLUMNS` or, ``width`` shorter, of
    :data:`INLINE_COLUMNS` (the JSON path's: binding two NULLs per row cost 0.5 us)."""
    columns = EVENT_COLUMNS if width == len(EVENT_COLUMNS) else INLINE_COLUMNS
    row = "(" + ",".join("?" * len(columns)) + ")"
    return (
        f"INSERT INTO events ({', '.join(columns)}) VALUES {','.join([row] * n_rows)} "
        "ON CONFLICT (event_id) DO NOTHING"
    )


#: The ids of the rows one INSERT added: SQLite gives each new row the largest rowid plus
#: one, so they hold the ``rowcount`` rowids ending at ``last_insert_rowid()``.
_ADDED_SQL = "SELECT event_id FROM events WHERE rowid > ? AND rowid <= ?"
_SEGMENT_SQL = "INSERT INTO event_segments (segment_id, received_at, n_rows, data) VALUES (?,?,?,?)"


def _engine(path: Path, **pool: Any) -> Engine:
    engine = create_engine(
        f"sqlite:///{path}",
        connect_args={"check_same_thread": False, "timeout": 30},
        **pool,
    )

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        # a new file's pages (before its first table; an existing file keeps its own)
        cur.execute(f"PRAGMA page_size={PAGE_SIZE}")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    return engine


class SQLiteStore(SQLStore):
    """A SQLite file in WAL mode; readers never block the writer."""

    dialect = "sqlite"

    def __init__(self, path: str | Path) -> None:
        p = Path(path)
        if str(p) != ":memory:":
            p.parent.mkdir(parents=True, exist_ok=True)
        self.path = p
        super().__init__(_engine(p, pool_size=8, max_overflow=8))
        #: One connection for the ingest hot path. Events are inserted one batch at a time
        #: anyway (SQLite has one writer), and a connection that made the last commit keeps
        #: its page cache; another connection's cache is dropped at its next transaction,
        #: so rotating through the pool re-read the index pages for every batch (with two
        #: request threads, 35 000 against 43 000 events/s in benchmarks/ingest.py).
        self._ingest = _engine(p, pool_size=1, max_overflow=0, pool_timeout=300)

    def unwritable(self, min_free_bytes: int) -> str | None:
        """A disk with less than ``min_free_bytes`` free, or a read-only file or folder."""
        folder = self.path.parent
        try:
            st = os.statvfs(folder)
        except OSError as exc:
            return f"cannot inspect {folder}: {exc.strerror}"
        free = st.f_bavail * st.f_frsize
        if free < min_free_bytes:
            return (
                f"the disk of {self.path} has {free} bytes free "
                f"(min_free_disk_bytes={min_free_bytes})"
            )
        if not os.access(folder, os.W_OK) or (
            self.path.exists() and not os.access(self.path, os.W_OK)
        ):
            return f"{self.path} is not writable"
        return None

    def close(self) -> None:
        self._ingest.dispose()
        super().close()

    def _insert(self, table: Any) -> Any:
        return insert(table)

    def insert_events(
        self, rows: Sequence[EventRow], segment: EventSegment | None = None
    ) -> set[str]:
        """Multi-row ``INSERT ... ON CONFLICT DO NOTHING`` on the driver directly.

        The same statement SQLAlchemy would build, without its per-row parameter
        processing (the ingest hot path). When every row was inserted (the row
        count says so) all ids are new; otherwise the new ones are read back by
        rowid (the statement's rows hold the last ``rowcount`` rowids, while the
        transaction holds the write lock). ``RETURNING`` is not used: each
        returned row is one step of the statement that gives up and takes back
        the GIL (a fifth of the ingest time went there).
        """
        if not rows:
            return set()
        new: set[str] = set()
        with self._ingest.begin() as conn:
            raw: Any = conn.connection.dbapi_connection
            cur = raw.cursor()
            try:
                for i in range(0, len(rows), _ROWS_PER_STATEMENT):
                    chunk = rows[i : i + _ROWS_PER_STATEMENT]
                    params = list(itertools.chain.from_iterable(chunk))
                    cur.execute(_insert_sql(len(chunk), len(chunk[0])), params)
                    added = cur.rowcount
                    if added == len(chunk):
                        new.update(r[0] for r in chunk)
                    elif added > 0:
                        last = cur.lastrowid
                        cur.execute(_ADDED_SQL, (last - added, last))
                        new.update(r[0] for r in cur.fetchall())
                if segment is not None and new:
                    seg = segment
                    values = (seg.segment_id, seg.received_at, seg.n_rows, seg.data)
                    cur.execute(_SEGMENT_SQL, values)
            finally:
                cur.close()
        return new
