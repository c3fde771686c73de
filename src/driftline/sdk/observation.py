"""The hot path: one observed prediction, as a context manager.

Entering starts the timer and marks the prediction in flight; leaving stops
the timer, notes the outcome and queues a reference to this object. Nothing is
copied, counted into histograms, serialised or redacted here: the shipper
thread does that. Do not mutate ``features`` after the block ends.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from driftline.sdk._ids import uuid7_hex
from driftline.sdk.llm import LLMCall, Retrieved
from driftline.sdk.metrics import BoundMetrics

if TYPE_CHECKING:
    from driftline.sdk.monitor import Monitor


class Observation:
    """One prediction being observed; returned by :meth:`Monitor.observe`."""

    __slots__ = (
        "_event_id",
        "_monitor",
        "_prediction_id",
        "_start",
        "bound",
        "error_type",
        "features",
        "latency",
        "llm",
        "prediction",
        "refused",
        "scores",
        "segment",
        "shadow",
        "status",
        "tags",
        "timestamp",
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

    @property
    def version(self) -> str:
        """The model version this prediction is counted under."""
        return self.bound.version

    @property
    def event_id(self) -> str:
        """This event's unique id (made on first read, else on the shipper thread)."""
        if self._event_id is None:
            self._event_id = uuid7_hex()
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
        retrieved: Iterable[Retrieved | tuple[str, float] | Mapping[str, Any]] | None = None,
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
        self.llm = LLMCall(
            query, query_embedding, retrieved, answer, cited, contexts, prompt_tokens,
            completion_tokens, llm_model, provider, stages, session_id,
        )  # fmt: skip

    def __enter__(self) -> Observation:
        try:
            self.bound.active.append(None)
            clock = self._monitor.clock
            self.timestamp = clock.time()
            self._start = clock.monotonic()
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
            self.latency = self._monitor.clock.monotonic() - self._start
            self.bound.active.pop()
            if exc_type is not None:
                self.status = "error"
                self.error_type = exc_type.__name__
            if self.refused is not None:
                self.bound.count_now(self.status, self.latency, self.error_type)
                self._monitor.refuse(self)
                return
            self._monitor.enqueue(self)
        except Exception:
            self._monitor.internal_error("observe.exit")

    async def __aenter__(self) -> Observation:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)


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
