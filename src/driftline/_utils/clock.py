"""Injected time: every time-dependent class takes a clock; tests move a :class:`ManualClock`."""

from __future__ import annotations

import threading
import time as _time
from typing import Protocol


class WallClock(Protocol):
    """Wall time only: what windows and stores need to stamp and close periods."""

    def time(self) -> float:
        """Seconds since the Unix epoch (UTC)."""
        ...


class Clock(WallClock, Protocol):
    """Wall time for timestamps, a monotonic time for durations and deadlines."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back; only differences mean anything."""
        ...


class SystemClock:
    """The real clock: :func:`time.time` and :func:`time.perf_counter`."""

    time = staticmethod(_time.time)
    monotonic = staticmethod(_time.perf_counter)


class ManualClock:
    """A clock that moves only when told to; for tests."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._wall = start
        self._mono = 0.0
        self._lock = threading.Lock()

    def time(self) -> float:
        return self._wall

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        """Move both clocks forward by ``seconds``."""
        with self._lock:
            self._wall += seconds
            self._mono += seconds
