"""The time range of a page: ``?range=24h`` (and optionally ``&end=EPOCH``) in the URL.

The range picks the window size: the smallest configured size that gives at
most :data:`MAX_POINTS` windows, so a 30-day view reads hourly (or daily)
points, never 8,640 five-minute ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

RANGES: dict[str, int] = {
    "15m": 900,
    "1h": 3600,
    "6h": 6 * 3600,
    "24h": 86400,
    "7d": 7 * 86400,
    "30d": 30 * 86400,
}
DEFAULT_RANGE = "6h"
MAX_POINTS = 800


@dataclass(frozen=True)
class TimeRange:
    name: str
    start: float
    end: float
    window_size: int
    pinned: bool  # the URL fixes ``end`` (a shared link shows the same windows later)

    @property
    def seconds(self) -> int:
        return RANGES[self.name]

    def query(self, **extra: str | None) -> str:
        """The query string of this range plus ``extra`` (``None`` values left out)."""
        params: dict[str, str] = {"range": self.name}
        if self.pinned:
            params["end"] = str(int(self.end))
        params.update({k: v for k, v in extra.items() if v is not None})
        return urlencode(params)


def window_size_for(seconds: float, sizes: Sequence[int]) -> int:
    for s in sorted(sizes):
        if seconds / s <= MAX_POINTS:
            return s
    return max(sizes)


def fitting_range(now: float, since: float | None) -> str:
    """The default range: the smallest from 1 h to :data:`DEFAULT_RANGE` that holds
    everything since ``since`` (a new collector's first hour is not squeezed into the
    right edge of a 6 h chart), else :data:`DEFAULT_RANGE`."""
    if since is None:
        return DEFAULT_RANGE
    names = list(RANGES)
    for name in names[names.index("1h") : names.index(DEFAULT_RANGE) + 1]:
        if now - since <= RANGES[name]:
            return name
    return DEFAULT_RANGE


def parse_range(
    params: Mapping[str, str], now: float, sizes: Sequence[int], default: str = DEFAULT_RANGE
) -> TimeRange:
    """The range named in ``params`` (missing or unknown values: ``default``)."""
    name = params.get("range", default)
    if name not in RANGES:
        name = default if default in RANGES else DEFAULT_RANGE
    end, pinned = now, False
    raw = params.get("end")
    if raw:
        try:
            value = float(raw)
        except ValueError:
            value = float("nan")
        if 0 < value < 1e11:
            end, pinned = value, True
    seconds = RANGES[name]
    return TimeRange(name, end - seconds, end, window_size_for(seconds, sizes), pinned)


def range_around(t: float, sizes: Sequence[int], now: float) -> str:
    """A query string for a range showing time ``t`` with some context (alert links)."""
    for name, seconds in RANGES.items():
        if now - t <= seconds * 0.7:
            return urlencode({"range": name})
    end = int(t + RANGES["6h"] / 2)
    return urlencode({"range": "6h", "end": str(end)})
