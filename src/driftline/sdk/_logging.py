"""A rate-limited logger, so a broken collector cannot flood the service's logs."""

from __future__ import annotations

import logging

from driftline.sdk.clock import Clock

logger = logging.getLogger("driftline.sdk")


class RateLimitedLog:
    """Logs the first message per key, then at most one per ``interval`` seconds."""

    def __init__(self, clock: Clock, interval: float = 60.0) -> None:
        self._clock = clock
        self._interval = interval
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def warning(self, key: str, message: str, *args: object, exc_info: bool = False) -> bool:
        """Log ``message`` under ``key`` unless one was logged recently; True if logged."""
        now = self._clock.monotonic()
        last = self._last.get(key)
        if last is not None and now - last < self._interval:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return False
        self._last[key] = now
        skipped = self._suppressed.pop(key, 0)
        suffix = f" ({skipped} similar messages suppressed)" if skipped else ""
        logger.warning(message + suffix, *args, exc_info=exc_info)
        return True
