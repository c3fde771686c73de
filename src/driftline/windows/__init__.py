"""Window keys, live window profiles and the evaluator.

A prediction event belongs to the *base window* that contains its timestamp
(event time, not arrival time). Each collector process keeps one
:class:`LivePartial` per (model, version, base window) it has seen events for:
a :class:`WindowStats` per segment (``"*"`` for all traffic, ``"region=eu"``
for configured segment keys), i.e. a :class:`~driftline.stats.profile.DatasetProfile`
plus operational counters. Memory is bounded: profiles have fixed-size
sketches and reservoirs, and rows wait, as Arrow columns, in a buffer of at
most ``fold_rows`` before they are folded in.

Exactly once, with crashes: every stored event records the ``partial_id`` and
``seq`` (ingest batch number) of the live partial it was folded into. A saved
partial records ``covered_seq``, the last batch its profile includes. The
evaluator merges the saved partials of all replicas and folds, from the raw
events, whatever no saved partial covers (batches after a replica's last
checkpoint, or the whole partial of a replica that died). The result does not
depend on which replica received which event, nor on whether one crashed.

Larger windows (1 h, 1 day) are merges of the base windows they contain.

Modules: :mod:`~driftline.windows.config` (keys, settings),
:mod:`~driftline.windows.columns` (events as Arrow columns),
:mod:`~driftline.windows.stats` (the per-segment accumulator),
:mod:`~driftline.windows.live` (this process's partials),
:mod:`~driftline.windows.evaluator` and :mod:`~driftline.windows.points`
(metric points).
"""

from __future__ import annotations

from driftline._utils.clock import WallClock as Clock
from driftline.windows.columns import (
    EventBlock,
    events_table,
    infer_schema,
    schema_from_json,
    schema_to_json,
)
from driftline.windows.config import ALL, OTHER, WindowConfig, window_start
from driftline.windows.evaluator import Evaluator, EvaluatorOptions
from driftline.windows.labelled import performance_results
from driftline.windows.live import LivePartial, LiveWindows
from driftline.windows.stats import FORMAT_VERSION, WindowStats, pack_segments, unpack_segments

__all__ = [
    "ALL",
    "FORMAT_VERSION",
    "OTHER",
    "Clock",
    "Evaluator",
    "EvaluatorOptions",
    "EventBlock",
    "LivePartial",
    "LiveWindows",
    "WindowConfig",
    "WindowStats",
    "events_table",
    "infer_schema",
    "pack_segments",
    "performance_results",
    "schema_from_json",
    "schema_to_json",
    "unpack_segments",
    "window_start",
]
