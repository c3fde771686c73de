"""Storage of the collector: raw events, window partials, metric points, keys, audit.

``open_store(url)`` picks the engine from the URL: ``sqlite:///path`` (or a
plain path) for the embedded default, ``postgresql://...`` for production.
"""

from __future__ import annotations

from pathlib import Path

from driftline.errors import ConfigError, require
from driftline.store.base import MetricQuery, Partial, PendingWindow, Store, WindowKey

DEFAULT_URL = "sqlite:///.driftline/driftline.db"


def open_store(url: str | None = None, *, migrate: bool = True) -> Store:
    """The store at ``url`` (default: a SQLite file under ``.driftline/``), migrated."""
    require("sqlalchemy", "server")
    url = url or DEFAULT_URL
    store: Store
    if url.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        require("psycopg", "postgres")
        from driftline.store.postgres import PostgresStore

        store = PostgresStore(url)
    elif url.startswith("sqlite:///") or "://" not in url:
        from driftline.store.sqlite import SQLiteStore

        store = SQLiteStore(Path(url.removeprefix("sqlite:///")))
    else:
        raise ConfigError(
            f"store url {redact_url(url)!r} is not supported; allowed: "
            "sqlite:///PATH, a file path, postgresql://USER@HOST:PORT/DB"
        )
    if migrate:
        store.migrate()
    return store


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (safe to log)."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    creds, _, host = rest.rpartition("@")
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in creds else url


__all__ = [
    "DEFAULT_URL",
    "MetricQuery",
    "Partial",
    "PendingWindow",
    "Store",
    "WindowKey",
    "open_store",
    "redact_url",
]
