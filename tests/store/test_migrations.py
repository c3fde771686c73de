"""The shipped Alembic migrations create exactly the tables of driftline.store.tables."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from driftline.store import MetricQuery, Store, open_store
from driftline.store import tables as t
from driftline.store.migrate import upgrade
from driftline.store.tables import metadata
from postgres_db import fresh_database


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


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database (no tables yet) on each engine."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/m.db"
        return
    request.getfixturevalue("postgres_url")  # skips or fails (CI) without PostgreSQL
    with fresh_database("driftline_migrate") as url:
        yield url


def test_upgrades_keep_rows_method_keyed_points_and_default_project(engine_url: str) -> None:
    store = open_store(engine_url, migrate=False)
    engine = store.engine  # type: ignore[attr-defined]
    with engine.begin() as conn:
        upgrade(conn, "0003")
        point = {
            "model": "m",
            "version": "v1",
            "segment": "*",
            "window_size": 300,
            "window_start": 0,
            "metric": "latency_seconds",
            "column": "",
            "method": "p99",
            "value": 0.25,
            "status": "ok",
            "n": 10,
            "details": "{}",
            "evaluated_at": 1.0,
        }
        conn.execute(t.metric_points.insert(), [point])
        conn.execute(t.models.insert().values(model="m", created_at=1.0, meta="{}"))
    store.migrate()
    assert store.metric_points(MetricQuery()) == [point]
    assert store.model_projects(["m"]) == {"m": "default"}  # 0006: existing models
    # the key now has the method: p50 sits beside p99 instead of replacing it
    store.upsert_metric_points([{**point, "method": "p50", "value": 0.1}])
    got = {p["method"]: p["value"] for p in store.metric_points(MetricQuery())}
    assert got == {"p50": 0.1, "p99": 0.25}
    store.close()
