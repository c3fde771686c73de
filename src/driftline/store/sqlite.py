"""SQLite store: the embedded default (one file, WAL mode, zero set-up)."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.dialects.sqlite import insert

from driftline.store.base import EVENT_COLUMNS, EventRow
from driftline.store.sql import SQLStore

_ROWS_PER_STATEMENT = 32_000 // len(EVENT_COLUMNS)  # SQLite allows 32766 parameters


@functools.lru_cache(maxsize=64)
def _insert_sql(n_rows: int) -> str:
    row = "(" + ",".join("?" * len(EVENT_COLUMNS)) + ")"
    return (
        f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) VALUES {','.join([row] * n_rows)} "
        "ON CONFLICT (event_id) DO NOTHING RETURNING event_id"
    )


class SQLiteStore(SQLStore):
    """A SQLite file in WAL mode; readers never block the writer."""

    dialect = "sqlite"

    def __init__(self, path: str | Path) -> None:
        p = Path(path)
        if str(p) != ":memory:":
            p.parent.mkdir(parents=True, exist_ok=True)
        self.path = p
        engine = create_engine(
            f"sqlite:///{p}",
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=8,
            max_overflow=8,
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        super().__init__(engine)

    def _insert(self, table: Any) -> Any:
        return insert(table)

    def insert_events(self, rows: Sequence[EventRow]) -> set[str]:
        """Multi-row ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` on the driver directly.

        The same statement SQLAlchemy would build, without its per-row parameter
        processing (the ingest hot path).
        """
        if not rows:
            return set()
        new: set[str] = set()
        with self.engine.begin() as conn:
            raw: Any = conn.connection.dbapi_connection
            cur = raw.cursor()
            try:
                for i in range(0, len(rows), _ROWS_PER_STATEMENT):
                    chunk = rows[i : i + _ROWS_PER_STATEMENT]
                    params = list(itertools.chain.from_iterable(chunk))
                    cur.execute(_insert_sql(len(chunk)), params)
                    new.update(x[0] for x in cur.fetchall())
            finally:
                cur.close()
        return new
