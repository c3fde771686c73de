"""The SQLAlchemy Core schema shared by every store engine (SQLite and PostgreSQL).

Times are epoch seconds as floats (``REAL`` / ``DOUBLE PRECISION``): one
representation on both engines, cheap to compare, no time-zone surprises.
Window starts are integer epoch seconds. JSON payloads are stored as text
(written once by orjson, read rarely) so that both engines behave the same.
The Alembic migrations in ``driftline/store/migrations`` create exactly these
tables; a test checks that the two never disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    select,
    text,
    union_all,
)

metadata = MetaData()

NAME = 128  # model, version, column, segment names
ID = 128  # client-made identifiers

#: Raw prediction events: purged by retention; needed for label joins, samples, recovery.
#: ``payload``: the event's JSON, or "" when it is row ``segment_row`` of segment
#: ``segment_id`` (an Arrow batch's events, stored together; migration 0010).
#: ``ix_events_prediction`` holds only the events whose ``prediction_id`` is not their
#: ``event_id`` (the SDK's default): the others are found by the primary key
#: (:func:`events_by_prediction`; migration 0011).
events = Table(
    "events",
    metadata,
    Column("event_id", String(ID), primary_key=True),
    Column("model", String(NAME), nullable=False),
    Column("version", String(NAME), nullable=False),
    Column("prediction_id", String(ID), nullable=False),
    Column("ts", Float, nullable=False),
    Column("received_at", Float, nullable=False),
    Column("window_start", BigInteger, nullable=False),
    Column("partial_id", String(64), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("shadow", Boolean, nullable=False),
    Column("payload", Text, nullable=False),
    Column("segment_id", String(64)),
    Column("segment_row", Integer),
    Index("ix_events_window", "model", "version", "window_start"),
    Index(
        "ix_events_prediction",
        "model",
        "prediction_id",
        sqlite_where=text("prediction_id <> event_id"),
        postgresql_where=text("prediction_id <> event_id"),
    ),
    Index("ix_events_received", "received_at"),
)


def events_by_prediction(columns: Sequence[Any], model: str, ids: Sequence[str]) -> Any:
    """``select(*columns)`` of the ``events`` rows of ``model`` whose ``prediction_id`` is one
    of ``ids``: those whose prediction id is not their event id by ``ix_events_prediction``
    (which holds only them), the others (the SDK's default) by the primary key. The two
    parts are disjoint."""
    e = events.c
    other = select(*columns).where(
        e.model == model, e.prediction_id.in_(ids), e.prediction_id != e.event_id
    )
    same = select(*columns).where(
        e.event_id.in_(ids), e.prediction_id == e.event_id, e.model == model
    )
    return union_all(other, same)


#: The payloads of an Arrow batch's new events as one Arrow IPC stream (store/segments.py),
#: written in the transaction of their ``events`` rows; purged with them (``received_at``).
event_segments = Table(
    "event_segments",
    metadata,
    Column("segment_id", String(64), primary_key=True),
    Column("received_at", Float, nullable=False),
    Column("n_rows", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Index("ix_event_segments_received", "received_at"),
)

#: What a label needs of a prediction whose raw event retention has purged: kept for the
#: label horizon (``label_horizon_days``, a year by default), so a label that arrives months
#: late still updates its window's realized metrics. ``outcome`` is compact JSON
#: ``{"prediction", "scores", "segment"}``; the purge moves rows here from ``events``.
prediction_index = Table(
    "prediction_index",
    metadata,
    Column("event_id", String(ID), primary_key=True),
    Column("model", String(NAME), nullable=False),
    Column("version", String(NAME), nullable=False),
    Column("prediction_id", String(ID), nullable=False),
    Column("window_start", BigInteger, nullable=False),
    Column("ts", Float, nullable=False),
    Column("received_at", Float, nullable=False),
    Column("status", String(16), nullable=False),
    Column("outcome", Text, nullable=False),
    Index("ix_prediction_index_prediction", "model", "prediction_id"),
    Index("ix_prediction_index_window", "model", "version", "window_start"),
    Index("ix_prediction_index_received", "received_at"),
)

#: Leases held by one replica at a time (``alerting``: the replica that evaluates alerts).
#: A holder renews its lease every tick; another replica takes it once ``expires_at`` passed.
leases = Table(
    "leases",
    metadata,
    Column("name", String(NAME), primary_key=True),
    Column("holder", String(NAME), nullable=False),
    Column("acquired_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
)

#: Ground truth, one per (model, prediction_id): a later label replaces an earlier one.
labels = Table(
    "labels",
    metadata,
    Column("model", String(NAME), primary_key=True),
    Column("prediction_id", String(ID), primary_key=True),
    Column("event_id", String(ID), nullable=False),
    Column("version", String(NAME)),
    Column("ts", Float, nullable=False),
    Column("received_at", Float, nullable=False),
    Column("label", Text, nullable=False),
    Index("ix_labels_received", "received_at"),
)

feedback = Table(
    "feedback",
    metadata,
    Column("event_id", String(ID), primary_key=True),
    Column("model", String(NAME), nullable=False),
    Column("version", String(NAME)),
    Column("prediction_id", String(ID), nullable=False),
    Column("ts", Float, nullable=False),
    Column("received_at", Float, nullable=False),
    Column("kind", String(NAME), nullable=False),
    Column("value", Text),
    Index("ix_feedback_prediction", "model", "prediction_id"),
    Index("ix_feedback_received", "received_at"),
)

job_runs = Table(
    "job_runs",
    metadata,
    Column("job", String(NAME), primary_key=True),
    Column("run_id", String(ID), primary_key=True),
    Column("event_id", String(ID), nullable=False),
    Column("scheduled_at", Float),
    Column("started_at", Float, nullable=False),
    Column("finished_at", Float, nullable=False),
    Column("status", String(32), nullable=False),
    Column("rows_in", BigInteger),
    Column("rows_out", BigInteger),
    Column("error", Text),
    Column("metrics", Text, nullable=False),
    Column("received_at", Float, nullable=False),
    Column("project", String(NAME), nullable=False, server_default="default"),
    Index("ix_job_runs_started", "job", "started_at"),
)

#: A replica's partial profile of one base window (all segments in one blob).
#: ``covered_seq``: the last ingest batch of this partial that ``profile`` includes;
#: events with a higher ``seq`` (or of an unsaved partial) are folded from raw events.
window_partials = Table(
    "window_partials",
    metadata,
    Column("partial_id", String(64), primary_key=True),
    Column("model", String(NAME), nullable=False),
    Column("version", String(NAME), nullable=False),
    Column("window_start", BigInteger, nullable=False),
    Column("replica", String(64), nullable=False),
    Column("covered_seq", Integer, nullable=False),
    Column("n_events", BigInteger, nullable=False),
    Column("profile", LargeBinary, nullable=False),
    Column("updated_at", Float, nullable=False),
    Index("ix_partials_window", "model", "version", "window_start"),
)

#: Which windows changed since they were last evaluated: pending while
#: ``evaluated_generation < generation`` (one row per size and start).
window_state = Table(
    "window_state",
    metadata,
    Column("model", String(NAME), primary_key=True),
    Column("version", String(NAME), primary_key=True),
    Column("window_size", Integer, primary_key=True),
    Column("window_start", BigInteger, primary_key=True),
    Column("generation", Integer, nullable=False),
    Column("evaluated_generation", Integer, nullable=False),
    Column("changed_at", Float, nullable=False),
    Column("evaluated_at", Float),
    Index("ix_window_state_end", "window_start"),
    Index("ix_window_state_evaluated", "window_size", "evaluated_at"),
)

#: The dashboard's reads: equality columns, the time range, then what they select.
METRIC_READ_COLUMNS = (
    *("model", "version", "window_size", "metric", "segment", "window_start"),
    *("column", "method", "value", "status", "n"),
)

#: Evaluation results; ``column`` and ``method`` are "" when not applicable. One point per
#: method: latency p50/p95/p99/mean, or an estimated metric's estimator (migration 0004).
metric_points = Table(
    "metric_points",
    metadata,
    Column("model", String(NAME), primary_key=True),
    Column("version", String(NAME), primary_key=True),
    Column("segment", String(2 * NAME), primary_key=True),
    Column("window_size", Integer, primary_key=True),
    Column("window_start", BigInteger, primary_key=True),
    Column("metric", String(NAME), primary_key=True),
    Column("column", String(NAME), primary_key=True),
    Column("method", String(64), primary_key=True),
    Column("value", Float),
    Column("status", String(32), nullable=False),  # insufficient_data: 17 (0012)
    Column("n", BigInteger, nullable=False),
    Column("details", Text, nullable=False),
    Column("evaluated_at", Float, nullable=False),
    Index("ix_metric_points_series", "model", "metric", "window_size", "window_start"),
    # the dashboard's grouped reads, answered from the index alone (migration 0005)
    Index("ix_metric_points_read", *METRIC_READ_COLUMNS),
)

references = Table(
    "references",
    metadata,
    Column("model", String(NAME), primary_key=True),
    Column("version", String(NAME), primary_key=True),
    Column("profile", LargeBinary, nullable=False),
    Column("n_rows", BigInteger, nullable=False),
    Column("uploaded_at", Float, nullable=False),
)

#: ``project``: the project of the API key that first wrote the model (migration 0006);
#: keys of another project cannot reach it (docs/collector.md, "Projects").
models = Table(
    "models",
    metadata,
    Column("model", String(NAME), primary_key=True),
    Column("created_at", Float, nullable=False),
    Column("meta", Text, nullable=False),
    Column("project", String(NAME), nullable=False, server_default="default"),
    Index("ix_models_project", "project"),
)

#: ``schema``: the columns live windows use (the reference's, else inferred once).
versions = Table(
    "versions",
    metadata,
    Column("model", String(NAME), primary_key=True),
    Column("version", String(NAME), primary_key=True),
    Column("created_at", Float, nullable=False),
    Column("meta", Text, nullable=False),
    Column("schema", Text),
)

#: Keys are stored as a SHA-256 of the whole key; ``key_id`` is the public prefix.
api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", String(32), primary_key=True),
    Column("hash", String(64), nullable=False),
    Column("name", String(NAME), nullable=False),
    Column("project", String(NAME), nullable=False),
    Column("scopes", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("revoked_at", Float),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ts", Float, nullable=False),
    Column("actor", String(NAME), nullable=False),
    Column("action", String(NAME), nullable=False),
    Column("target", String(2 * NAME), nullable=False),
    Column("detail", Text, nullable=False),
)


def _fold_in_alert_tables() -> None:
    """The alert engine's tables (driftline.alerts.tables) live in this schema too.

    They are defined beside the alerts library so it does not depend on the
    collector; migration 0002 creates them.
    """
    import importlib.util
    import sys
    from pathlib import Path

    # load the module file directly: importing the driftline.alerts package would
    # pull in the whole alerting library just to read four table definitions
    name = "driftline.alerts.tables"
    module = sys.modules.get(name)
    if module is None:
        path = Path(__file__).resolve().parents[1] / "alerts" / "tables.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    for table in module.metadata.sorted_tables:
        table.to_metadata(metadata)


_fold_in_alert_tables()
