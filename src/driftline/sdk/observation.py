"""The hot path: one observed prediction, as a context manager.

Entering starts the timer and marks the prediction in flight; leaving stops
the timer, notes the outcome and queues a reference to this object. Nothing is
copied, counted into histograms, serialised or redacted here: the shipper
thread does that. Do not mutate ``features`` after the block ends.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar, Token
from types import TracebackType
from typing import TYPE_CHECKING, Any

from driftline.sdk._async import AsyncWith
from driftline.sdk._ids import uuid7_hex
from driftline.sdk.metrics import BoundMetrics
from driftline.sdk.stages import MAX_STAGES, Stage

#: Serialises the first assignment of an event id (service thread vs shipper thread).
_ID_LOCK = threading.Lock()

if TYPE_CHECKING:
    from driftline.sdk.llm import LLMCall, Retrieved
    from driftline.sdk.monitor import Monitor

_new = object.__new__

#: The innermost observation of this thread or task, set only once a ``@mon.stage``
#: decorator exists (it is how the decorator finds its prediction).
current_observation: ContextVar[Observation | None] = ContextVar(
    "driftline_observation", default=None
)


class Observation(AsyncWith):
    """One prediction being observed; returned by :meth:`Monitor.observe`."""

    __slots__ = (
        "_event_id",
        "_last_stage",
        "_monitor",
        "_n_stages",
        "_prediction_id",
        "_start",
        "_token",
        "bound",
        "current_stage",
        "done",
        "error",
        "error_type",
        "features",
        "latency",
        "llm",
        "monotonic",
        "prediction",
        "refused",
        "scores",
        "segment",
        "shadow",
        "status",
        "tags",
        "timestamp",
        "trace",
    )

    def __init__(
        self,
        monitor: Monitor,
        bound: BoundMetrics,
        features: Any,
        segment: Any,
        tags: dict[str, Any] | None,
        prediction_id: str | None,
        shadow: bool,
    ) -> None:
        self._monitor = monitor
        self.bound = bound
        self.features = features
        self.segment = segment
        self.tags = tags
        self._prediction_id = prediction_id
        self._event_id: str | None = None
        self.shadow = shadow
        self.prediction: Any = None
        self.scores: Any = None
        self.status = "ok"
        self.error_type: str | None = None
        self.timestamp = 0.0
        self.latency = 0.0
        self._start = 0.0
        self.refused: str | None = None  # why the event is not sent (Monitor.observe)
        self.llm: LLMCall | None = None
        self.monotonic: Callable[[], float] = monitor.monotonic
        #: the stages kept so far, as a chain: the last one ended, each linked to the one
        #: ended before it (``Stage.prev``); read them with :attr:`stages`
        self._last_stage: Stage | None = None
        self._n_stages = 0
        self.current_stage: Stage | None = None
        self.done = False
        #: the exception's fingerprint material (sdk/fingerprint.py), on failure only
        self.error: Any = None
        #: the OpenTelemetry parent context (the ``otel`` extra), else None
        self.trace: Any = None
        self._token: Token[Observation | None] | None = None

    @property
    def start(self) -> float:
        """The monotonic clock reading when the prediction started."""
        return self._start

    @property
    def stages(self) -> list[Stage] | None:
        """The stages kept so far in the order they ended (None when there is none)."""
        st = self._last_stage
        if st is None:
            return None
        out = []
        while st is not None:
            out.append(st)
            st = st.prev
        out.reverse()
        return out

    @property
    def version(self) -> str:
        """The model version this prediction is counted under."""
        return self.bound.version

    @property
    def event_id(self) -> str:
        """This event's unique id (made on first read, else on the shipper thread)."""
        if self._event_id is None:
            self.assign_event_id(uuid7_hex)
        return self._event_id  # type: ignore[return-value]

    def assign_event_id(self, make: Callable[[], str]) -> str:
        """The event id, made by ``make`` if it has none yet: once, whichever thread asks
        first (the service reading ``prediction_id`` or the shipper encoding the event)."""
        with _ID_LOCK:
            if self._event_id is None:
                self._event_id = make()
            return self._event_id

    @property
    def prediction_id(self) -> str:
        """The correlation id to send labels and feedback for; defaults to the event id."""
        if self._prediction_id is None:
            self._prediction_id = self.event_id
        return self._prediction_id

    def event_id_or_none(self) -> str | None:
        return self._event_id

    def prediction_id_or_none(self) -> str | None:
        return self._prediction_id

    def record(self, prediction: Any = None, scores: Any = None, **tags: Any) -> None:
        """Attach the model's output (and extra tags) to this event."""
        self.prediction = prediction
        self.scores = scores
        if tags:
            if self.tags is None:
                self.tags = tags
            else:
                self.tags = {**self.tags, **tags}

    def record_llm(
        self,
        *,
        query: str | bytes | None = None,
        answer: str | bytes | None = None,
        retrieved: Iterable[Retrieved | tuple[Any, ...] | Mapping[str, Any]] | None = None,
        query_embedding: Any = None,
        cited: Iterable[str] | None = None,
        contexts: Iterable[str | bytes] | None = None,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
        llm_model: str | None = None,
        provider: str | None = None,
        stages: Mapping[str, float] | None = None,
        session_id: str | None = None,
    ) -> None:
        """Attach one LLM / RAG request (docs/llm.md): the query (text and/or embedding), the
        retrieved items with their similarity scores and ids (``(id, score)`` pairs,
        :class:`Retrieved` or mappings), the answer, the ids the answer cites, token counts,
        the LLM's model and provider, seconds per stage and the user's session.

        Only references are kept here; everything is read on the shipper thread, where
        bad values (non-UTF-8 text, a NaN score) are left out and named, never raised.
        """
        from driftline.sdk.llm import LLMCall  # LLM services only: not loaded with the SDK

        self.llm = LLMCall(
            query, query_embedding, retrieved, answer, cited, contexts, prompt_tokens,
            completion_tokens, llm_model, provider, stages, session_id,
        )  # fmt: skip

    def stage(self, name: str, **attributes: Any) -> Stage:
        """A context manager timing one part of this prediction (docs/sdk.md, "Stages")."""
        # Stage(self, name, attributes or None), inline: one Python call less per stage
        # (tests/sdk/test_stages.py checks that both build the same object)
        st = _new(Stage)
        st._obs = self
        st.name = name
        st.attributes = attributes or None
        st.status = "ok"
        st.error_type = None
        st.usage = None
        return st

    def end_stage(self, stage: Stage) -> None:
        """Called when ``stage`` ends: keep it, closing any inner stage left open."""
        if self.done:
            self._monitor.stage_problem("late")
            return
        current = self.current_stage
        if current is not stage and not self._close_open(stage):
            self._monitor.stage_problem("late")  # ended twice, or never started
            return
        self.current_stage = stage.parent
        if self._n_stages < MAX_STAGES:
            stage.prev = self._last_stage
            self._last_stage = stage
            self._n_stages += 1
        else:
            self._monitor.stage_problem("too_many")

    def _close_open(self, until: Stage | None) -> bool:
        """Close the open stages inside ``until`` (all when None) as ``unclosed``.

        False when ``until`` is not open (then nothing is closed)."""
        chain = []
        st = self.current_stage
        while st is not None and st is not until:
            chain.append(st)
            st = st.parent
        if st is not until:
            return False
        now = self.monotonic()
        for st in chain:
            st._end = now
            st.status = "unclosed"
            self._monitor.stage_problem("unclosed")
            self.current_stage = st
            self.end_stage(st)
        self.current_stage = until
        return True

    def __enter__(self) -> Observation:
        try:
            monitor = self._monitor
            self.bound.active.append(None)
            self.timestamp = monitor.wall()
            if monitor.track_current:
                self._token = current_observation.set(self)
            if monitor.otel is not None:
                self.trace = monitor.otel.parent()
            self._start = self.monotonic()
        except Exception:
            self._monitor.internal_error("observe.enter")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.latency = self.monotonic() - self._start
            self.bound.active.pop()
            if self.current_stage is not None:
                self._close_open(None)
            self.done = True
            if self._token is not None:
                current_observation.reset(self._token)
                self._token = None
            if exc_type is not None:
                self.status = "error"
                self.error_type = exc_type.__name__
                if exc is not None:
                    self.error = capture(exc)
            if self.refused is not None:
                self.bound.count_now(self.status, self.latency, self.error_type)
                self._monitor.refuse(self)
                return
            # Monitor.enqueue's common case, inline (the hot path's last step)
            monitor = self._monitor
            queue = monitor._queue
            if len(queue) < monitor._room:  # 0 once closed: enqueue() counts the drop
                queue.append(self)
                if len(queue) >= monitor._wake_at:
                    monitor._wake.set()
            else:
                monitor.enqueue(self)
        except Exception:
            self._monitor.internal_error("observe.exit")


def capture(exc: BaseException) -> Any:
    """The stack of ``exc`` as (module, function, line) frames: no locals are read."""
    from driftline.sdk.fingerprint import capture_frames

    return capture_frames(exc)


def table_rows(features: Any) -> int | None:
    """The number of rows of a DataFrame, Arrow table or 2-D array; None for anything else."""
    mod = type(features).__module__.partition(".")[0]
    if mod in ("pandas", "polars") and hasattr(features, "columns"):
        return len(features)
    if mod == "pyarrow" and hasattr(features, "num_rows"):
        return int(features.num_rows)
    if mod == "numpy" and getattr(features, "ndim", 1) == 2:
        return int(features.shape[0])
    return None


def first_row(features: Any) -> Any:
    """The only row of a one-row table as a mapping (a 2-D array's as a list)."""
    mod = type(features).__module__.partition(".")[0]
    if mod == "pandas":
        return features.iloc[0].to_dict()
    if mod == "polars":
        return features.row(0, named=True)
    if mod == "pyarrow":
        return features.slice(0, 1).to_pylist()[0]
    return features[0].tolist()
