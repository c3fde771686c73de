"""Aggregated reads of metric points: the database groups, the page gets small tuples.

A 30-day page covers 720 hourly windows per metric, and 14,400 drift points
for 20 columns; a chart needs a few hundred points and a sparkline about a
hundred. :func:`aggregate` lets the database sum, weigh and take maxima per
time bucket and returns one short tuple per (metric, method, column, segment,
bucket); :func:`window_rows` reads the full points (``details`` included) of
one window. Both run on the store's SQLAlchemy engine (SQLite or PostgreSQL):
``aggregate`` from the covering index ``ix_metric_points_read`` alone (model,
version, window size, metric, segment, window start, then the columns it
reads), ``window_rows`` through the primary key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from driftline.errors import DriftlineError
from driftline.store.base import Store


@dataclass(frozen=True)
class Scope:
    """One model version's points of one window size in ``[start, end)``.

    ``segment=None`` reads every segment (each comes back in its own rows).
    """

    model: str
    version: str
    window_size: int
    start: float
    end: float
    segment: str | None = "*"


class Agg(NamedTuple):
    """The points of one (metric, method, column, segment) in one time bucket."""

    metric: str
    method: str
    column: str
    segment: str
    first: int  # window start of the bucket's first point
    last: int  # window start of its last point
    windows: int
    total: float | None  # sum of values
    weighted: float | None  # sum of value * n
    weight: int | None  # sum of n over points with a value
    top: float | None  # largest value
    drifted: int  # points with status "drift"

    @property
    def mean(self) -> float | None:
        """The mean weighted by each point's ``n`` (plain mean when no point has one)."""
        if self.weight:
            return None if self.weighted is None else self.weighted / self.weight
        if self.total is None or not self.windows:
            return None
        return self.total / self.windows


def combine(aggs: Sequence[Agg]) -> Agg:
    """One group for several (of the same metric and method): buckets -> the whole range."""
    a0 = aggs[0]

    def total(values: Sequence[Any]) -> Any:
        present = [v for v in values if v is not None]
        return sum(present) if present else None

    tops = [a.top for a in aggs if a.top is not None]
    return a0._replace(
        first=min(a.first for a in aggs),
        last=max(a.last for a in aggs),
        windows=sum(a.windows for a in aggs),
        total=total([a.total for a in aggs]),
        weighted=total([a.weighted for a in aggs]),
        weight=total([a.weight for a in aggs]),
        top=max(tops) if tops else None,
        drifted=sum(a.drifted for a in aggs),
    )


def _engine(store: Store) -> Any:
    engine = getattr(store, "engine", None)
    if engine is None:
        raise DriftlineError(
            f"the dashboard reads a SQL store (SQLiteStore or PostgresStore), "
            f"not {type(store).__name__}"
        )
    return engine


def _where(scope: Scope, metrics: Sequence[str], column: str | None) -> list[Any]:
    from driftline.store.tables import metric_points as t

    m = t.c
    conds = [
        m.model == scope.model,
        m.metric.in_(list(metrics)) if len(metrics) != 1 else m.metric == metrics[0],
        m.window_size == scope.window_size,
        m.window_start >= scope.start,
        m.window_start < scope.end,
        m.version == scope.version,
    ]
    if scope.segment is not None:
        conds.append(m.segment == scope.segment)
    if column is not None:
        conds.append(m.column == column)
    return conds


def aggregate(
    store: Store,
    scope: Scope,
    metrics: Sequence[str],
    *,
    bucket: int | None = None,
    column: str | None = None,
    by_column: bool = True,
    by_method: bool = True,
) -> list[Agg]:
    """``metrics`` grouped per (metric, method, column, segment) and ``bucket`` seconds
    (``None``: the whole range in one bucket), ordered by time.

    The database groups only by what varies (each grouping key costs the sort): one
    metric, a fixed segment or ``column`` are filled in afterwards; ``by_column=False``
    merges columns (for metrics that have none) and ``by_method=False`` methods
    (their ``method`` comes back as "")."""
    from sqlalchemy import BigInteger, case, func, literal, select

    from driftline.store.tables import metric_points as t

    if not metrics:
        return []
    m = t.c
    if bucket is not None and bucket <= scope.window_size:
        return _each_window(store, scope, metrics, column)
    fixed = {
        "metric": metrics[0] if len(metrics) == 1 else None,
        "method": None if by_method else "",
        "column": column if column is not None else (None if by_column else ""),
        "segment": scope.segment,
    }
    keys: list[Any] = [m[name] for name, value in fixed.items() if value is None]
    groups = list(keys)
    if bucket is not None:  # only in GROUP BY: PostgreSQL would see two different expressions
        origin = literal(int(scope.start), BigInteger)
        groups.append((m.window_start - origin) // literal(max(int(bucket), 1), BigInteger))
    sel = select(
        *keys,
        func.min(m.window_start),
        func.max(m.window_start),
        func.count(),
        func.sum(m.value),
        func.sum(m.value * m.n),
        func.sum(case((m.value.is_not(None), m.n), else_=0)),
        func.max(m.value),
        func.sum(case((m.status == "drift", 1), else_=0)),
    ).where(*_where(scope, metrics, column))
    if groups:
        sel = sel.group_by(*groups)
    n_keys = len(keys)
    with _engine(store).connect() as conn:
        rows = conn.execute(sel).all()
    out = []
    for r in rows:
        if not r[n_keys + 2]:  # no point matched: the one row of an ungrouped aggregate
            continue
        varying = iter(r[:n_keys])
        names: list[Any] = [v if v is not None else next(varying) for v in fixed.values()]
        first, last, windows, total, weighted, weight, top, drifted = r[n_keys:]
        out.append(  # PostgreSQL sums BIGINTs as NUMERIC: Decimal in Python
            Agg._make(
                [
                    *names, int(first), int(last), int(windows),
                    None if total is None else float(total),
                    None if weighted is None else float(weighted),
                    None if weight is None else int(weight),
                    None if top is None else float(top),
                    int(drifted or 0),
                ]
            )
        )  # fmt: skip
    out.sort(key=lambda a: a.first)
    return out


def _each_window(
    store: Store, scope: Scope, metrics: Sequence[str], column: str | None
) -> list[Agg]:
    """One bucket per window: the points themselves, read in index order (no grouping)."""
    from sqlalchemy import select

    from driftline.store.tables import metric_points as t

    m = t.c
    sel = select(
        m.metric, m.method, m.column, m.segment, m.window_start, m.value, m.n, m.status
    ).where(*_where(scope, metrics, column))
    with _engine(store).connect() as conn:
        rows = conn.execute(sel).all()
    out = [
        Agg(
            metric, method, col, seg, int(ws), int(ws), 1,
            value, None if value is None else value * n, n if value is not None else 0,
            value, int(status == "drift"),
        )
        for metric, method, col, seg, ws, value, n, status in rows
    ]  # fmt: skip
    out.sort(key=lambda a: a.first)
    return out


class PointRow(NamedTuple):
    metric: str
    method: str
    column: str
    value: float | None
    status: str
    n: int
    details: str


def window_rows(
    store: Store, scope: Scope, window_start: int, *, metric: str | None = None
) -> list[PointRow]:
    """Every point of one window of the scope's model version and segment (the primary
    key's prefix serves it), optionally of one ``metric``."""
    from sqlalchemy import select

    from driftline.store.tables import metric_points as t

    m = t.c
    conds = [
        m.model == scope.model,
        m.version == scope.version,
        m.segment == (scope.segment if scope.segment is not None else "*"),
        m.window_size == scope.window_size,
        m.window_start == int(window_start),
    ]
    if metric is not None:
        conds.append(m.metric == metric)
    sel = select(m.metric, m.method, m.column, m.value, m.status, m.n, m.details).where(*conds)
    with _engine(store).connect() as conn:
        return [PointRow(*r) for r in conn.execute(sel).all()]


def first_seen(store: Store) -> float | None:
    """When the collector first saw any model version (the default time range fits it)."""
    from sqlalchemy import func, select

    from driftline.store.tables import versions as t

    with _engine(store).connect() as conn:
        value = conn.execute(select(func.min(t.c.created_at))).scalar()
    return None if value is None else float(value)


class Traffic(NamedTuple):
    """What the store holds of a version's traffic (why a page may be empty)."""

    events: int  # raw prediction events stored (retention may have purged older ones)
    first_pending: int | None  # base window of the first event after the latest evaluated one
    latest_evaluated: int | None  # start of the latest evaluated window of the size


def traffic(store: Store, model: str, version: str, window_size: int) -> Traffic:
    """The version's stored events, its latest evaluated window of ``window_size`` (all
    traffic), and the base window of its first event not in an evaluated window."""
    from sqlalchemy import func, select

    from driftline.store.tables import events as e
    from driftline.store.tables import metric_points as m

    evaluated = select(func.max(m.c.window_start)).where(
        m.c.model == model, m.c.version == version, m.c.window_size == window_size,
        m.c.metric == "events", m.c.segment == "*",
    )  # fmt: skip
    mine = (e.c.model == model, e.c.version == version)
    with _engine(store).connect() as conn:
        latest = conn.execute(evaluated).scalar()
        n = int(conn.execute(select(func.count()).where(*mine)).scalar_one())
        after = () if latest is None else (e.c.window_start >= int(latest) + window_size,)
        first = conn.execute(select(func.min(e.c.window_start)).where(*mine, *after)).scalar()
    return Traffic(
        n,
        None if first is None else int(first),
        None if latest is None else int(latest),
    )


def has_reference(store: Store, model: str, version: str) -> bool:
    """Whether the version has a reference (without reading the profile itself)."""
    from sqlalchemy import select

    from driftline.store.tables import references as t

    q = select(t.c.n_rows).where(t.c.model == model, t.c.version == version)
    with _engine(store).connect() as conn:
        return conn.execute(q).first() is not None


def metric_names(store: Store, scope: Scope, prefixes: Sequence[str]) -> list[str]:
    """Distinct metric names starting with one of ``prefixes`` in the scope (KPIs are
    ``kpi.<name>``: the page learns which exist)."""
    from sqlalchemy import or_, select

    from driftline.store.tables import metric_points as t

    m = t.c
    conds = [
        m.model == scope.model,
        m.version == scope.version,
        m.window_size == scope.window_size,
        m.window_start >= scope.start,
        m.window_start < scope.end,
        or_(*(m.metric.startswith(p, autoescape=True) for p in prefixes)),
    ]
    if scope.segment is not None:
        conds.append(m.segment == scope.segment)
    with _engine(store).connect() as conn:
        return sorted(str(r[0]) for r in conn.execute(select(m.metric).where(*conds).distinct()))
