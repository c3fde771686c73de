"""event segments: an Arrow batch's payloads stored as one Arrow IPC stream

Each event of an Arrow prediction batch was one ``events`` row with its JSON
payload, made per event. The batch's payloads are now one row of
``event_segments``; the events' rows keep ids, window and status, with an
empty ``payload`` and ``(segment_id, segment_row)`` naming their row of the
segment. Rows stored before keep their payloads (nothing is rewritten: two
nullable columns and a table, cheap on both engines).

Collectors of an earlier version cannot read the payloads of the rows stored
this way, and the downgrade drops them (the rows stay, with empty payloads).

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("events", sa.Column("segment_id", sa.String(64), nullable=True))
    op.add_column("events", sa.Column("segment_row", sa.Integer, nullable=True))
    op.create_table(
        "event_segments",
        sa.Column("segment_id", sa.String(64), primary_key=True),
        sa.Column("received_at", sa.Float, nullable=False),
        sa.Column("n_rows", sa.Integer, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_event_segments_received", "event_segments", ["received_at"])


def downgrade() -> None:
    op.drop_table("event_segments")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("segment_row")
        batch.drop_column("segment_id")
