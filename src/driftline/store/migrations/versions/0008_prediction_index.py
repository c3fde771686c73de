"""the prediction index: what late labels need of predictions whose raw events are purged

Raw events are purged after ``retention_days`` (30); labels often come later
(a credit default after six months). The purge now moves each prediction's
compact part (model, version, window, prediction, scores, segment) into
``prediction_index``, kept for ``label_horizon_days`` (365), so such a label
still joins its prediction and updates its window's realized metrics.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "prediction_index",
        sa.Column("event_id", sa.String(128), primary_key=True),
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("version", sa.String(128), nullable=False),
        sa.Column("prediction_id", sa.String(128), nullable=False),
        sa.Column("window_start", sa.BigInteger, nullable=False),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("received_at", sa.Float, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("outcome", sa.Text, nullable=False),
    )
    op.create_index(
        "ix_prediction_index_prediction", "prediction_index", ["model", "prediction_id"]
    )
    op.create_index(
        "ix_prediction_index_window", "prediction_index", ["model", "version", "window_start"]
    )
    op.create_index("ix_prediction_index_received", "prediction_index", ["received_at"])


def downgrade() -> None:
    op.drop_table("prediction_index")
