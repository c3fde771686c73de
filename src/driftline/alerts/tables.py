"""SQLAlchemy Core tables of the alert store, on their own :data:`metadata`.

Kept apart from ``driftline.store.tables`` so the alerts library has no
dependency on the collector; the collector's Alembic migrations fold these
tables in (same names, same columns). Times are epoch seconds as floats and
JSON is stored as text, like the collector's tables.
"""

from __future__ import annotations

from sqlalchemy import Column, Float, Index, Integer, MetaData, String, Table, Text

metadata = MetaData()

#: Current state of every alert that is not inactive (one row per fingerprint).
alert_states = Table(
    "alert_states",
    metadata,
    Column("fingerprint", String(32), primary_key=True),
    Column("rule", String(128), nullable=False),
    Column("state", String(16), nullable=False),
    Column("data", Text, nullable=False),
    Column("updated_at", Float, nullable=False),
    Index("ix_alert_states_rule", "rule"),
)

#: Every state change, silence, acknowledgement, outcome and delivery result.
alert_audit = Table(
    "alert_audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("fingerprint", String(32), nullable=False),
    Column("rule", String(128), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("from_state", String(16), nullable=False),
    Column("to_state", String(16), nullable=False),
    Column("detail", Text, nullable=False),
    Index("ix_alert_audit_fingerprint", "fingerprint", "at"),
    Index("ix_alert_audit_at", "at"),
)

alert_silences = Table(
    "alert_silences",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("matchers", Text, nullable=False),
    Column("starts_at", Float, nullable=False),
    Column("ends_at", Float, nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("comment", Text, nullable=False),
    Column("expired_by", String(128)),
)

#: Notifications and action calls waiting for (re)delivery; delivered rows are kept for audit.
alert_outbox = Table(
    "alert_outbox",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("receiver", String(128), nullable=False),
    Column("notifier", String(32), nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("next_attempt_at", Float, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("last_error", Text, nullable=False),
    Index("ix_alert_outbox_due", "status", "next_attempt_at"),
)

#: Notification groups (grouping.py): what was sent to whom, when the next flush is due.
alert_groups = Table(
    "alert_groups",
    metadata,
    Column("id", String(32), primary_key=True),  # sha256 of the group key
    Column("data", Text, nullable=False),
    Column("updated_at", Float, nullable=False),
)

#: How far a reader of metric points got (the collector's feed of the engine).
alert_cursors = Table(
    "alert_cursors",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Float, nullable=False),
)
