"""The :class:`Store` protocol: everything the collector, evaluator and CLI keep.

Rows cross this boundary as plain dicts keyed by the column names of
:mod:`driftline.store.tables`; JSON payloads are already-encoded text. Every
write is an idempotent upsert or an insert that ignores duplicates, so a
retried request or a second replica doing the same work changes nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, Protocol

Row = Mapping[str, Any]

#: The project of models and keys made without one; its admin keys reach every project.
DEFAULT_PROJECT = "default"

#: The order of the values of an event row given to :meth:`Store.insert_events`.
EVENT_COLUMNS = (
    "event_id",
    "model",
    "version",
    "prediction_id",
    "ts",
    "received_at",
    "window_start",
    "partial_id",
    "seq",
    "status",
    "shadow",
    "payload",
    "segment_id",
    "segment_row",
)
EventRow = Sequence[Any]
#: A row without a segment may stop at ``payload``: ``segment_id`` and ``segment_row`` are
#: then NULL (two parameters fewer per row on the JSON path's insert).
INLINE_COLUMNS = EVENT_COLUMNS[: EVENT_COLUMNS.index("payload") + 1]
#: Which feedback :meth:`Store.request_feedback` reads: judge results or user thumbs.
FeedbackKinds = Literal["judge", "thumbs"]


class WindowKey(NamedTuple):
    """One evaluation unit: all segments of a model version in one window."""

    model: str
    version: str
    window_size: int
    window_start: int

    @property
    def window_end(self) -> int:
        return self.window_start + self.window_size


@dataclass(frozen=True)
class EventSegment:
    """A batch's prediction events as one Arrow IPC stream (:mod:`driftline.store.segments`).

    Event rows stored with it have an empty ``payload`` and name their row of it
    (``segment_id``, ``segment_row``); readers get their payloads from it.
    """

    segment_id: str
    received_at: float
    n_rows: int
    data: bytes


@dataclass(frozen=True)
class LabelMatch:
    """What a batch of labels matched: the windows of their stored predictions, and per model
    the labels whose prediction the store does not hold (not arrived yet, or older than the
    label horizon): counted, never dropped in silence."""

    windows: list[tuple[str, str, int]]
    unmatched: dict[str, int]


@dataclass(frozen=True)
class PendingWindow:
    key: WindowKey
    generation: int


@dataclass(frozen=True)
class Partial:
    partial_id: str
    window_start: int
    covered_seq: int
    n_events: int
    profile: bytes


@dataclass(frozen=True)
class MetricQuery:
    """Filters of :meth:`Store.metric_points`; ``None`` means any."""

    model: str | None = None
    version: str | None = None
    segment: str | None = None
    metric: str | None = None
    column: str | None = None
    window_size: int | None = None
    start: float | None = None
    end: float | None = None
    limit: int = 1000
    method: str | None = None
    #: only models of this project
    project: str | None = None


class Store(Protocol):
    """Persistence of driftline's collector; implemented by SQLiteStore and PostgresStore."""

    dialect: str

    def migrate(self) -> None:
        """Create or upgrade the tables (Alembic ``upgrade head``); safe to run concurrently."""

    def ping(self) -> None:
        """Raise if the database cannot be reached."""

    def unwritable(self, min_free_bytes: int) -> str | None:
        """Why the store cannot take writes now (a full disk, a read-only database), or None."""

    def close(self) -> None: ...

    # -- ingest -----------------------------------------------------------------
    def insert_events(
        self, rows: Sequence[EventRow], segment: EventSegment | None = None
    ) -> set[str]:
        """Insert prediction events, ignoring known event ids; return the ids that were new.

        Each row holds the values of :data:`EVENT_COLUMNS` in that order (tuples
        are what the ingest hot path can build cheaply), or of :data:`INLINE_COLUMNS`
        (every row of the call the same length); all in one transaction,
        with ``segment`` (the rows' payloads, for rows whose ``segment_id`` names
        it) when any row was new.
        """

    def upsert_labels(self, rows: Sequence[Row]) -> list[tuple[str, str, int]]:
        """Upsert labels by (model, prediction_id); return (model, version, window_start)
        of the stored predictions they label (raw events or the prediction index)."""

    def match_labels(self, rows: Sequence[Row]) -> LabelMatch:
        """:meth:`upsert_labels`, also counting the labels that match no stored prediction."""

    def insert_feedback(self, rows: Sequence[Row]) -> int: ...

    def prediction_windows(
        self, model: str, prediction_ids: Sequence[str]
    ) -> dict[str, list[tuple[str, int]]]:
        """``{prediction_id: [(version, window_start), ...]}`` of the stored predictions of
        ``model`` among ``prediction_ids`` (unknown ids left out; shadows included)."""
        ...

    def feedback_of(
        self, model: str, version: str, start: int, end: int
    ) -> list[tuple[str | None, str, str]]:
        """``(event payload, kind, value JSON)`` of the feedback and KPI records of the
        served (not shadow) predictions of windows ``[start, end)``, and ``(None, kind,
        value)`` of the version's records sent without a prediction whose time is in it."""
        ...

    def upsert_job_runs(self, rows: Sequence[Row]) -> int: ...

    def owners(self, kind: str, ids: Sequence[str]) -> dict[str, str]:
        """``{id: owner}`` of stored records: the model of a prediction or feedback
        ``event_id`` (``kind`` "prediction", "feedback"), the project of a job run
        (``kind`` "job_run", ids ``job/run_id``). Unknown ids are left out."""

    # -- windows ----------------------------------------------------------------
    def save_partial(self, row: Row) -> None:
        """Insert or replace a replica's partial profile (by ``partial_id``)."""

    def mark_changed(self, keys: Iterable[WindowKey], at: float) -> None:
        """Bump the generation of each window so the evaluator looks at it again."""

    def pending_windows(self, closed_at: float, limit: int = 100) -> list[PendingWindow]:
        """Changed windows whose end is at or before ``closed_at``, oldest first."""

    def partials(self, model: str, version: str, start: int, end: int) -> list[Partial]: ...

    def uncovered_events(
        self,
        model: str,
        version: str,
        start: int,
        end: int,
        covered: Mapping[str, int] | None = None,
    ) -> list[str]:
        """Payloads of events in ``[start, end)`` that no saved partial includes yet.

        ``covered``: the ``{partial_id: covered_seq}`` of the partials the caller
        read (:meth:`partials`); the events those partials do not include are
        returned, whatever was saved since. Without it, the partials saved now:
        a replica saving a partial between the two reads would otherwise make
        the caller miss the events its new profile covers (neither read has them).
        """

    def labelled(self, model: str, version: str, start: int, end: int) -> list[tuple[str, str]]:
        """``(event payload, label JSON)`` of the labelled ok predictions in the range.

        Shadow predictions included: a label for a request applies to every
        version that scored it (served and shadow)."""

    def labelled_by_window(
        self, model: str, version: str, start: int, end: int
    ) -> dict[int, list[tuple[str, str]]]:
        """:meth:`labelled` grouped by the events' base window start (each window's rows
        in the order :meth:`labelled` gives them)."""

    def window_generations(
        self, model: str, version: str, window_size: int, start: int, end: int
    ) -> dict[int, int]:
        """Generation of each window of ``version`` of ``window_size`` starting in
        ``[start, end)``: it grows whenever the window's events or labels change."""

    def window_counts(
        self, model: str, start: float, end: float
    ) -> dict[tuple[str, int], tuple[int, int]]:
        """``(served, shadow)`` event counts per ``(version, window start)`` of ``model``
        for windows starting in ``[start, end)`` (:meth:`version_traffic` by window)."""

    def model_window_generations(
        self, model: str, window_size: int, start: float, end: float
    ) -> dict[tuple[str, int], int]:
        """:meth:`window_generations` of every version of ``model``, by (version, start)."""

    def event_counts(self, model: str, version: str, start: int, end: int) -> int: ...

    def version_traffic(self, model: str, start: float, end: float) -> dict[str, dict[str, Any]]:
        """Per version of ``model`` with events in windows ``[start, end)``: ``served`` and
        ``shadow`` event counts and ``first_window`` (the earliest window start)."""
        ...

    def mark_evaluated(self, key: WindowKey, generation: int, at: float) -> None: ...

    # -- results ----------------------------------------------------------------
    def upsert_metric_points(self, rows: Sequence[Row]) -> None: ...

    def metric_points(self, query: MetricQuery) -> list[dict[str, Any]]: ...

    def latest_points(
        self, window_size: int, metrics: Collection[str] = ()
    ) -> list[dict[str, Any]]:
        """The points of the latest evaluated window of each model version; with ``metrics``,
        the points of those metrics of the latest window that has any of them."""

    def latest_series(
        self, window_size: int, prefixes: Collection[str], since: float
    ) -> list[dict[str, Any]]:
        """All-traffic points of metrics starting with one of ``prefixes``: per model,
        version, metric and column, every point of the latest window since ``since`` in
        which it has a value (late signals: feedback, KPIs, slices)."""

    # -- models, versions, references -----------------------------------------------
    def claim_models(self, models: Iterable[str], project: str, at: float) -> dict[str, str]:
        """Create the models not stored yet, in ``project``; return every model's project."""

    def model_projects(self, models: Iterable[str]) -> dict[str, str]:
        """The project of each stored model among ``models``."""

    def ensure_version(self, model: str, version: str, at: float) -> None: ...

    def set_version_schema(self, model: str, version: str, schema: str) -> str:
        """Store the live-window schema unless one is set; return the one in force."""

    def replace_version_schema(self, model: str, version: str, schema: str) -> None: ...

    def version(self, model: str, version: str) -> dict[str, Any] | None: ...

    def update_version_meta(self, model: str, version: str, meta: str, at: float) -> None: ...

    def models(self, project: str | None = None) -> list[dict[str, Any]]:
        """Every model (of ``project``) with its project, versions and stored events of each."""

    def put_reference(
        self, model: str, version: str, profile: bytes, n_rows: int, at: float
    ) -> None: ...

    def reference(self, model: str, version: str) -> bytes | None: ...

    def job_runs(
        self, job: str | None, limit: int, project: str | None = None
    ) -> list[dict[str, Any]]: ...

    def sample_events(
        self, model: str, version: str | None, start: float | None, end: float | None, limit: int
    ) -> list[str]: ...

    def event_payloads(self, model: str, event_ids: Sequence[str]) -> dict[str, str]:
        """``event_id -> payload`` of the stored prediction events of ``model`` among
        ``event_ids`` (those purged by retention are absent)."""
        ...

    def feedback_for(
        self, model: str, prediction_ids: Sequence[str], kind: str
    ) -> list[dict[str, Any]]:
        """Feedback rows of ``kind`` for ``prediction_ids``, oldest received first:
        ``event_id``, ``prediction_id``, ``value`` (JSON), ``ts``, ``received_at``."""
        ...

    def request_feedback(
        self,
        model: str,
        version: str,
        start: float,
        end: float,
        lateness: float,
        limit: int,
        *,
        kinds: FeedbackKinds,
    ) -> list[dict[str, Any]]:
        """Feedback on the served requests of the window ``[start, end)`` of ``version``,
        whenever it was recorded (the window of the request it names, as for labels):
        ``kinds`` ``"judge"`` reads judge results (kinds ``judge.*``), ``"thumbs"`` user
        thumbs (kinds containing "thumb" in any case, judge results apart). Rows:
        ``prediction_id``, ``version`` (the request's), ``kind``, ``value`` (JSON),
        ``ts``, ``request_ts``, ``late`` (recorded more than ``lateness`` seconds after the
        request); the latest ``limit``."""
        ...

    # -- access ---------------------------------------------------------------------
    def create_key(self, row: Row) -> None: ...

    def key(self, key_id: str) -> dict[str, Any] | None: ...

    def api_keys(self) -> list[dict[str, Any]]: ...

    def revoke_key(self, key_id: str, at: float) -> bool: ...

    def audit(self, actor: str, action: str, target: str, detail: str, at: float) -> None: ...

    def audit_log(self, limit: int) -> list[dict[str, Any]]: ...

    # -- leases ---------------------------------------------------------------------
    def hold_lease(self, name: str, holder: str, now: float, ttl: float) -> bool:
        """Take or renew lease ``name`` for ``holder`` until ``now + ttl``; True when held.

        Renewing keeps ``acquired_at``; a lease held by another replica is taken only
        once it has expired. One winner when several try at once."""

    def release_lease(self, name: str, holder: str) -> None:
        """Give lease ``name`` up (if ``holder`` holds it): another replica takes it at once."""

    def lease(self, name: str) -> dict[str, Any] | None:
        """``{name, holder, acquired_at, expires_at}`` of lease ``name``, or None."""

    # -- retention ------------------------------------------------------------------
    def purge(self, before: float, label_before: float | None = None) -> dict[str, int]:
        """Delete raw events and feedback received before ``before``; keep aggregates.

        With ``label_before`` (the label horizon, earlier than ``before``) the ok
        predictions among the purged events move to the prediction index first, and
        labels and index rows are kept until ``label_before``; without it they go at
        ``before`` too."""
