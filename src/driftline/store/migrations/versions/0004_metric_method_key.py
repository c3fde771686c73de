"""metric points are keyed by method too; events lose an index no query uses

Latency points (method p50/p95/p99/mean) and estimated metrics share a metric
name and differ by method: without ``method`` in the primary key they
overwrote each other. ``ix_events_partial`` served no query and cost every
ingested event an index insert.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.schema import SchemaItem

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_KEY = ["model", "version", "segment", "window_size", "window_start", "metric", "column"]


def upgrade() -> None:
    _set_key([*_KEY, "method"])
    op.drop_index("ix_events_partial", table_name="events")


def downgrade() -> None:
    op.create_index("ix_events_partial", "events", ["partial_id", "seq"])
    # keep one point per old key: the one with the smallest method
    match = " AND ".join(f'o."{c}" = metric_points."{c}"' for c in _KEY)
    op.execute(
        sa.text(
            "DELETE FROM metric_points WHERE EXISTS (SELECT 1 FROM metric_points o "
            f"WHERE {match} AND o.method < metric_points.method)"
        )
    )
    _set_key(_KEY)


def _set_key(columns: list[str]) -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite cannot alter a primary key: batch mode copies the rows into a new table
        with op.batch_alter_table("metric_points", copy_from=_table(columns), recreate="always"):
            pass
    else:
        op.drop_constraint("metric_points_pkey", "metric_points", type_="primary")
        op.create_primary_key("metric_points_pkey", "metric_points", columns)


def _table(key: list[str]) -> sa.Table:
    """metric_points as of this revision, with primary key ``key``."""
    cols: list[SchemaItem] = [
        sa.Column("model", sa.String(length=128), nullable=False),
        sa.Column("version", sa.String(length=128), nullable=False),
        sa.Column("segment", sa.String(length=256), nullable=False),
        sa.Column("window_size", sa.Integer(), nullable=False),
        sa.Column("window_start", sa.BigInteger(), nullable=False),
        sa.Column("metric", sa.String(length=128), nullable=False),
        sa.Column("column", sa.String(length=128), nullable=False),
        sa.Column("method", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("evaluated_at", sa.Float(), nullable=False),
    ]
    return sa.Table(
        "metric_points",
        sa.MetaData(),
        *cols,
        sa.PrimaryKeyConstraint(*key),
        sa.Index("ix_metric_points_series", "model", "metric", "window_size", "window_start"),
    )
