"""Seasonal references: a window against the same period of past days or weeks (docs/collector.md).

With ``windows.seasonal_period`` (a day or a week) the evaluator builds, for
each window of all traffic, a reference from the windows that started exactly
1, 2, ..., ``seasonal_history`` periods before it (Tuesday 10:00 against the
past Tuesdays 10:00 with a week): their profiles, merged from the partials the
collector already saved (and any raw events no partial covers), so nothing is
kept beyond what windows keep. The window is compared with that reference as
with the version's reference (same drift methods and dataset rule) and gets a
``seasonal_drift_detected`` point:

* value 1 (status ``drift``) when the window differs from its own season; 0
  (``ok``) when it does not; none (``insufficient_data``) when fewer than
  ``SEASONAL_MIN_PERIODS`` past periods had traffic or their rows are fewer
  than ``SEASONAL_MIN_ROWS`` (the reason is in ``details``);
* ``details.kind``: ``recurring`` (the window drifts from the version's
  reference but not from its season: the same happened in this period
  before), ``new`` (it differs from its season), ``none``.

The window's ``drift_detected`` point gets the same ``details.seasonal``
kind, so a dashboard or a rule can tell recurring drift from new. A lasting
change becomes part of the season once it fills the history (after
``seasonal_history`` periods it is no longer new).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson

from driftline.errors import InputError
from driftline.report.compare import build_report
from driftline.stats.drift.rules import DriftOptions
from driftline.stats.quality import QualityThresholds
from driftline.store.base import WindowKey
from driftline.windows.config import ALL
from driftline.windows.points import Points
from driftline.windows.stats import WindowStats

#: Past periods with traffic a seasonal reference needs.
SEASONAL_MIN_PERIODS = 2
#: Rows a seasonal reference needs.
SEASONAL_MIN_ROWS = 50


def seasonal_keys(key: WindowKey, period: int, history: int) -> list[WindowKey]:
    """The same window ``1..history`` periods back (none when the window does not fit a period)."""
    if key.window_size >= period or period % key.window_size:
        return []
    return [
        WindowKey(key.model, key.version, key.window_size, key.window_start - k * period)
        for k in range(1, history + 1)
    ]


def seasonal_point(
    points: Points,
    key: WindowKey,
    current: WindowStats,
    collect: Callable[[WindowKey], Mapping[str, WindowStats]],
    period: int,
    history: int,
    drift: DriftOptions,
    quality: QualityThresholds,
) -> None:
    """Add the window's ``seasonal_drift_detected`` point (all traffic); see the module doc."""
    keys = seasonal_keys(key, period, history)
    if not keys or not current.profile.n_rows:
        return
    merged: WindowStats | None = None
    used: list[int] = []
    for k in keys:
        st = collect(k).get(ALL)
        if st is None:
            continue
        st.fold()
        if not st.profile.n_rows:
            continue
        try:
            merged = st if merged is None else merged.merge(st)
        except InputError:
            continue  # a window from before the version's columns changed
        used.append(k.window_start)
    n_ref = merged.profile.n_rows if merged is not None else 0
    static = _static_verdict(points)
    base: dict[str, Any] = {"periods": sorted(used), "n_reference": n_ref, "period": period}
    if merged is None or len(used) < SEASONAL_MIN_PERIODS or n_ref < SEASONAL_MIN_ROWS:
        base["reason"] = (
            f"{len(used)} past period(s) with traffic and {n_ref} rows; a seasonal reference "
            f"needs {SEASONAL_MIN_PERIODS} periods and {SEASONAL_MIN_ROWS} rows"
        )
        points.add(
            ALL, "seasonal_drift_detected", None, status="insufficient_data",
            n=current.profile.n_rows, details=base,
        )  # fmt: skip
        return
    report = build_report(merged.profile, current.profile, drift, quality).to_dict()
    ds = report["dataset"]
    if ds.get("verdict") == "insufficient_data":
        base["reason"] = ds.get("reason")
        points.add(
            ALL, "seasonal_drift_detected", None, status="insufficient_data",
            n=ds["n_current"], details=base,
        )  # fmt: skip
        return
    drifted = bool(ds["drifted"])
    kind = "new" if drifted else ("recurring" if static else "none")
    points.add(
        ALL,
        "seasonal_drift_detected",
        1.0 if drifted else 0.0,
        status="drift" if drifted else "ok",
        n=ds["n_current"],
        details={**base, "kind": kind, "drifted_columns": ds["drifted_columns"]},
    )
    _mark_static(points, kind)


def _static_row(points: Points) -> dict[str, Any] | None:
    for row in points.rows:
        if row["metric"] == "drift_detected" and row["segment"] == ALL and not row["column"]:
            return row
    return None


def _static_verdict(points: Points) -> bool:
    row = _static_row(points)
    return row is not None and row["status"] == "drift"


def _mark_static(points: Points, kind: str) -> None:
    row = _static_row(points)
    if row is None:
        return
    details = orjson.loads(row["details"] or "{}")
    details["seasonal"] = kind
    row["details"] = orjson.dumps(details, option=orjson.OPT_SERIALIZE_NUMPY).decode()
