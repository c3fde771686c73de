"""an index that answers the dashboard's reads of metric points on its own

A page groups one model version's points of a few metrics, one window size
and a time range (``dashboard/_sql.py``). ``ix_metric_points_series`` finds
them, but every row then costs a table lookup, and on a range of a few
thousand windows those lookups were most of a page's time. This index leads
with the same equality columns, then the range, and carries every column the
reads use, so SQLite and PostgreSQL answer from the index alone.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

COLUMNS = [
    "model", "version", "window_size", "metric", "segment", "window_start",
    "column", "method", "value", "status", "n",
]  # fmt: skip


def upgrade() -> None:
    op.create_index("ix_metric_points_read", "metric_points", COLUMNS)


def downgrade() -> None:
    op.drop_index("ix_metric_points_read", table_name="metric_points")
