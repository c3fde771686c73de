"""The SQLAlchemy Core implementation of :class:`~driftline.store.base.Store`.

:class:`SQLStore` holds every query (metric points in :mod:`.sql_points`, keys,
audit and leases in :mod:`.sql_access`, the engine in :mod:`.sql_base`); the
engines differ only in how they connect and in their ``INSERT ... ON CONFLICT``
construct, which subclasses supply (:mod:`driftline.store.sqlite`,
:mod:`driftline.store.postgres`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import and_, case, delete, func, or_, select, tuple_, update
from sqlalchemy.sql.dml import Insert

from driftline.store import tables as t
from driftline.store.base import (
    DEFAULT_PROJECT,
    EVENT_COLUMNS,
    EventRow,
    EventSegment,
    FeedbackKinds,
    LabelMatch,
    Partial,
    PendingWindow,
    Row,
    WindowKey,
)
from driftline.store.sql_access import AccessQueries
from driftline.store.sql_points import MetricPointQueries


def _payloads(conn: Any, refs: Sequence[Sequence[Any]]) -> list[str | None]:
    """The payload of each ``(payload, segment_id, segment_row)`` of an ``events`` row: its
    own, else its row of the segment (store/segments.py); None where the segment is gone
    (purged by retention since the row was read)."""
    wanted: dict[str, set[int]] = {}
    for payload, sid, row in refs:
        if sid is not None and not payload:
            wanted.setdefault(sid, set()).add(int(row))
    if not wanted:
        return [r[0] for r in refs]
    from driftline.store import segments

    found: dict[tuple[str, int], str] = {}
    s = t.event_segments.c
    ids = sorted(wanted)
    for i in range(0, len(ids), 50):  # a few MB of segments at a time
        q = select(s.segment_id, s.data).where(s.segment_id.in_(ids[i : i + 50]))
        for sid, data in conn.execute(q):
            rows = sorted(wanted[sid])
            table = segments.decode(bytes(data))
            found.update(
                zip([(sid, r) for r in rows], segments.payloads_of(table, rows), strict=True)
            )
    return [
        payload if sid is None or payload else found.get((sid, int(row)))
        for payload, sid, row in refs
    ]


class SQLStore(AccessQueries, MetricPointQueries):
    """Every query of :class:`~driftline.store.base.Store` on SQLAlchemy Core: the windows'
    and events' here, metric points in :mod:`driftline.store.sql_points`, keys, audit and
    leases in :mod:`driftline.store.sql_access`; the engines subclass it and supply
    :meth:`driftline.store.sql_base.SQLBase._insert`."""

    # -- ingest ---------------------------------------------------------------------
    def insert_events(
        self, rows: Sequence[EventRow], segment: EventSegment | None = None
    ) -> set[str]:
        if not rows:
            return set()
        stmt = (
            self._insert(t.events)
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(t.events.c.event_id)
        )
        empty = dict.fromkeys(EVENT_COLUMNS)
        params = [empty | dict(zip(EVENT_COLUMNS, r, strict=False)) for r in rows]
        with self.engine.begin() as conn:
            new = {r[0] for r in conn.execute(stmt, params)}
            if segment is not None and new:
                conn.execute(
                    t.event_segments.insert(),
                    [{"segment_id": segment.segment_id, "received_at": segment.received_at,
                      "n_rows": segment.n_rows, "data": segment.data}],
                )  # fmt: skip
        return new

    def upsert_labels(self, rows: Sequence[Row]) -> list[tuple[str, str, int]]:
        return self.match_labels(rows).windows

    def match_labels(self, rows: Sequence[Row]) -> LabelMatch:
        if not rows:
            return LabelMatch([], {})
        ins = self._insert(t.labels)
        stmt = ins.on_conflict_do_update(
            index_elements=["model", "prediction_id"],
            set_={
                "event_id": ins.excluded.event_id,
                "version": ins.excluded.version,
                "ts": ins.excluded.ts,
                "received_at": ins.excluded.received_at,
                "label": ins.excluded.label,
            },
        )
        out: set[tuple[str, str, int]] = set()
        unmatched: dict[str, int] = {}
        with self.engine.begin() as conn:
            conn.execute(stmt, list(rows))
            by_model: dict[str, list[str]] = {}
            for r in rows:
                by_model.setdefault(r["model"], []).append(r["prediction_id"])
            for model, ids in by_model.items():
                found: set[str] = set()
                for table in (t.events, t.prediction_index):
                    c = table.c
                    cols = (c.version, c.window_start, c.prediction_id)
                    for i in range(0, len(ids), 500):
                        part = ids[i : i + 500]
                        q = (
                            t.events_by_prediction(cols, model, part)
                            if table is t.events
                            else select(*cols).where(c.model == model, c.prediction_id.in_(part))
                        )
                        for version, start, pid in conn.execute(q):
                            out.add((model, version, int(start)))
                            found.add(pid)
                n = len(set(ids) - found)
                if n:
                    unmatched[model] = n
        return LabelMatch(sorted(out), unmatched)

    def insert_feedback(self, rows: Sequence[Row]) -> int:
        return self._insert_ignore(t.feedback, rows, ["event_id"])

    def prediction_windows(
        self, model: str, prediction_ids: Sequence[str]
    ) -> dict[str, list[tuple[str, int]]]:
        e = t.events.c
        out: dict[str, list[tuple[str, int]]] = {}
        ids = sorted(set(prediction_ids))
        with self.engine.connect() as conn:
            for i in range(0, len(ids), 500):
                q = t.events_by_prediction(
                    (e.prediction_id, e.version, e.window_start), model, ids[i : i + 500]
                )
                for pid, version, start in conn.execute(q):
                    out.setdefault(str(pid), []).append((str(version), int(start)))
        return out

    def feedback_of(
        self, model: str, version: str, start: int, end: int
    ) -> list[tuple[str | None, str, str]]:
        e, f = t.events.c, t.feedback.c
        joined = (
            select(e.payload, e.segment_id, e.segment_row, f.kind, f.value)
            .select_from(
                t.feedback.join(
                    t.events, and_(e.model == f.model, e.prediction_id == f.prediction_id)
                )
            )
            .where(
                e.model == model,
                e.version == version,
                e.window_start >= start,
                e.window_start < end,
                e.shadow.is_(False),
            )
            .order_by(f.event_id)
        )
        alone = (
            select(f.kind, f.value)
            .where(
                f.model == model,
                f.prediction_id == "",
                f.version == version,
                f.ts >= start,
                f.ts < end,
            )
            .order_by(f.event_id)
        )
        with self.engine.connect() as conn:
            got = conn.execute(joined).all()
            out: list[tuple[str | None, str, str]] = [
                (p, str(r[3]), str(r[4]))
                for p, r in zip(_payloads(conn, [r[:3] for r in got]), got, strict=True)
                if p is not None
            ]
            out += [(None, str(b), str(c)) for b, c in conn.execute(alone)]
        return out

    def upsert_job_runs(self, rows: Sequence[Row]) -> int:
        if not rows:
            return 0
        ins = self._insert(t.job_runs)
        cols = [c.name for c in t.job_runs.c if c.name not in ("job", "run_id", "project")]
        stmt = ins.on_conflict_do_update(
            index_elements=["job", "run_id"],
            set_={c: ins.excluded[c] for c in cols},
            # a run of another project's job is left alone
            where=t.job_runs.c.project == ins.excluded.project,
        )
        rows = [r if "project" in r else {**r, "project": DEFAULT_PROJECT} for r in rows]
        with self.engine.begin() as conn:
            conn.execute(stmt, rows)
        return len(rows)

    def owners(self, kind: str, ids: Sequence[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        with self.engine.connect() as conn:
            for i in range(0, len(ids), 500):
                chunk = list(ids[i : i + 500])
                if kind == "job_run":
                    j = t.job_runs.c
                    pairs = [tuple(x.split("/", 1)) for x in chunk]
                    q = select(j.job, j.run_id, j.project).where(tuple_(j.job, j.run_id).in_(pairs))
                    out.update((f"{r[0]}/{r[1]}", str(r[2])) for r in conn.execute(q))
                    continue
                table = t.events if kind == "prediction" else t.feedback
                q = select(table.c.event_id, table.c.model).where(table.c.event_id.in_(chunk))
                out.update((str(r[0]), str(r[1])) for r in conn.execute(q))
        return out

    def _insert_ignore(self, table: Any, rows: Sequence[Row], keys: list[str]) -> int:
        if not rows:
            return 0
        stmt: Insert = (
            self._insert(table)
            .on_conflict_do_nothing(index_elements=keys)
            .returning(table.c[keys[0]])
        )
        with self.engine.begin() as conn:
            return len(conn.execute(stmt, list(rows)).all())

    # -- windows --------------------------------------------------------------------
    def save_partial(self, row: Row) -> None:
        ins = self._insert(t.window_partials)
        stmt = ins.on_conflict_do_update(
            index_elements=["partial_id"],
            set_={c: ins.excluded[c] for c in ("covered_seq", "n_events", "profile", "updated_at")},
        )
        with self.engine.begin() as conn:
            conn.execute(stmt, [dict(row)])

    def mark_changed(self, keys: Iterable[WindowKey], at: float) -> None:
        rows = [
            {
                "model": k.model,
                "version": k.version,
                "window_size": k.window_size,
                "window_start": k.window_start,
                "generation": 1,
                "evaluated_generation": 0,
                "changed_at": at,
            }
            for k in sorted(set(keys))
        ]
        if not rows:
            return
        ins = self._insert(t.window_state)
        stmt = ins.on_conflict_do_update(
            index_elements=["model", "version", "window_size", "window_start"],
            set_={"generation": t.window_state.c.generation + 1, "changed_at": at},
        )
        with self.engine.begin() as conn:
            conn.execute(stmt, rows)

    def pending_windows(self, closed_at: float, limit: int = 100) -> list[PendingWindow]:
        w = t.window_state.c
        q = (
            select(w.model, w.version, w.window_size, w.window_start, w.generation)
            .where(
                w.evaluated_generation < w.generation,
                w.window_start + w.window_size <= closed_at,
            )
            .order_by(w.window_start, w.window_size, w.model, w.version)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [
                PendingWindow(WindowKey(m, v, int(s), int(st)), int(g))
                for m, v, s, st, g in conn.execute(q)
            ]

    def partials(self, model: str, version: str, start: int, end: int) -> list[Partial]:
        p = t.window_partials.c
        q = (
            select(p.partial_id, p.window_start, p.covered_seq, p.n_events, p.profile)
            .where(
                p.model == model,
                p.version == version,
                p.window_start >= start,
                p.window_start < end,
            )
            .order_by(p.partial_id)
        )
        with self.engine.connect() as conn:
            return [
                Partial(a, int(b), int(c), int(d), bytes(e)) for a, b, c, d, e in conn.execute(q)
            ]

    def uncovered_events(
        self,
        model: str,
        version: str,
        start: int,
        end: int,
        covered: Mapping[str, int] | None = None,
    ) -> list[str]:
        e, p = t.events.c, t.window_partials.c
        in_range = (
            e.model == model,
            e.version == version,
            e.window_start >= start,
            e.window_start < end,
        )
        payload = (e.payload, e.segment_id, e.segment_row)
        if covered is None:
            q = (
                select(*payload)
                .select_from(t.events.outerjoin(t.window_partials, p.partial_id == e.partial_id))
                .where(*in_range, or_(p.partial_id.is_(None), e.seq > p.covered_seq))
            )
        elif covered:
            # the covered seqs the caller read, not the ones saved since (same snapshot)
            seq = case(dict(covered), value=e.partial_id, else_=-1)
            q = select(*payload).where(*in_range, or_(e.partial_id.is_(None), e.seq > seq))
        else:
            q = select(*payload).where(*in_range)
        q = q.order_by(e.event_id)
        with self.engine.connect() as conn:
            return [p for p in _payloads(conn, conn.execute(q).all()) if p is not None]

    def labelled(self, model: str, version: str, start: int, end: int) -> list[tuple[str, str]]:
        raw, indexed = self._labelled_rows(model, version, start, end)
        return [(p, lab) for _, p, lab in raw] + [(p, lab) for _, _, p, lab in indexed]

    def labelled_by_window(
        self, model: str, version: str, start: int, end: int
    ) -> dict[int, list[tuple[str, str]]]:
        raw, indexed = self._labelled_rows(model, version, start, end)
        out: dict[int, list[tuple[str, str]]] = {}
        for ws, p, lab in raw:
            out.setdefault(int(ws), []).append((p, lab))
        for ws, _, p, lab in indexed:
            out.setdefault(int(ws), []).append((p, lab))
        return out

    def _labelled_rows(
        self, model: str, version: str, start: int, end: int
    ) -> tuple[list[Any], list[Any]]:
        """(window start, payload, label) of raw events by event id, then (window start,
        event id, outcome, label) of indexed predictions by event id."""
        import orjson

        e, lb = t.events.c, t.labels.c
        q = (
            select(e.window_start, e.payload, lb.label, e.segment_id, e.segment_row)
            .select_from(
                t.events.join(
                    t.labels, and_(lb.model == e.model, lb.prediction_id == e.prediction_id)
                )
            )
            .where(
                e.model == model,
                e.version == version,
                e.window_start >= start,
                e.window_start < end,
                e.status == "ok",
            )
            .order_by(e.event_id)
        )
        p = t.prediction_index.c
        q_index = (
            select(p.window_start, p.event_id, p.outcome, lb.label, p.prediction_id)
            .select_from(
                t.prediction_index.join(
                    t.labels, and_(lb.model == p.model, lb.prediction_id == p.prediction_id)
                )
            )
            .where(
                p.model == model,
                p.version == version,
                p.window_start >= start,
                p.window_start < end,
                p.status == "ok",
            )
        )
        with self.engine.connect() as conn:
            got = conn.execute(q).all()
            payloads = _payloads(conn, [(r[1], r[3], r[4]) for r in got])
            rows = [(r[0], p, r[2]) for p, r in zip(payloads, got, strict=True) if p is not None]
            # predictions whose raw events were purged: their compact part from the index
            # (an event is in one of the two tables, never both)
            found = sorted(conn.execute(q_index), key=lambda r: str(r[1]))
        # the outcome has no prediction id (a comparison pairs versions' requests by it)
        indexed = [
            (ws, eid, orjson.dumps({**orjson.loads(out), "prediction_id": pid}).decode(), lab)
            for ws, eid, out, lab, pid in found
        ]
        return rows, indexed

    def window_generations(
        self, model: str, version: str, window_size: int, start: int, end: int
    ) -> dict[int, int]:
        w = t.window_state.c
        q = select(w.window_start, w.generation).where(
            w.model == model,
            w.version == version,
            w.window_size == window_size,
            w.window_start >= start,
            w.window_start < end,
        )
        with self.engine.connect() as conn:
            return {int(s): int(g) for s, g in conn.execute(q)}

    def version_traffic(self, model: str, start: float, end: float) -> dict[str, dict[str, Any]]:
        e = t.events.c
        q = (
            select(e.version, e.shadow, func.count(), func.min(e.window_start))
            .where(e.model == model, e.window_start >= start, e.window_start < end)
            .group_by(e.version, e.shadow)
        )
        out: dict[str, dict[str, Any]] = {}
        with self.engine.connect() as conn:
            for version, shadow, n, first in conn.execute(q):
                row = out.setdefault(version, {"served": 0, "shadow": 0, "first_window": None})
                row["shadow" if shadow else "served"] += int(n)
                f = int(first)
                row["first_window"] = (
                    f if row["first_window"] is None else min(f, row["first_window"])
                )
        return out

    def window_counts(
        self, model: str, start: float, end: float
    ) -> dict[tuple[str, int], tuple[int, int]]:
        e = t.events.c
        q = (
            select(e.version, e.window_start, e.shadow, func.count())
            .where(e.model == model, e.window_start >= start, e.window_start < end)
            .group_by(e.version, e.window_start, e.shadow)
        )
        out: dict[tuple[str, int], tuple[int, int]] = {}
        with self.engine.connect() as conn:
            for version, ws, shadow, n in conn.execute(q):
                served, shadowed = out.get((version, int(ws)), (0, 0))
                out[(version, int(ws))] = (
                    (served, shadowed + int(n)) if shadow else (served + int(n), shadowed)
                )
        return out

    def model_window_generations(
        self, model: str, window_size: int, start: float, end: float
    ) -> dict[tuple[str, int], int]:
        w = t.window_state.c
        q = select(w.version, w.window_start, w.generation).where(
            w.model == model,
            w.window_size == window_size,
            w.window_start >= start,
            w.window_start < end,
        )
        with self.engine.connect() as conn:
            return {(v, int(s)): int(g) for v, s, g in conn.execute(q)}

    def event_counts(self, model: str, version: str, start: int, end: int) -> int:
        e = t.events.c
        q = select(func.count()).where(
            e.model == model, e.version == version, e.window_start >= start, e.window_start < end
        )
        with self.engine.connect() as conn:
            return int(conn.execute(q).scalar_one())

    def mark_evaluated(self, key: WindowKey, generation: int, at: float) -> None:
        w = t.window_state.c
        stmt = (
            update(t.window_state)
            .where(
                w.model == key.model,
                w.version == key.version,
                w.window_size == key.window_size,
                w.window_start == key.window_start,
                w.evaluated_generation < generation,
            )
            .values(evaluated_generation=generation, evaluated_at=at)
        )
        with self.engine.begin() as conn:
            conn.execute(stmt)

    # -- models, versions, references ----------------------------------------------------
    def claim_models(self, models: Iterable[str], project: str, at: float) -> dict[str, str]:
        names = sorted(set(models))
        if not names:
            return {}
        rows = [{"model": m, "created_at": at, "meta": "{}", "project": project} for m in names]
        with self.engine.begin() as conn:
            conn.execute(
                self._insert(t.models).on_conflict_do_nothing(index_elements=["model"]), rows
            )
        return self.model_projects(names)

    def model_projects(self, models: Iterable[str]) -> dict[str, str]:
        names = sorted(set(models))
        m = t.models.c
        out: dict[str, str] = {}
        with self.engine.connect() as conn:
            for i in range(0, len(names), 500):
                q = select(m.model, m.project).where(m.model.in_(names[i : i + 500]))
                out.update((a, b) for a, b in conn.execute(q))
        return out

    def ensure_version(self, model: str, version: str, at: float) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                self._insert(t.models).on_conflict_do_nothing(index_elements=["model"]),
                [{"model": model, "created_at": at, "meta": "{}"}],
            )
            conn.execute(
                self._insert(t.versions).on_conflict_do_nothing(
                    index_elements=["model", "version"]
                ),
                [{"model": model, "version": version, "created_at": at, "meta": "{}"}],
            )

    def set_version_schema(self, model: str, version: str, schema: str) -> str:
        v = t.versions.c
        with self.engine.begin() as conn:
            conn.execute(
                update(t.versions)
                .where(v.model == model, v.version == version, v.schema.is_(None))
                .values(schema=schema)
            )
            got = conn.execute(
                select(v.schema).where(v.model == model, v.version == version)
            ).scalar_one_or_none()
        return got if got is not None else schema

    def replace_version_schema(self, model: str, version: str, schema: str) -> None:
        v = t.versions.c
        with self.engine.begin() as conn:
            conn.execute(
                update(t.versions)
                .where(v.model == model, v.version == version)
                .values(schema=schema)
            )

    def version(self, model: str, version: str) -> dict[str, Any] | None:
        v = t.versions.c
        with self.engine.connect() as conn:
            row = conn.execute(
                select(t.versions).where(v.model == model, v.version == version)
            ).first()
        return None if row is None else dict(row._mapping)

    def update_version_meta(self, model: str, version: str, meta: str, at: float) -> None:
        self.ensure_version(model, version, at)
        v = t.versions.c
        with self.engine.begin() as conn:
            conn.execute(
                update(t.versions).where(v.model == model, v.version == version).values(meta=meta)
            )

    def models(self, project: str | None = None) -> list[dict[str, Any]]:
        v, e, r, mo = t.versions.c, t.events.c, t.references.c, t.models.c
        counts = (
            select(e.model, e.version, func.count().label("n"), func.max(e.ts).label("last"))
            .group_by(e.model, e.version)
            .subquery()
        )
        q = (
            select(
                v.model,
                v.version,
                v.created_at,
                v.meta,
                counts.c.n,
                counts.c.last,
                r.n_rows,
                func.coalesce(mo.project, DEFAULT_PROJECT),
            )
            .select_from(
                t.versions.outerjoin(
                    counts, and_(counts.c.model == v.model, counts.c.version == v.version)
                )
                .outerjoin(t.references, and_(r.model == v.model, r.version == v.version))
                .outerjoin(t.models, mo.model == v.model)
            )
            .order_by(v.model, v.created_at, v.version)
        )
        if project is not None:
            q = q.where(mo.project == project)
        out: dict[str, dict[str, Any]] = {}
        with self.engine.connect() as conn:
            for model, version, created, meta, n, last, ref_rows, proj in conn.execute(q):
                entry = out.setdefault(model, {"model": model, "project": proj, "versions": []})
                entry["versions"].append(
                    {
                        "version": version,
                        "events": int(n or 0),
                        "last_event_at": last,
                        "created_at": created,
                        "reference_rows": ref_rows,
                        "meta": meta,
                    }
                )
        return list(out.values())

    def put_reference(
        self, model: str, version: str, profile: bytes, n_rows: int, at: float
    ) -> None:
        self.ensure_version(model, version, at)
        ins = self._insert(t.references)
        stmt = ins.on_conflict_do_update(
            index_elements=["model", "version"],
            set_={"profile": profile, "n_rows": n_rows, "uploaded_at": at},
        )
        row = {"model": model, "version": version, "profile": profile, "n_rows": n_rows}
        with self.engine.begin() as conn:
            conn.execute(stmt, [{**row, "uploaded_at": at}])

    def reference(self, model: str, version: str) -> bytes | None:
        r = t.references.c
        with self.engine.connect() as conn:
            got = conn.execute(
                select(r.profile).where(r.model == model, r.version == version)
            ).scalar_one_or_none()
        return None if got is None else bytes(got)

    def job_runs(
        self, job: str | None, limit: int, project: str | None = None
    ) -> list[dict[str, Any]]:
        j = t.job_runs.c
        q = select(t.job_runs).order_by(j.started_at.desc()).limit(limit)
        if job is not None:
            q = q.where(j.job == job)
        if project is not None:
            q = q.where(j.project == project)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def sample_events(
        self, model: str, version: str | None, start: float | None, end: float | None, limit: int
    ) -> list[str]:
        e = t.events.c
        q = (
            select(e.payload, e.segment_id, e.segment_row)
            .where(e.model == model)
            .order_by(e.ts.desc())
            .limit(limit)
        )
        if version is not None:
            q = q.where(e.version == version)
        if start is not None:
            q = q.where(e.ts >= start)
        if end is not None:
            q = q.where(e.ts < end)
        with self.engine.connect() as conn:
            return [p for p in _payloads(conn, conn.execute(q).all()) if p is not None]

    def event_payloads(self, model: str, event_ids: Sequence[str]) -> dict[str, str]:
        e = t.events.c
        out: dict[str, str] = {}
        ids = list(dict.fromkeys(event_ids))
        with self.engine.connect() as conn:
            for i in range(0, len(ids), 500):
                q = select(e.event_id, e.payload, e.segment_id, e.segment_row).where(
                    e.model == model, e.event_id.in_(ids[i : i + 500])
                )
                got = conn.execute(q).all()
                payloads = _payloads(conn, [r[1:] for r in got])
                out.update(
                    (str(r[0]), p) for r, p in zip(got, payloads, strict=True) if p is not None
                )
        return out

    def feedback_for(
        self, model: str, prediction_ids: Sequence[str], kind: str
    ) -> list[dict[str, Any]]:
        f = t.feedback.c
        ids = list(dict.fromkeys(prediction_ids))
        rows: list[dict[str, Any]] = []
        with self.engine.connect() as conn:
            for i in range(0, len(ids), 500):
                q = select(f.event_id, f.prediction_id, f.value, f.ts, f.received_at).where(
                    f.model == model, f.kind == kind, f.prediction_id.in_(ids[i : i + 500])
                )
                rows += [dict(r._mapping) for r in conn.execute(q)]
        return sorted(rows, key=lambda r: (r["received_at"], r["event_id"]))

    def request_feedback(
        self,
        model: str,
        version: str,
        start: float,
        end: float,
        lateness: float,
        limit: int,
        *,
        kinds: FeedbackKinds,
    ) -> list[dict[str, Any]]:
        e, f = t.events.c, t.feedback.c
        joined = t.feedback.join(
            t.events, and_(e.model == f.model, e.prediction_id == f.prediction_id)
        )
        judge = f.kind.like("judge.%")
        # thumbs: as windows/llm.thumbs_down reads the kind (any case; judge results apart)
        of_kinds = judge if kinds == "judge" else and_(~judge, func.lower(f.kind).like("%thumb%"))
        late = case((f.ts > e.ts + lateness, True), else_=False).label("late")
        q = (
            select(f.prediction_id, e.version, f.kind, f.value, f.ts, e.ts.label("request_ts"),
                   late)
            .select_from(joined)
            .where(
                f.model == model,
                of_kinds,
                e.version == version,
                e.shadow.is_(False),  # about the answer the user was served
                e.window_start >= start,
                e.window_start < end,
            )
            .order_by(f.ts.desc(), f.event_id)
            .limit(limit)
        )  # fmt: skip
        with self.engine.connect() as conn:
            return [{**r._mapping, "late": bool(r.late)} for r in conn.execute(q)]

    # -- retention ----------------------------------------------------------------------
    def purge(self, before: float, label_before: float | None = None) -> dict[str, int]:
        horizon = before if label_before is None else min(label_before, before)
        if horizon < before:
            self._index_predictions(horizon, before)
        out: dict[str, int] = {}
        with self.engine.begin() as conn:
            for table, cut in (
                (t.events, before),
                (t.event_segments, before),  # their events' received_at: the same cut
                (t.feedback, before),
                (t.labels, horizon),
                (t.prediction_index, horizon),
            ):
                res = conn.execute(delete(table).where(table.c.received_at < cut))
                out[table.name] = max(res.rowcount, 0)
        return out

    def _index_predictions(self, since: float, before: float, chunk: int = 5000) -> int:
        """Move the ok predictions received in ``[since, before)`` from ``events`` to the
        prediction index, ``chunk`` at a time (each chunk one transaction: a crash leaves
        every event in one of the two tables)."""
        import orjson

        e = t.events.c
        moved = 0
        while True:
            with self.engine.begin() as conn:
                cols = ["event_id", "model", "version", "prediction_id", "window_start", "ts",
                        "received_at", "status", "payload", "segment_id",
                        "segment_row"]  # fmt: skip
                q = (
                    select(*(t.events.c[c] for c in cols))
                    .where(e.received_at < before, e.received_at >= since, e.status == "ok")
                    .limit(chunk)
                )
                got = conn.execute(q).all()
                if not got:
                    return moved
                rows = []
                payloads = _payloads(conn, [r[8:] for r in got])
                for r, payload in zip(got, payloads, strict=True):
                    eid, model, version, pid, start, ts, received, status = r[:8]
                    if payload is None:  # its segment is gone: nothing left to index
                        continue
                    ev = orjson.loads(payload)
                    outcome = {k: ev.get(k) for k in ("prediction", "scores", "segment")}
                    rows.append(
                        {
                            "event_id": eid, "model": model, "version": version,
                            "prediction_id": pid, "window_start": start, "ts": ts,
                            "received_at": received, "status": status,
                            "outcome": orjson.dumps(outcome).decode(),
                        }
                    )  # fmt: skip
                stmt = self._insert(t.prediction_index).on_conflict_do_nothing(
                    index_elements=["event_id"]
                )
                if rows:
                    conn.execute(stmt, rows)
                ids = [r[0] for r in got]
                conn.execute(delete(t.events).where(e.event_id.in_(ids)))
                moved += len(got)
