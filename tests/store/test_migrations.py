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


def test_alert_store_works_on_the_migrated_collector_store(store: Store) -> None:
    from driftline.alerts import Silence, SQLAlertStore

    alerts = SQLAlertStore(store.engine)  # type: ignore[attr-defined]
    silence = Silence("s1", (), 100.0, 200.0, "ana", "deploy window")
    alerts.save_silence(silence)
    assert [s.id for s in alerts.silences()] == ["s1"]
    assert alerts.silences()[0].created_by == "ana"
