"""The shipped Alembic migrations create exactly the tables of driftline.store.tables."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from driftline.store import Store
from driftline.store.tables import metadata


def test_migrations_match_the_table_definitions(store: Store) -> None:
    engine = store.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []
