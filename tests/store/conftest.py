"""One store fixture, run against SQLite and the real PostgreSQL (the contract suite)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from driftline.store import Store, open_store
from driftline.store import tables as t
from postgres_db import postgres_database


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with postgres_database("driftline_store") as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        s = open_store(f"sqlite:///{tmp_path}/store.db")
    else:
        url = request.getfixturevalue("postgres_url")
        s = open_store(url)
        names = ", ".join(f'"{tb.name}"' for tb in t.metadata.sorted_tables)
        with s.engine.begin() as conn:  # type: ignore[attr-defined]
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY"))
    yield s
    s.close()
