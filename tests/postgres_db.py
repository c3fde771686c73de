"""Helpers for tests that need a real PostgreSQL: a throw-away database per run.

Importable as ``postgres_db`` (pytest puts tests/ on the path; the benchmarks add it):
test-only code, so it is not in the package and never ships in the wheel.

``DRIFTLINE_TEST_POSTGRES`` (default ``postgresql://postgres@127.0.0.1:5432/test``)
names a server and a database to connect to for ``CREATE DATABASE``. When the
server is unreachable, tests skip, except with ``CI=true``, where they fail:
on CI a missing PostgreSQL is a broken build, not a reason to test less.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"


def admin_url() -> str:
    return os.environ.get("DRIFTLINE_TEST_POSTGRES", DEFAULT_ADMIN_URL)


def on_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def postgres_error() -> str | None:
    """``None`` when PostgreSQL answers, else why not."""
    import psycopg

    try:
        with psycopg.connect(admin_url(), connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:
        return f"PostgreSQL at {admin_url()} is unreachable: {type(exc).__name__}: {exc}"
    return None


@contextmanager
def fresh_database(prefix: str = "driftline_test") -> Iterator[str]:
    """Create a uniquely named database, yield its URL, drop it afterwards."""
    import psycopg

    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    base = admin_url()
    with psycopg.connect(base, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield base.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(base, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def require_postgres() -> None:
    """Skip the test when the test PostgreSQL does not answer (fail it on CI)."""
    import pytest

    why = postgres_error()
    if why is not None:
        if on_ci():
            pytest.fail(f"{why} (CI=true: PostgreSQL tests fail instead of skipping)")
        pytest.skip(why)


@contextmanager
def postgres_database(prefix: str) -> Iterator[str]:
    """A fresh database on the test PostgreSQL; skips the test if there is none (fails on CI)."""
    require_postgres()
    with fresh_database(prefix) as url:
        yield url


def store_url_fixture(prefix: str, filename: str = "collector.db") -> Callable[..., Iterator[str]]:
    """A ``store_url`` fixture run twice: a SQLite file in tmp_path and a fresh PostgreSQL
    database (marked ``postgres``). Use as ``store_url = store_url_fixture("driftline_x")``."""
    import pytest

    @pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
    def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
        if request.param == "sqlite":
            yield f"sqlite:///{tmp_path / filename}"
            return
        with postgres_database(prefix) as url:
            yield url

    return store_url
