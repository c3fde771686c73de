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
from collections.abc import Iterator
from contextlib import contextmanager

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
