"""Window keys and the settings of live windows."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from driftline.errors import ConfigError
from driftline.store.base import WindowKey

ALL = "*"
OTHER = "__other__"


def window_start(ts: float, size: int) -> int:
    """Start (epoch seconds) of the window of ``size`` seconds that contains ``ts``."""
    return math.floor(ts / size) * size


@dataclass(frozen=True)
class WindowConfig:
    """How events are windowed; docs/collector.md explains each field.

    The one source of the window settings: ``collector.windows`` in
    driftline.yaml is built from these fields and defaults (server/config.py)
    and validated here, so a bad value is the same error from the file, the
    environment or Python.
    """

    #: fields tuned in code, not settings of ``collector.windows`` (sketch and buffer sizes)
    INTERNAL: ClassVar[frozenset[str]] = frozenset(
        {"reservoir_size", "fold_rows", "max_unknown_features"}
    )

    sizes: tuple[int, ...] = (300, 3600, 86400)
    grace_seconds: int = 60
    checkpoint_seconds: int = 60
    reservoir_size: int = 1000
    #: a fold is at most fold_rows + one request's events (max_batch_events, 10 000): under
    #: the quantile sketch's sample_above (65 536), so a fold keeps every value it is given
    fold_rows: int = 55_000
    segment_keys: tuple[str, ...] = ()
    max_segments: int = 20
    max_unknown_features: int = 100
    #: Without ``segment_keys``, traffic is split by up to this many of the keys the
    #: events' ``segment`` objects carry (first seen first, per window); 0: no split.
    auto_segment_keys: int = 3
    #: outlier model scored on every event (stats/outliers.py): "mahalanobis",
    #: "isolation_forest", or None for none; needs the version's reference
    outliers: str | None = "mahalanobis"
    #: outlier scores sent by the SDK (windows/prescored.py): "check" (taken after a spot
    #: check of a few per batch) or "rescore" (every pre-scored event scored again here)
    outlier_prescores: str = "check"
    #: a drift lasting this many windows in a row is a shift; one that ends sooner, a spike
    #: (windows/persistence.py)
    shift_windows: int = 3
    #: seasonal reference (windows/seasonal.py): each window against the same window of the
    #: past ``seasonal_history`` periods of this many seconds (86400: a day, 604800: a week)
    seasonal_period: int | None = None
    seasonal_history: int = 4

    def __post_init__(self) -> None:
        if self.outliers not in (None, "mahalanobis", "isolation_forest"):
            raise ConfigError(
                f"window outliers={self.outliers!r}; allowed: mahalanobis, isolation_forest, none"
            )
        if self.outlier_prescores not in ("check", "rescore"):
            raise ConfigError(
                f"window outlier_prescores={self.outlier_prescores!r}; allowed: check, rescore"
            )
        if not self.sizes or any(s <= 0 for s in self.sizes):
            raise ConfigError(f"window sizes={self.sizes!r}; allowed: positive seconds")
        base = min(self.sizes)
        bad = [s for s in self.sizes if s % base]
        if bad:
            raise ConfigError(
                f"window sizes={list(self.sizes)}: {bad} is not a multiple of the smallest "
                f"size {base}; allowed: multiples of the base window"
            )
        for name, least in (
            ("grace_seconds", 0), ("checkpoint_seconds", 1), ("reservoir_size", 1),
            ("fold_rows", 1), ("max_segments", 1), ("auto_segment_keys", 0),
            ("max_unknown_features", 0),
        ):  # fmt: skip
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ConfigError(f"window {name}={value!r}; allowed: a whole number >= {least}")
        if self.shift_windows < 1:
            raise ConfigError(f"window shift_windows={self.shift_windows}; allowed: 1 or more")
        if self.seasonal_history < 1:
            raise ConfigError(
                f"window seasonal_history={self.seasonal_history}; allowed: 1 or more"
            )
        if self.seasonal_period is not None and self.seasonal_period % min(self.sizes):
            raise ConfigError(
                f"window seasonal_period={self.seasonal_period}: not a multiple of the "
                f"base window {min(self.sizes)}; allowed: a multiple, e.g. 1d or 7d"
            )

    @property
    def base(self) -> int:
        return min(self.sizes)

    def keys_of(self, model: str, version: str, base_start: int) -> list[WindowKey]:
        """Every window (one per size) that contains the base window at ``base_start``."""
        return [WindowKey(model, version, s, window_start(base_start, s)) for s in self.sizes]

    def segments_of(
        self, segment: Mapping[str, Any] | None, known: Iterable[str] | None = None
    ) -> list[str]:
        """The segments an event with ``segment`` belongs to: all traffic, and one per
        split key. With ``known`` (the segments a window's profiles hold), the keys are
        those of ``known`` when none are configured, and a value without a segment of its
        own goes to ``key=__other__`` as it did in the profiles."""
        out = [ALL]
        if not segment:
            return out
        have = set(known) if known is not None else None
        keys: Iterable[str] = self.segment_keys
        if not keys and have is not None:
            keys = sorted({s.split("=", 1)[0] for s in have if s != ALL})
        for k in keys:
            v = segment.get(k)
            if v is None:
                continue
            name = f"{k}={v}"
            if have is not None and name not in have:
                name = f"{k}={OTHER}"
                if name not in have:
                    continue
            out.append(name)
        return out
