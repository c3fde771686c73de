"""Injected time: every time-dependent SDK class takes a :class:`Clock`.

The clocks live in the neutral :mod:`driftline._utils.clock` (the alert engine
and the collector use the same ones); this module is their public SDK name.
"""

from __future__ import annotations

from driftline._utils.clock import Clock, ManualClock, SystemClock, WallClock

__all__ = ["Clock", "ManualClock", "SystemClock", "WallClock"]
