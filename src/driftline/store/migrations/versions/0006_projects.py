"""models and job runs belong to a project (API keys of a project reach only its models)

Existing rows belong to the project ``default``.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_TABLES = ("models", "job_runs")


def upgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column(
                    "project", sa.String(length=128), nullable=False, server_default="default"
                )
            )
    op.create_index("ix_models_project", "models", ["project"])


def downgrade() -> None:
    op.drop_index("ix_models_project", table_name="models")
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("project")
