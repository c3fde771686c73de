"""This process's live window partials: ingest folds new events in, ``flush`` saves them.

Exactly once, with crashes: every stored event records the ``partial_id`` and
``seq`` (ingest batch number) of the live partial it was folded into. A saved
partial records ``covered_seq``, the last batch its profile includes; the
evaluator folds from the raw events whatever no saved partial covers.
"""

from __future__ import annotations

import threading
import uuid
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from driftline._utils.clock import WallClock as Clock
from driftline.schema import Schema
from driftline.store.base import Store, WindowKey
from driftline.windows.columns import EventBlock, infer_schema, schema_from_json, schema_to_json
from driftline.windows.config import ALL, OTHER, WindowConfig, window_start
from driftline.windows.stats import WindowStats, pack_segments


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

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def add(
        self, events: Sequence[Mapping[str, Any]], seq: int, block: EventBlock | None = None
    ) -> None:
        """Fold ``events`` (batch ``seq``) into every segment they belong to, as columns.

        ``block``: the events as columns, when the caller has them already.
        """
        if events:
            if block is None:
                block = EventBlock.of(self.schema, events)
            self._stats(ALL).update(block)
            for seg, rows in self._segment_rows(events).items():
                self._stats(seg).update(block.take(rows))
            # every segment folds when "all traffic" has fold_rows rows buffered: a
            # partial never holds more than fold_rows rows per segment key (plus one)
            if self.segments[ALL].buffered >= self.config.fold_rows:
                for stats in self.segments.values():
                    stats.fold()
            self.n_events += len(events)
        self.folded_seq = seq

    def _segment_rows(self, events: Sequence[Mapping[str, Any]]) -> dict[str, list[int]]:
        """Rows of each configured segment value; values beyond ``max_segments`` share OTHER."""
        cfg = self.config
        out: dict[str, list[int]] = {}
        for key in cfg.segment_keys:
            by_value: dict[str, list[int]] = {}
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

    def row(self, replica: str, now: float) -> dict[str, Any]:
        return {
            "partial_id": self.partial_id,
            "model": self.model,
            "version": self.version,
            "window_start": self.start,
            "replica": replica,
            "covered_seq": self.folded_seq,
            "n_events": self.n_events,
            "profile": pack_segments(self.segments),
            "updated_at": now,
        }


class LiveWindows:
    """This process's live partials: ingest folds new events in, ``flush`` saves them.

    ``ingest`` holds a lock from assigning the batch number to folding the new
    events, so that a saved partial covers exactly its batches ``<= covered_seq``.
    """

    def __init__(
        self,
        store: Store,
        config: WindowConfig,
        clock: Clock,
        replica: str | None = None,
        schema_ttl: float = 30.0,
    ) -> None:
        self.store = store
        self.config = config
        self.clock = clock
        self.replica = replica or uuid.uuid4().hex[:12]
        self.schema_ttl = schema_ttl
        self._lock = threading.Lock()
        self._partials: dict[tuple[str, str, int], LivePartial] = {}
        self._retired: list[LivePartial] = []
        self._schemas: dict[tuple[str, str], tuple[Schema, float]] = {}

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
            text = self.store.set_version_schema(
                model, version, schema_to_json(infer_schema(events))
            )
        schema = schema_from_json(text)
        self._schemas[(model, version)] = (schema, now)
        return schema

    def ingest(self, events: Sequence[dict[str, Any]]) -> set[str]:
        """Store ``events`` (normalised, with ``payload``) and fold the new ones in.

        Returns the ids that were new. Raises whatever the store raises; then
        nothing was folded and the affected partials are rotated, so events the
        store may have kept anyway are recovered from the raw table.
        """
        base = self.config.base
        groups: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
        for e in events:
            groups.setdefault((e["model"], e["version"], window_start(e["ts"], base)), []).append(e)
        schemas = {(m, v): self.schema(m, v, evs) for (m, v, _), evs in groups.items()}
        # columns are built before taking the lock: other requests can store meanwhile
        blocks = {key: EventBlock.of(schemas[key[:2]], evs) for key, evs in groups.items()}
        now = self.clock.time()
        with self._lock:
            rows: list[tuple[Any, ...]] = []
            assigned: list[tuple[LivePartial, int, list[dict[str, Any]], EventBlock]] = []
            fresh: list[WindowKey] = []
            for key, evs in groups.items():
                p = self._partials.get(key)
                if p is None:
                    p = LivePartial(key[0], key[1], key[2], schemas[key[:2]], self.config)
                    self._partials[key] = p
                    fresh.extend(self.config.keys_of(*key))
                seq = p.next_seq()
                pid, start = p.partial_id, key[2]
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
                    block = EventBlock.of(p.schema, evs)  # a partial from before a new reference
                assigned.append((p, seq, evs, block))
            try:
                if fresh:
                    self.store.mark_changed(fresh, now)
                new = self.store.insert_events(rows)
                for p, seq, evs, block in assigned:
                    if len(new) == len(rows):
                        p.add(evs, seq, block)
                    else:
                        keep = [i for i, e in enumerate(evs) if e["event_id"] in new]
                        p.add([evs[i] for i in keep], seq, block.take(keep))
            except BaseException:
                for p, *_ in assigned:
                    self._rotate(p)
                raise
        return new

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
            rows = [(p, p.row(self.replica, now)) for p in todo]
        for p, row in rows:
            self.store.save_partial(row)
            self.store.mark_changed(cfg.keys_of(p.model, p.version, p.start), now)
            p.saved_seq = int(row["covered_seq"])
            p.saved_at = now
        return len(rows)
