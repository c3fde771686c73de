"""Stages inside one prediction: ``with obs.stage("retrieve"): ...`` (docs/sdk.md, "Stages").

A :class:`Stage` times one part of a prediction (embedding, retriever, reranker,
model, generator) and notes its outcome; the finished stages ride inside the
prediction's event as ``stages``. The hot path makes one small object and does
two clock reads per stage, and links the finished stage to the one kept before
it (no list is grown per prediction); names are checked and attributes redacted on the
shipper thread (:func:`encode_stages`).

Odd input never fails the service:

- a name that is not 1 to 64 characters of letters, digits and ``_.:-`` is
  rewritten (other characters become ``_``, cut at 64, empty becomes
  ``unnamed``) and counted in ``driftline_sdk_stage_problems_total{problem="renamed"}``;
- a stage still open when its prediction ends (entered by hand and never
  left, or left open by an exception that skipped its ``__exit__``) is closed
  at the prediction's end with status ``unclosed`` (``problem="unclosed"``);
- a stage ended after its prediction was queued is ignored (``problem="late"``);
- beyond :data:`MAX_STAGES` stages in one prediction the rest are dropped
  (``problem="too_many"``).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from driftline.sdk._async import AsyncWith

if TYPE_CHECKING:
    from driftline.sdk.observation import Observation

#: Stages kept per prediction; later ones are dropped and counted.
MAX_STAGES = 64
#: Attributes kept per stage (scalars only; nested values become their text).
MAX_ATTRIBUTES = 16
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
_BAD = re.compile(r"[^A-Za-z0-9_.:-]")
#: Stage problems counted by the SDK (``driftline_sdk_stage_problems_total``).
PROBLEMS = ("renamed", "unclosed", "late", "too_many", "outside")


class Stage(AsyncWith):
    """One timed part of a prediction; a context manager (also ``start()`` / ``end()``)."""

    __slots__ = (
        "_end",
        "_obs",
        "_start",
        "attributes",
        "error_type",
        "name",
        "parent",
        "prev",
        "status",
        "usage",
    )

    def __init__(self, obs: Observation, name: Any, attributes: dict[str, Any] | None) -> None:
        self._obs = obs
        self.name = name
        self.attributes = attributes
        self.status = "ok"
        self.error_type: str | None = None
        self.usage: dict[str, Any] | None = None
        # set on entry: parent (the enclosing stage), _start; on exit: _end; once kept:
        # prev (the stage its prediction kept before it)

    @property
    def latency(self) -> float:
        """Seconds the stage took (once it ended)."""
        return self._end - self._start

    def __enter__(self) -> Stage:
        obs = self._obs
        self.parent: Stage | None = obs.current_stage
        obs.current_stage = self
        self._start: float = obs.monotonic()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        obs = self._obs
        self._end: float = obs.monotonic()
        if exc_type is not None:
            self.status = "error"
            self.error_type = exc_type.__name__
        if obs.current_stage is self and obs._n_stages < MAX_STAGES and not obs.done:
            obs.current_stage = self.parent  # Observation.end_stage's common case, inline
            self.prev: Stage | None = obs._last_stage
            obs._last_stage = self
            obs._n_stages += 1
        else:
            obs.end_stage(self)

    def start(self) -> Stage:
        """Start timing (for code that cannot use ``with``); pair with :meth:`end`."""
        return self.__enter__()

    def end(self, error: BaseException | type[BaseException] | None = None) -> None:
        """Stop timing; ``error`` marks the stage failed with that exception's type."""
        kind = error if isinstance(error, type) or error is None else type(error)
        self.__exit__(kind, None, None)

    def set(self, **attributes: Any) -> None:
        """Add attributes (small scalars: sizes, counts, names) to this stage."""
        if self.attributes is None:
            self.attributes = attributes
        else:
            self.attributes.update(attributes)

    def record_usage(
        self,
        *,
        model: str | None = None,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        provider: str | None = None,
        operation: str | None = None,
    ) -> None:
        """Token usage of an LLM call made in this stage (cost, OpenTelemetry GenAI spans)."""
        self.usage = {
            "model": model,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "provider": provider,
            "operation": operation,
        }


def stage_decorator(
    monitor: Any, name: str, attributes: Mapping[str, Any] | None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``@mon.stage(name)``: time every call of the function as a stage of the current
    prediction (the innermost ``observe()`` block of this thread or task); calls made
    outside any ``observe()`` run untimed (counted as ``problem="outside"``)."""
    import functools
    import inspect

    from driftline.sdk.observation import current_observation

    monitor.track_current = True
    attrs = dict(attributes) if attributes else None

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                obs = current_observation.get()
                if obs is None:
                    monitor.stage_problem("outside")
                    return await fn(*args, **kwargs)
                with Stage(obs, name, dict(attrs) if attrs else None):
                    return await fn(*args, **kwargs)

            return async_wrapper

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            obs = current_observation.get()
            if obs is None:
                monitor.stage_problem("outside")
                return fn(*args, **kwargs)
            with Stage(obs, name, dict(attrs) if attrs else None):
                return fn(*args, **kwargs)

        return wrapper

    return decorate


# -- shipper thread -------------------------------------------------------------------


#: name -> (name as sent, whether it was rewritten), for the names seen so far
_names: dict[Any, tuple[str, bool]] = {}


def stage_name(name: Any, on_problem: Callable[[str], None]) -> str:
    """``name`` as sent: kept when valid, else rewritten (and ``renamed`` counted)."""
    try:
        known = _names.get(name)
    except TypeError:  # an unhashable name
        known = None
    if known is None:
        text = name if isinstance(name, str) else str(name)
        if NAME_RE.fullmatch(text):
            known = (text, False)
        else:
            known = (_BAD.sub("_", text).lstrip("_.:-")[:64] or "unnamed", True)
        if len(_names) < 4096:
            with contextlib.suppress(TypeError):  # an unhashable name is not cached
                _names[name] = known
    if known[1]:
        on_problem("renamed")
    return known[0]


def _scalar(value: Any) -> Any:
    if value is None or type(value) in (str, int, float, bool):
        return value
    return str(value)[:256]


def encode_stages(
    stages: list[Stage],
    started: float,
    redact: Callable[[Mapping[str, Any]], Mapping[str, Any] | None] | None,
    on_problem: Callable[[str], None],
) -> list[dict[str, Any]]:
    """The ``stages`` field of a prediction event, in start order.

    ``started``: the prediction's monotonic start (offsets are relative to it);
    ``redact``: the privacy policy for attributes (scope ``tags``).
    """
    out = []
    index: dict[int, int] = {}
    ordered = sorted(stages, key=lambda s: s._start)
    for i, st in enumerate(ordered):
        index[id(st)] = i
    for st in ordered:
        record: dict[str, Any] = {
            "name": stage_name(st.name, on_problem),
            "start_ms": max(0.0, (st._start - started) * 1000.0),
            "latency_ms": st.latency * 1000.0,
            "status": st.status,
        }
        if st.error_type is not None:
            record["error_type"] = st.error_type
        if st.parent is not None and id(st.parent) in index:
            record["parent"] = index[id(st.parent)]
        if st.attributes:
            attrs = {
                str(k)[:64]: _scalar(v) for k, v in list(st.attributes.items())[:MAX_ATTRIBUTES]
            }
            record["attributes"] = dict(redact(attrs) or {}) if redact is not None else attrs
        if st.usage is not None:
            record["usage"] = {k: v for k, v in st.usage.items() if v is not None}
        out.append(record)
    return out
