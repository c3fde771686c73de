"""events: the (model, prediction_id) index holds only ids other than the event's

The SDK sends ``prediction_id`` equal to ``event_id`` unless the caller
passes one, and such an event is found by the primary key on ``event_id``.
``ix_events_prediction`` now holds only the other events (a partial index,
``WHERE prediction_id <> event_id``), so the SDK's events pay for two
B-tree inserts instead of three: 1.0-1.3 us of CPU per event of SQLite's
insert at 1M events (benchmarks/RESULTS.md, "Ingest: the events rows'
insert (hstore)"). Lookups by prediction id read both (store/sql.py).

The upgrade rebuilds the index over the stored events (one pass over
``events``); the downgrade restores the full index.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_OTHER = sa.text("prediction_id <> event_id")


def upgrade() -> None:
    op.drop_index("ix_events_prediction", table_name="events")
    op.create_index(
        "ix_events_prediction",
        "events",
        ["model", "prediction_id"],
        sqlite_where=_OTHER,
        postgresql_where=_OTHER,
    )


def downgrade() -> None:
    op.drop_index("ix_events_prediction", table_name="events")
    op.create_index("ix_events_prediction", "events", ["model", "prediction_id"])
