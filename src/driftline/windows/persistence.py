"""Spike or shift: how many windows in a row a drift signal has lasted (docs/collector.md).

Each window's drift points (``drift_detected``, ``drift_score`` per column,
``multivariate_score`` per method, ``outlier_share``, ``seasonal_drift_detected``)
get ``details["persistence"]`` from the same series' point in the window before:

* ``run``: windows in a row, ending with this one, whose status is ``drift``
  (0 when this one is not);
* ``kind``: ``onset`` (drifting for fewer than ``shift_windows`` windows so far:
  not yet known whether it lasts), ``shift`` (drifting for ``shift_windows``
  windows or more), ``spike`` (this window is back to ``ok`` after a drift of
  fewer than ``shift_windows`` windows: the drift came and went), ``ended``
  (back to ``ok`` after a shift) or ``none``.

A window without a decision (status ``unknown`` or ``insufficient_data``), or
one with no point (no traffic), breaks the chain: a drift on both sides of a
silent window counts as two runs. The chain is read from the point stored for
the window before, so a window evaluated before its predecessor (late events)
is counted again when the predecessor's re-evaluation changes it only if it is
itself re-evaluated.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

import orjson

from driftline.windows.points import Points

#: Stored metrics whose status says whether the window drifted -> the name of their drift
#: flag in alert rules and ``/metrics`` (``labels['signal']`` of ``drift_shift``/``drift_spike``).
SIGNALS: Mapping[str, str] = MappingProxyType(
    {
        "drift_detected": "dataset_drift_detected",
        "drift_score": "drift_detected",
        "multivariate_score": "multivariate_drift_detected",
        "outlier_share": "outlier_share",
        "seasonal_drift_detected": "seasonal_drift_detected",
    }
)
TRACKED = frozenset(SIGNALS)
KINDS = ("none", "onset", "shift", "spike", "ended")


def _key(row: Mapping[str, Any]) -> tuple[str, str, str, str]:
    column, method = str(row["column"] or ""), str(row["method"] or "")
    return (str(row["segment"]), str(row["metric"]), column, method)


def _previous_run(row: Mapping[str, Any] | None) -> int:
    if row is None or row["status"] != "drift":
        return 0
    try:
        d = orjson.loads(row["details"] or "{}")
    except orjson.JSONDecodeError:
        return 1
    run = (d.get("persistence") or {}).get("run") if isinstance(d, dict) else None
    return int(run) if isinstance(run, int) and run > 0 else 1


def classify(status: str, previous_run: int, shift_windows: int) -> dict[str, Any] | None:
    """The persistence of a point of ``status`` after a run of ``previous_run`` drifted windows."""
    if status == "drift":
        run = previous_run + 1
        return {"run": run, "kind": "shift" if run >= shift_windows else "onset"}
    if status != "ok":
        return None
    kind = "none" if previous_run <= 0 else "spike" if previous_run < shift_windows else "ended"
    return {"run": 0, "kind": kind, "previous_run": previous_run}


def add_persistence(
    points: Points, previous: Iterable[Mapping[str, Any]], shift_windows: int
) -> None:
    """Add ``details["persistence"]`` to this window's tracked points.

    ``previous``: the stored points of the window just before (same model,
    version and window size).
    """
    before = {_key(r): r for r in previous if r["metric"] in TRACKED}
    for row in points.rows:
        if row["metric"] not in TRACKED:
            continue
        p = classify(str(row["status"]), _previous_run(before.get(_key(row))), shift_windows)
        if p is None:
            continue
        p["shift_windows"] = shift_windows
        details = orjson.loads(row["details"] or "{}")
        details["persistence"] = p
        row["details"] = orjson.dumps(details, option=orjson.OPT_SERIALIZE_NUMPY).decode()
