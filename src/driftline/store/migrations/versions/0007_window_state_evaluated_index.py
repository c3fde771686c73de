"""an index for the alert feed's read of newly evaluated windows

The collector's alerting (``server/alerting.py``) asks, every tick, for the
base windows evaluated since its cursor: ``window_size = ? AND evaluated_at
>= ?``. Without an index that read scans every window the store has kept,
and the table grows by one row per model version and window size every
window (about 100 000 rows a year per version at 5-minute windows).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_window_state_evaluated", "window_state", ["window_size", "evaluated_at"])


def downgrade() -> None:
    op.drop_index("ix_window_state_evaluated", table_name="window_state")
