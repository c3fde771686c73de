"""Metric points: the results part of :class:`~driftline.store.sql.SQLStore`."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import and_, func, or_, select

from driftline.store import tables as t
from driftline.store.base import MetricQuery, Row
from driftline.store.sql_base import SQLBase


class MetricPointQueries(SQLBase):
    """The evaluator's metric points: upserts and the dashboard's and alerts' reads."""

    # -- results ----------------------------------------------------------------------
    def upsert_metric_points(self, rows: Sequence[Row]) -> None:
        if not rows:
            return
        ins = self._insert(t.metric_points)
        keys = [c.name for c in t.metric_points.primary_key.columns]
        cols = [c.name for c in t.metric_points.c if c.name not in keys]
        stmt = ins.on_conflict_do_update(
            index_elements=keys, set_={c: ins.excluded[c] for c in cols}
        )
        with self.engine.begin() as conn:
            conn.execute(stmt, list(rows))

    def metric_points(self, query: MetricQuery) -> list[dict[str, Any]]:
        m = t.metric_points.c
        conds = []
        for name in ("model", "version", "segment", "metric", "column", "method", "window_size"):
            value = getattr(query, name)
            if value is not None:
                conds.append(m[name] == value)
        if query.start is not None:
            conds.append(m.window_start >= query.start)
        if query.end is not None:
            conds.append(m.window_start < query.end)
        if query.project is not None:
            mo = t.models.c
            conds.append(m.model.in_(select(mo.model).where(mo.project == query.project)))
        q = (
            select(t.metric_points)
            .where(*conds)
            .order_by(m.window_start, m.model, m.version, m.segment, m.metric, m.column, m.method)
            .limit(query.limit)
        )
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def latest_points(
        self, window_size: int, metrics: Collection[str] = ()
    ) -> list[dict[str, Any]]:
        m = t.metric_points.c
        where = [m.window_size == window_size]
        if metrics:
            where.append(m.metric.in_(sorted(metrics)))
        return self._latest(where, ("model", "version"))

    def latest_series(
        self, window_size: int, prefixes: Collection[str], since: float
    ) -> list[dict[str, Any]]:
        if not prefixes:
            return []
        m = t.metric_points.c
        where = [
            m.window_size == window_size,
            m.segment == "*",
            m.window_start >= since,
            or_(*(m.metric.startswith(p, autoescape=True) for p in sorted(prefixes))),
        ]
        return self._latest(where, ("model", "version", "metric", "column"), m.value.is_not(None))

    def _latest(
        self, where: list[Any], keys: Sequence[str], *latest_if: Any
    ) -> list[dict[str, Any]]:
        """The points matching ``where`` of the latest window per ``keys`` (columns) among
        those also matching ``latest_if``."""
        m = t.metric_points.c
        cols = [m[k] for k in keys]
        latest = (
            select(*cols, func.max(m.window_start).label("ws"))
            .where(*where, *latest_if)
            .group_by(*cols)
            .subquery()
        )
        on = and_(*(m[k] == latest.c[k] for k in keys), m.window_start == latest.c.ws)
        q = select(t.metric_points).join(latest, on).where(*where)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]
