"""PostgreSQL store: production, shared by several collector replicas (psycopg 3)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.dialects.postgresql import insert

from driftline.store.sql import SQLStore

#: ``pg_advisory_lock`` key held while migrating, so replicas starting together take turns.
MIGRATE_LOCK = 0x64726966746C696E  # "driftlin"


def sqlalchemy_url(url: str) -> str:
    """``postgresql://`` / ``postgres://`` URLs use the psycopg 3 driver."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class PostgresStore(SQLStore):
    dialect = "postgresql"

    def __init__(self, url: str, pool_size: int = 8) -> None:
        engine = create_engine(
            sqlalchemy_url(url), pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
        )
        super().__init__(engine)

    def _insert(self, table: Any) -> Any:
        return insert(table)

    def migrate(self) -> None:
        from driftline.store.migrate import upgrade

        with self.engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATE_LOCK})
            upgrade(conn)
