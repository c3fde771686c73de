"""Durations ("30s", "5m", "1h", "3d", "1w") and RFC 3339 times."""

from __future__ import annotations

import re
from datetime import datetime, timezone

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$")
#: Alertmanager's "no end" time for firing alerts in webhook payloads.
ZERO_TIME = "0001-01-01T00:00:00Z"


def parse_duration(text: str | float | int) -> float:
    """Seconds of a duration such as ``"5m"``; numbers are seconds. ValueError names the rule."""
    if isinstance(text, bool):
        raise ValueError("a duration is a number with a unit: 30s, 5m, 1h, 3d, 1w")
    if isinstance(text, int | float):
        if text < 0:
            raise ValueError("a duration cannot be negative")
        return float(text)
    m = _DURATION.match(text.strip())
    if m is None:
        raise ValueError("a duration is a number with a unit (ms, s, m, h, d, w), e.g. 5m or 1h")
    return float(m.group(1)) * _UNITS[m.group(2)]


def format_duration(seconds: float) -> str:
    """The shortest exact Prometheus-style duration: 300 -> "5m", 5400 -> "90m"."""
    if seconds <= 0:
        return "0s"
    for unit in ("w", "d", "h", "m", "s"):
        size = _UNITS[unit]
        if seconds >= size and float(seconds / size).is_integer():
            return f"{int(seconds / size)}{unit}"
    return f"{round(seconds * 1000)}ms"


def rfc3339(ts: float) -> str:
    """An epoch time as RFC 3339 UTC with milliseconds, e.g. 2026-01-02T03:04:05.000Z."""
    dt = datetime.fromtimestamp(ts, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"
