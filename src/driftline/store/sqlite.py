"""SQLite store: the embedded default (one file, WAL mode, zero set-up)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.dialects.sqlite import insert

from driftline.store.sql import SQLStore


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
