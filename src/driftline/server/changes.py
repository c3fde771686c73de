"""Recent changes around an alert: what changed for the model shortly before it fired.

:func:`recent_changes` lists, newest first, within ``lookback`` seconds before a
time: a version first seen (``versions.created_at``), a reference uploaded and
metadata changed (the audit log's ``version.reference`` / ``version.metadata``),
a runtime captured (``runtime.<role>.received_at`` in the version's metadata,
with the packages a major version apart between training and serving), the
traffic split changed (a version's share of the model's events moved by
:data:`SPLIT_STEP` or more between consecutive base windows, or a version
started or stopped taking traffic), and the collector's configuration loaded
(the audit log's ``collector.config``, written at start with the file's hash).

:class:`ChangeContext` is the alert engine's ``context_hook``: every alert's
context gets ``changes`` (docs/alerts.md, "Recent changes"), which the
notifiers send and the alert page lists.
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from typing import Any

import orjson

from driftline._utils.durations import rfc3339
from driftline.alerts import MetricPoint
from driftline.store.base import MetricQuery, Store
from driftline.windows import ALL

#: A version's share of traffic moving this much between windows is a split change.
SPLIT_STEP = 0.10
#: How far back an alert looks for changes.
LOOKBACK = 24 * 3600.0
#: Changes listed per alert, newest first.
MAX_CHANGES = 10


def _change(at: float, kind: str, version: str, text: str) -> dict[str, Any]:
    return {"at": at, "at_rfc3339": rfc3339(at), "kind": kind, "version": version, "text": text}


def recent_changes(
    store: Store, model: str, until: float, *, window_size: int, lookback: float = LOOKBACK
) -> list[dict[str, Any]]:
    """The changes to ``model`` in ``(until - lookback, until]``, newest first."""
    from sqlalchemy import select

    from driftline.store.tables import versions

    since = until - lookback
    out: list[dict[str, Any]] = []
    v = versions.c
    engine = store.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        rows = list(conn.execute(select(v.version, v.created_at, v.meta).where(v.model == model)))
    for version, created, meta in rows:
        if since < created <= until:
            out.append(_change(created, "version_first_seen", version,
                               f"version {version} first seen"))  # fmt: skip
        try:
            parsed = orjson.loads(meta or "{}")
        except orjson.JSONDecodeError:
            parsed = {}
        runtime = parsed.get("runtime") if isinstance(parsed, dict) else None
        for role, rt in (runtime or {}).items() if isinstance(runtime, dict) else ():
            at = rt.get("received_at") if isinstance(rt, dict) else None
            if isinstance(at, int | float) and since < at <= until:
                out.append(_change(float(at), "runtime_changed", version,
                                   f"{role} runtime of {version} captured"))  # fmt: skip
    for row in store.audit_log(1000):
        at, action, target = float(row["ts"]), str(row["action"]), str(row["target"])
        if not since < at <= until:
            continue
        if action in ("version.reference", "version.metadata") and target.startswith(f"{model}/"):
            version = target.split("/", 1)[1]
            kind, what = (
                ("reference_uploaded", f"reference of {version} uploaded")
                if action == "version.reference"
                else ("metadata_changed", f"metadata of {version} changed by {row['actor']}")
            )
            out.append(_change(at, kind, version, what))
        elif action == "collector.config":
            out.append(_change(at, "config_loaded", "", f"collector configuration loaded "
                               f"({row['detail']})"))  # fmt: skip
    out += _split_changes(store, model, since, until, window_size)
    out.sort(key=lambda c: (-c["at"], c["kind"], c["version"]))
    return out[:MAX_CHANGES]


def _split_changes(
    store: Store, model: str, since: float, until: float, window_size: int
) -> list[dict[str, Any]]:
    rows = store.metric_points(
        MetricQuery(model=model, metric="events", segment=ALL, window_size=window_size,
                    start=since - window_size, end=until, limit=100_000)
    )  # fmt: skip
    per: dict[float, dict[str, float]] = defaultdict(dict)
    for r in rows:
        if r["value"] is not None and math.isfinite(r["value"]):
            per[float(r["window_start"])][str(r["version"])] = float(r["value"])
    out: list[dict[str, Any]] = []
    before: dict[str, float] | None = None
    for ws in sorted(per):
        total = sum(per[ws].values())
        share = {k: x / total for k, x in per[ws].items()} if total > 0 else {}
        if before is not None and ws > since:
            moved = [
                (k, before.get(k, 0.0), share.get(k, 0.0))
                for k in sorted(set(before) | set(share))
                if abs(share.get(k, 0.0) - before.get(k, 0.0)) >= SPLIT_STEP
                or (k in share) != (k in before)
            ]
            if moved:
                text = "traffic split changed: " + ", ".join(
                    f"{k} {a:.0%} -> {b:.0%}" for k, a, b in moved
                )
                out.append(_change(ws, "traffic_split_changed", moved[0][0], text))
        before = share
    return out


class ChangeContext:
    """The engine's ``context_hook``: ``{"changes": [...]}`` for a point's model, cached per
    model and window (every rule breaching on one window asks once)."""

    def __init__(self, store: Store, window_size: int) -> None:
        self.store = store
        self.window_size = window_size
        self._cache: dict[tuple[str, float], list[dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def __call__(self, p: MetricPoint) -> dict[str, Any]:
        if not p.model:
            return {}
        key = (p.model, p.window_end)
        with self._lock:
            hit = self._cache.get(key)
        if hit is None:
            hit = recent_changes(self.store, p.model, p.window_end, window_size=self.window_size)
            with self._lock:
                if len(self._cache) > 256:
                    self._cache.clear()
                self._cache[key] = hit
        return {"changes": hit}


__all__ = ["ChangeContext", "recent_changes"]
