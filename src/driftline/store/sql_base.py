"""What the SQL store's parts share: the engine, and the insert construct each engine supplies."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from sqlalchemy import Engine, text


class SQLBase(ABC):
    """The engine and its specifics; the engines' classes set :attr:`dialect` and
    :meth:`_insert` (:mod:`driftline.store.sqlite`, :mod:`driftline.store.postgres`)."""

    dialect = "sql"

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- engine specifics -----------------------------------------------------------
    @abstractmethod
    def _insert(self, table: Any) -> Any:
        """The engine's insert construct for ``table`` (SQLite and PostgreSQL differ)."""

    def migrate(self) -> None:
        from driftline.store.migrate import upgrade

        with self.engine.begin() as conn:
            upgrade(conn)

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def unwritable(self, min_free_bytes: int) -> str | None:
        return None

    def close(self) -> None:
        self.engine.dispose()
