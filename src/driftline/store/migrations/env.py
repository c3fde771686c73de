"""Alembic environment: runs on the connection handed in by driftline.store.migrate."""

from __future__ import annotations

from alembic import context

from driftline.store.tables import metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - always called through driftline.store.migrate
    raise RuntimeError("run migrations with `driftline migrate`, not the alembic command")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
