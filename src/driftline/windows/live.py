"""This process's live window partials: ingest folds new events in, ``flush`` saves them.

Exactly once, with crashes: every stored event records the ``partial_id`` and
``seq`` (ingest batch number) of the live partial it was folded into. A saved
partial records ``covered_seq``, the last batch its profile includes; the
evaluator folds from the raw events whatever no saved partial covers.
"""

from __future__ import annotations

import functools
import logging
import threading
import uuid
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any

import numpy as np
import pyarrow as pa

from driftline._utils.clock import WallClock as Clock
from driftline.schema import Schema
from driftline.stats.outliers import OutlierModel
from driftline.store import segments
from driftline.store.base import EventSegment, Store, WindowKey
from driftline.windows.columns import (
    EventBlock,
    feature_names,
    infer_schema,
    schema_from_json,
    schema_to_json,
)
from driftline.windows.config import ALL, OTHER, WindowConfig, window_start
from driftline.windows.events import ArrowEvents
from driftline.windows.prescored import OnResult, scored, wire_kinds
from driftline.windows.stats import WindowStats, pack_segments

#: A partial's state at one batch: (covered seq, events, [(segment, stats, detached buffer)]).
Cut = tuple[int, int, list[tuple[str, WindowStats, list[EventBlock]]]]


log = logging.getLogger("driftline.windows")


class _Later(Sequence[Mapping[str, Any]]):
    """Events made when first read (an Arrow batch's whole events, from its segment: only a
    version's first batch, whose schema is inferred from them, reads them)."""

    def __init__(self, make: Callable[[], Sequence[Mapping[str, Any]]]) -> None:
        self._make = make
        self._events: Sequence[Mapping[str, Any]] | None = None

    def _got(self) -> Sequence[Mapping[str, Any]]:
        if self._events is None:
            self._events = self._make()
        return self._events

    def __len__(self) -> int:
        return len(self._got())

    def __getitem__(self, i: Any) -> Any:
        return self._got()[i]


def _split(
    table: pa.Table,
    groups: Mapping[tuple[str, str, int], Sequence[Mapping[str, Any]]],
    rows_of: Callable[[Sequence[Mapping[str, Any]]], list[int]],
) -> dict[tuple[str, str, int], pa.Table]:
    """The rows of ``table`` of each group of events (``rows_of``: a group's rows)."""
    if len(groups) == 1:
        return {next(iter(groups)): table}
    return {key: table.take(pa.array(rows_of(evs), pa.int64())) for key, evs in groups.items()}


def _groups(
    events: Sequence[Mapping[str, Any]], base: int
) -> dict[tuple[str, str, int], Sequence[Mapping[str, Any]]]:
    """``events`` by (model, version, base window start), in the order first seen."""
    if isinstance(events, ArrowEvents) and len(events):
        starts = np.floor(events.ts / base) * base  # as window_start(), element by element
        pairs = set(zip(events.model, events.version, strict=True))
        if len(pairs) == 1:
            ((m, v),) = pairs
            first = float(starts[0])
            if (starts == first).all():
                return {(m, v, int(first)): events}
            uniq, inverse = np.unique(starts, return_inverse=True)
            order = np.argsort(inverse, kind="stable")
            bounds = np.flatnonzero(np.diff(inverse[order])) + 1
            parts = sorted(np.split(order, bounds), key=lambda rows: int(rows[0]))
            return {(m, v, int(uniq[inverse[rows[0]]])): events.take(rows) for rows in parts}
        keyed: dict[tuple[str, str, int], list[int]] = {}
        for i, (m, v, st) in enumerate(
            zip(events.model, events.version, starts.tolist(), strict=True)
        ):
            keyed.setdefault((m, v, int(st)), []).append(i)
        return {key: events.take(rows) for key, rows in keyed.items()}
    groups: dict[tuple[str, str, int], list[Mapping[str, Any]]] = {}
    for e in events:
        groups.setdefault((e["model"], e["version"], window_start(e["ts"], base)), []).append(e)
    return dict(groups)


def _seed(*parts: object) -> int:
    return zlib.crc32("|".join(map(str, parts)).encode())


@dataclass
class LivePartial:
    """This process's partial of one (model, version, base window)."""

    model: str
    version: str
    start: int
    schema: Schema
    config: WindowConfig
    partial_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    seq: int = 0
    folded_seq: int = 0
    saved_seq: int = 0
    n_events: int = 0
    saved_at: float = 0.0
    segments: dict[str, WindowStats] = field(default_factory=dict)
    #: Held while this partial's buffers are folded or its profile packed; never
    #: while holding the ingest lock (lock order: a partial's lock, then the ingest lock).
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def add(
        self, events: Sequence[Mapping[str, Any]], seq: int, block: EventBlock | None = None
    ) -> None:
        """Buffer ``events`` (batch ``seq``) in every segment they belong to, as columns.

        ``block``: the events as columns, when the caller has them already. The
        buffers are folded by :meth:`fold` (when "all traffic" holds
        ``fold_rows`` rows, see :attr:`due`) or when the partial is saved.
        """
        if events:
            if block is None:
                block = EventBlock.of(self.schema, events)
            self._stats(ALL).update(block)
            for seg, rows in self._segment_rows(events).items():
                self._stats(seg).update(block.take(rows))
            self.n_events += len(events)
        self.folded_seq = seq

    @property
    def due(self) -> bool:
        """True when "all traffic" buffers ``fold_rows`` rows: time to fold every segment."""
        stats = self.segments.get(ALL)
        return stats is not None and stats.buffered >= self.config.fold_rows

    def cut(self) -> Cut:
        """(covered seq, events, [(segment, stats, its detached buffer)]).

        Call under the ingest lock: an exact cut at batch ``covered seq``.
        """
        segs = [(name, st, st.take_buffer()) for name, st in self.segments.items()]
        return self.folded_seq, self.n_events, segs

    def fold(self, cut: Cut) -> None:
        """Fold a :meth:`cut` into the profiles: call holding :attr:`lock`, not the ingest lock."""
        for _, stats, blocks in cut[2]:
            stats.fold_blocks(blocks)

    def split_keys(self, events: Sequence[Mapping[str, Any]]) -> tuple[str, ...]:
        """The configured segment keys; without any, up to ``auto_segment_keys`` of the keys
        the events carry, first seen first (kept for the window: the segments it holds)."""
        cfg = self.config
        if cfg.segment_keys or cfg.auto_segment_keys <= 0:
            return cfg.segment_keys
        keys = list(dict.fromkeys(s.split("=", 1)[0] for s in self.segments if s != ALL))
        if len(keys) < cfg.auto_segment_keys and isinstance(events, ArrowEvents):
            for k in events.segment_keys():
                if k not in keys and len(keys) < cfg.auto_segment_keys:
                    keys.append(k)
        elif len(keys) < cfg.auto_segment_keys:
            for e in events:
                seg = e.get("segment")
                if not seg:
                    continue
                for k, v in seg.items():
                    if v is not None and k not in keys and len(keys) < cfg.auto_segment_keys:
                        keys.append(str(k))
                if len(keys) >= cfg.auto_segment_keys:
                    break
        return tuple(keys)

    def _segment_rows(self, events: Sequence[Mapping[str, Any]]) -> dict[str, list[int]]:
        """Rows of each segment value; values beyond ``max_segments`` share OTHER."""
        cfg = self.config
        out: dict[str, list[int]] = {}
        for key in self.split_keys(events):
            by_value: dict[str, list[int]] = {}
            if isinstance(events, ArrowEvents):
                for v, at in events.segment_groups(key).items():
                    by_value.setdefault(f"{key}={v}", []).extend(at.tolist())
                for got in by_value.values():  # one name from two values: rows in order
                    got.sort()
            else:
                for i, e in enumerate(events):
                    seg = e.get("segment")
                    v = seg.get(key) if seg else None
                    if v is not None:
                        by_value.setdefault(f"{key}={v}", []).append(i)
            prefix = key + "="
            for name, rows in by_value.items():
                if name not in self.segments:
                    if sum(s.startswith(prefix) for s in self.segments) >= cfg.max_segments:
                        name = prefix + OTHER
                    self._stats(name)
                out.setdefault(name, []).extend(rows)
            if prefix + OTHER in out:
                out[prefix + OTHER].sort()
        return out

    def _stats(self, seg: str) -> WindowStats:
        stats = self.segments.get(seg)
        if stats is None:
            cfg = self.config
            stats = WindowStats(
                self.schema,
                cfg.reservoir_size,
                _seed(self.partial_id, seg),
                cfg.max_unknown_features,
            )
            self.segments[seg] = stats
        return stats

    @property
    def dirty(self) -> bool:
        return self.folded_seq > self.saved_seq

    def row(
        self,
        replica: str,
        now: float,
        cut: Cut | None = None,
    ) -> dict[str, Any]:
        """The partial as a store row; with a folded ``cut``: as of that cut."""
        if cut is None:
            profile = pack_segments(self.segments)
            covered, n_events = self.folded_seq, self.n_events
        else:
            segs = {name: st for name, st, _ in cut[2]}
            covered, n_events, profile = cut[0], cut[1], pack_segments(segs, folded=True)
        return {
            "partial_id": self.partial_id,
            "model": self.model,
            "version": self.version,
            "window_start": self.start,
            "replica": replica,
            "covered_seq": covered,
            "n_events": n_events,
            "profile": profile,
            "updated_at": now,
        }


class LiveWindows:
    """This process's live partials: ingest folds new events in, ``flush`` saves them.

    ``ingest`` holds a lock from assigning the batch number to buffering the new
    events, so that a cut of a partial's buffers covers exactly its batches
    ``<= covered_seq``. The expensive work, folding the buffers into profiles and
    packing them, runs outside that lock under the partial's own lock: one
    model's large fold or checkpoint never makes another model's ingest wait.
    """

    def __init__(
        self,
        store: Store,
        config: WindowConfig,
        clock: Clock,
        replica: str | None = None,
        schema_ttl: float = 30.0,
        max_columns: int = 1000,
        on_capped: Callable[[str, str, int], None] | None = None,
        on_prescores: OnResult | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.clock = clock
        self.replica = replica or uuid.uuid4().hex[:12]
        self.schema_ttl = schema_ttl
        #: Columns a version gets from its first events; ``on_capped(model, version,
        #: n)`` hears how many feature names were left out (they count as unknown).
        self.max_columns = max_columns
        self.on_capped = on_capped
        #: ``on_prescores(model, result, n)``: SDK outlier scores by result (prescored.py)
        self.on_prescores = on_prescores
        self._lock = threading.Lock()
        self._partials: dict[tuple[str, str, int], LivePartial] = {}
        self._retired: list[LivePartial] = []
        self._schemas: dict[tuple[str, str], tuple[Schema, float]] = {}
        # (model, version) -> (outlier model or None, the reference bytes' hash, checked at)
        self._scorers: dict[tuple[str, str], tuple[OutlierModel | None, int, float]] = {}
        #: (model, version) -> why its reference gave no outlier model
        self.scorer_errors: dict[tuple[str, str], str] = {}

    @property
    def n_live(self) -> int:
        return len(self._partials)

    def buffered_rows(self) -> int:
        return sum(s.buffered for p in self._partials.values() for s in p.segments.values())

    def forget_schema(self, model: str, version: str) -> None:
        self._schemas.pop((model, version), None)

    def schema(self, model: str, version: str, events: Sequence[Mapping[str, Any]]) -> Schema:
        """The live-window columns of a version: the stored one, else inferred from ``events``."""
        now = self.clock.time()
        hit = self._schemas.get((model, version))
        if hit is not None and now - hit[1] < self.schema_ttl:
            return hit[0]
        self.store.ensure_version(model, version, now)
        row = self.store.version(model, version)
        text = row["schema"] if row else None
        if not text:
            left_out = len(feature_names(events)) - self.max_columns
            if left_out > 0 and self.on_capped is not None:
                self.on_capped(model, version, left_out)
            inferred = infer_schema(events, self.max_columns)
            text = self.store.set_version_schema(model, version, schema_to_json(inferred))
        schema = schema_from_json(text)
        self._schemas[(model, version)] = (schema, now)
        return schema

    def scorer(self, model: str, version: str, recheck: bool = False) -> OutlierModel | None:
        """The version's outlier model, fitted on its reference (refitted when it changes;
        the reference is looked at every ``schema_ttl`` seconds, or now with ``recheck``)."""
        if self.config.outliers is None:
            return None
        now = self.clock.time()
        hit = self._scorers.get((model, version))
        if hit is not None and now - hit[2] < self.schema_ttl and not recheck:
            return hit[0]
        data = self.store.reference(model, version)
        digest = zlib.crc32(data) if data is not None else -1
        if hit is not None and hit[1] == digest:
            self._scorers[(model, version)] = (hit[0], digest, now)
            return hit[0]
        fitted: OutlierModel | None = None
        if data is not None:
            from driftline.errors import DriftlineError
            from driftline.stats.profile import DatasetProfile

            try:
                ref = DatasetProfile.from_bytes(data)
                fitted = OutlierModel(self.config.outliers).fit(ref)
                self.scorer_errors.pop((model, version), None)
            except (DriftlineError, ValueError, ArithmeticError) as exc:
                from driftline.stats.outliers import NoOutlierFeaturesError

                # a version without any scorable feature is not a problem to warn about
                level = logging.INFO if isinstance(exc, NoOutlierFeaturesError) else logging.WARNING
                log.log(level, "driftline: no outlier model for %s/%s: %s", model, version, exc)
                self.scorer_errors[(model, version)] = str(exc)
        self._scorers[(model, version)] = (fitted, digest, now)
        return fitted

    def outlier_wire(self, model: str, version: str) -> dict[str, Any] | None:
        """The version's outlier model as the SDK fetches it (with the live column kinds),
        or None when it has none (no reference, outliers off, or too little reference)."""
        fitted = self.scorer(model, version, recheck=True)
        if fitted is None:
            return None
        hit = self._schemas.get((model, version))
        schema = hit[0] if hit is not None else None
        if schema is None:
            row = self.store.version(model, version)
            schema = schema_from_json(row["schema"]) if row and row["schema"] else None
        return fitted.wire(None if schema is None else wire_kinds(fitted, schema))

    def ingest(
        self,
        events: Sequence[dict[str, Any]],
        table: pa.Table | None = None,
        segment: pa.Table | None = None,
    ) -> set[str]:
        """Store ``events`` (normalised, with ``payload``) and fold the new ones in.

        ``table``: the events as a validated Arrow batch, row for row (server/ingest_arrow.py):
        their window columns are then taken from it column by column. ``segment``: their
        payload fields, row for row (store/segments.py), stored as one segment instead of
        each event's ``payload``; the events then need only the fields read here (an Arrow
        batch's carry ``event_id``, ``prediction_id``, ``ts``, ``model``, ``version``,
        ``status``, ``shadow``, ``segment`` and ``outlier``): whatever needs all of an
        event (a version's first schema, a partial from before a new reference) reads the
        segment's.

        Returns the ids that were new. Raises whatever the store raises; then
        nothing was folded and the affected partials are rotated, so events the
        store may have kept anyway are recovered from the raw table.
        """
        base = self.config.base
        groups = _groups(events, base)
        where = (
            {id(e): i for i, e in enumerate(events)}
            if segment is not None and not (isinstance(events, ArrowEvents))
            else {}
        )
        whole: list[dict[str, Any]] = []

        def rows_of(evs: Sequence[Mapping[str, Any]]) -> list[int]:
            """The batch rows of ``evs`` (their rows in ``table`` and ``segment``)."""
            if isinstance(evs, ArrowEvents):
                return evs.rows.tolist()  # type: ignore[no-any-return]
            return [where[id(e)] for e in evs]

        def full(evs: Sequence[Mapping[str, Any]]) -> Sequence[Mapping[str, Any]]:
            """``evs`` with all their fields (an Arrow batch's, from its segment)."""
            if segment is None:
                return evs
            if not whole:
                whole.extend(segments.events_of(segment))
            return [whole[i] for i in rows_of(evs)]

        schemas = {
            (m, v): self.schema(m, v, _Later(functools.partial(full, evs)))
            for (m, v, _), evs in groups.items()
        }
        scorers = {mv: self.scorer(*mv) for mv in schemas}
        # columns are built (and outliers scored) before taking the lock: other requests
        # can store meanwhile
        tables = _split(table, groups, rows_of) if table is not None else {}
        verify = self.config.outlier_prescores == "check"
        blocks = {}
        for key, evs in groups.items():
            schema = schemas[key[:2]]
            if key in tables:
                block = EventBlock.of_arrow(schema, tables[key], evs)
            else:
                block = EventBlock.of(schema, full(evs))
            blocks[key] = scored(
                block, scorers[key[:2]], evs, schema, verify=verify, on_result=self.on_prescores
            )
        now = self.clock.time()
        stored: EventSegment | None = None
        if segment is not None:
            stored = EventSegment(uuid.uuid4().hex, now, len(events), segments.encode(segment))
        with self._lock:
            rows: list[tuple[Any, ...]] = []
            assigned: list[tuple[LivePartial, int, Sequence[Mapping[str, Any]], EventBlock]] = []
            fresh: list[WindowKey] = []
            for key, evs in groups.items():
                p = self._partials.get(key)
                if p is None:
                    p = LivePartial(key[0], key[1], key[2], schemas[key[:2]], self.config)
                    self._partials[key] = p
                    fresh.extend(self.config.keys_of(*key))
                seq = p.next_seq()
                pid, start = p.partial_id, key[2]
                if isinstance(evs, ArrowEvents) and stored is not None:
                    k = len(evs)
                    rows.extend(zip(
                        evs.event_id, evs.model, evs.version, evs.prediction_id, evs.ts_list,
                        repeat(now, k), repeat(start, k), repeat(pid, k), repeat(seq, k),
                        evs.status, evs.shadow, repeat("", k), repeat(stored.segment_id, k),
                        evs.rows.tolist(), strict=False,
                    ))  # fmt: skip
                elif stored is not None:
                    sid = stored.segment_id
                    rows.extend(
                        (e["event_id"], e["model"], e["version"], e["prediction_id"], e["ts"],
                         now, start, pid, seq, e["status"], e["shadow"], "", sid, where[id(e)])
                        for e in evs
                    )  # fmt: skip
                else:
                    rows.extend(
                        (
                            e["event_id"],
                            e["model"],
                            e["version"],
                            e["prediction_id"],
                            e["ts"],
                            now,
                            start,
                            pid,
                            seq,
                            e["status"],
                            e["shadow"],
                            e["payload"],
                        )
                        for e in evs
                    )
                block = blocks[key]
                if p.schema is not schemas[key[:2]] and p.schema != schemas[key[:2]]:
                    # a partial from before a new reference
                    block = EventBlock.of(p.schema, full(evs))
                assigned.append((p, seq, evs, block))
            try:
                if fresh:
                    self.store.mark_changed(fresh, now)
                new = (
                    self.store.insert_events(rows)
                    if stored is None
                    else self.store.insert_events(rows, stored)
                )
                for p, seq, evs, block in assigned:
                    if len(new) == len(rows):
                        p.add(evs, seq, block)
                    else:
                        ids = (
                            evs.event_id
                            if isinstance(evs, ArrowEvents)
                            else ([e["event_id"] for e in evs])
                        )
                        keep = [i for i, eid in enumerate(ids) if eid in new]
                        kept = block.take(keep)
                        if block.review:  # the new events' review candidates stay
                            kept.review = [c for c in block.review if c[1] in new] or None
                        p.add(
                            evs.take(keep) if isinstance(evs, ArrowEvents)
                            else [evs[i] for i in keep],
                            seq, kept,
                        )  # fmt: skip
            except BaseException:
                for p, *_ in assigned:
                    self._rotate(p)
                raise
        for p, *_ in assigned:
            if p.due:
                self._fold(p)
        return new

    def _fold(self, p: LivePartial) -> None:
        """Fold ``p``'s buffers unless another thread is at it (it folds them, or the next does)."""
        if not p.lock.acquire(blocking=False):
            return
        try:
            with self._lock:
                cut = p.cut()
            p.fold(cut)
        finally:
            p.lock.release()

    def _rotate(self, p: LivePartial) -> None:
        key = (p.model, p.version, p.start)
        if self._partials.get(key) is p:
            del self._partials[key]
            self._retired.append(p)

    def flush(self, force: bool = False) -> int:
        """Save closed (and, every ``checkpoint_seconds``, open) partials; return how many."""
        now = self.clock.time()
        cfg = self.config
        with self._lock:
            todo: list[LivePartial] = []
            for key, p in list(self._partials.items()):
                closed = p.start + cfg.base + cfg.grace_seconds <= now
                due = now - p.saved_at >= cfg.checkpoint_seconds
                if p.dirty and (closed or force or due):
                    todo.append(p)
                if closed:
                    del self._partials[key]
            todo.extend(p for p in self._retired if p.dirty)
            self._retired = []
        rows = []
        for p in todo:
            with p.lock:  # folding and packing: outside the ingest lock
                with self._lock:
                    cut = p.cut()
                p.fold(cut)
                rows.append((p, p.row(self.replica, now, cut)))
        for p, row in rows:
            self.store.save_partial(row)
            self.store.mark_changed(cfg.keys_of(p.model, p.version, p.start), now)
            p.saved_seq = int(row["covered_seq"])
            p.saved_at = now
        return len(rows)
