"""metric_points.status: 32 characters (``insufficient_data`` has 17)

The column was ``VARCHAR(16)`` since 0004 while the windows' points say
``insufficient_data`` (a window with too few events: no verdict): SQLite does
not enforce the length, PostgreSQL refused the whole batch of points
(``value too long for type character varying(16)``), so a window holding one
such point was never evaluated on PostgreSQL. Widening a ``VARCHAR`` is a
catalogue change on PostgreSQL (no rewrite); SQLite copies the table to
declare the new length (it never enforced the old one).

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # PostgreSQL: ALTER COLUMN TYPE; SQLite: the table copied with the new declaration
    with op.batch_alter_table("metric_points") as batch:
        batch.alter_column(
            "status", type_=sa.String(32), existing_type=sa.String(16), existing_nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("metric_points") as batch:
        batch.alter_column(
            "status", type_=sa.String(16), existing_type=sa.String(32), existing_nullable=False
        )
