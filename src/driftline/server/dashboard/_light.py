"""A lighter read of metric points for charts: only the columns a page draws.

:meth:`Store.metric_points` returns whole rows (13 columns, ``details`` JSON
included); a 30-day page reads tens of thousands of points, and building
those dicts is most of its time. For stores on SQLAlchemy (both engines),
this selects just ``window_start, column, method, value, status, n`` through
the same table definition; any other store falls back to ``metric_points``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from driftline.store.base import MetricQuery, Store


class Light(NamedTuple):
    window_start: int
    column: str
    method: str
    value: float | None
    status: str
    n: int
    segment: str


def light_points(
    store: Store,
    *,
    model: str,
    version: str,
    metric: str,
    window_size: int,
    start: float,
    end: float,
    segment: str | None = "*",
    column: str | None = None,
) -> list[Light]:
    engine: Any = getattr(store, "engine", None)
    if engine is None:
        q = MetricQuery(model, version, segment, metric, column, window_size, start, end, 500_000)
        return [
            Light(
                p["window_start"],
                p["column"],
                p["method"],
                p["value"],
                p["status"],
                p["n"],
                p["segment"],
            )
            for p in store.metric_points(q)
        ]
    from sqlalchemy import select

    from driftline.store.tables import metric_points as t

    m = t.c
    conds = [
        m.model == model,
        m.metric == metric,
        m.window_size == window_size,
        m.window_start >= start,
        m.window_start < end,
        m.version == version,
    ]
    if segment is not None:
        conds.append(m.segment == segment)
    if column is not None:
        conds.append(m.column == column)
    sel = (
        select(m.window_start, m.column, m.method, m.value, m.status, m.n, m.segment)
        .where(*conds)
        .order_by(m.window_start)
    )
    with engine.connect() as conn:
        return [Light(*r) for r in conn.execute(sel)]
