"""leases: one replica at a time evaluates alerts

Several collector replicas share one PostgreSQL store; exactly one of them
(the holder of the ``alerting`` lease) evaluates alert rules and sends
notifications. It renews the lease every tick; when it dies, another replica
takes the lease once it has expired (``alerting_lease_seconds``).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "leases",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("holder", sa.String(128), nullable=False),
        sa.Column("acquired_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("leases")
