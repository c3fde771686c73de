"""Window keys, live window profiles and the evaluator.

A prediction event belongs to the *base window* that contains its timestamp
(event time, not arrival time). Each collector process keeps one
:class:`LivePartial` per (model, version, base window) it has seen events for:
a :class:`WindowStats` per segment (``"*"`` for all traffic, ``"region=eu"``
for configured segment keys), i.e. a :class:`~driftline.stats.profile.DatasetProfile`
plus operational counters. Memory is bounded: profiles have fixed-size
sketches and reservoirs, and rows wait in a buffer of at most ``fold_rows``
before they are folded in.

Exactly once, with crashes: every stored event records the ``partial_id`` and
``seq`` (ingest batch number) of the live partial it was folded into. A saved
partial records ``covered_seq``, the last batch its profile includes. The
evaluator merges the saved partials of all replicas and folds, from the raw
events, whatever no saved partial covers (batches after a replica's last
checkpoint, or the whole partial of a replica that died). The result does not
depend on which replica received which event, nor on whether one crashed.

Larger windows (1 h, 1 day) are merges of the base windows they contain.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import uuid
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

import numpy as np
import orjson
import pyarrow as pa

from driftline.errors import ConfigError, DriftlineError, InputError
from driftline.report.compare import build_report
from driftline.schema import ColumnSpec, Kind, Role, Schema
from driftline.stats._codec import pack, unpack
from driftline.stats.accumulators import Moments, QuantileSketch
from driftline.stats.drift.rules import DriftOptions
from driftline.stats.performance import ClassificationMetrics, RegressionMetrics
from driftline.stats.profile import DatasetProfile
from driftline.stats.quality import QualityThresholds
from driftline.store.base import Store, WindowKey

log = logging.getLogger("driftline.windows")

ALL = "*"
OTHER = "__other__"
FORMAT_VERSION = 1
_NUMERIC = frozenset({Kind.NUMERIC})


class Clock(Protocol):
    """Wall-clock time in epoch seconds (``driftline.sdk.clock`` clocks fit)."""

    def time(self) -> float: ...


def window_start(ts: float, size: int) -> int:
    """Start (epoch seconds) of the window of ``size`` seconds that contains ``ts``."""
    return math.floor(ts / size) * size


@dataclass(frozen=True)
class WindowConfig:
    """How events are windowed; docs/collector.md explains each field."""

    sizes: tuple[int, ...] = (300, 3600, 86400)
    grace_seconds: int = 60
    checkpoint_seconds: int = 60
    reservoir_size: int = 1000
    fold_rows: int = 4096
    segment_keys: tuple[str, ...] = ()
    max_segments: int = 20
    max_unknown_features: int = 100

    def __post_init__(self) -> None:
        if not self.sizes or any(s <= 0 for s in self.sizes):
            raise ConfigError(f"window sizes={self.sizes!r}; allowed: positive seconds")
        base = min(self.sizes)
        bad = [s for s in self.sizes if s % base]
        if bad:
            raise ConfigError(
                f"window sizes={list(self.sizes)}: {bad} is not a multiple of the smallest "
                f"size {base}; allowed: multiples of the base window"
            )
        if self.grace_seconds < 0 or self.reservoir_size < 1 or self.fold_rows < 1:
            raise ConfigError(
                "window grace_seconds must be >= 0, reservoir_size and fold_rows >= 1"
            )

    @property
    def base(self) -> int:
        return min(self.sizes)

    def keys_of(self, model: str, version: str, base_start: int) -> list[WindowKey]:
        """Every window (one per size) that contains the base window at ``base_start``."""
        return [WindowKey(model, version, s, window_start(base_start, s)) for s in self.sizes]

    def segments_of(self, segment: Mapping[str, Any] | None) -> list[str]:
        out = [ALL]
        if segment:
            for k in self.segment_keys:
                v = segment.get(k)
                if v is not None:
                    out.append(f"{k}={v}")
        return out


# -- schemas -----------------------------------------------------------------------------


def schema_to_json(schema: Schema) -> str:
    return orjson.dumps(schema.to_dict()).decode()


def schema_from_json(text: str) -> Schema:
    data = orjson.loads(text)
    return Schema.from_specs(
        ColumnSpec(name, Kind(spec["kind"]), Role(spec["role"])) for name, spec in data.items()
    )


def infer_schema(events: Sequence[Mapping[str, Any]]) -> Schema:
    """Columns and kinds from the features of the first events of a version."""
    names: dict[str, None] = {}
    for e in events:
        for k in e.get("features") or {}:
            names.setdefault(str(k), None)
    cols = {n: [(e.get("features") or {}).get(n) for e in events] for n in names}
    specs = []
    for name, values in cols.items():
        present = [v for v in values if v is not None]
        if present and all(isinstance(v, bool) for v in present):
            kind = Kind.BOOLEAN
        elif present and all(isinstance(v, int | float) for v in present):
            kind = Kind.NUMERIC
        elif present and all(isinstance(v, list) for v in present):
            kind = Kind.EMBEDDING
        else:
            kind = Kind.CATEGORICAL
        specs.append(ColumnSpec(name, kind, Role.FEATURE))
    return Schema.from_specs(specs)


_ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError)


def _arrow_type(spec: ColumnSpec) -> pa.DataType:
    kind = spec.kind
    if kind in _NUMERIC:
        return pa.float64()
    if kind is Kind.EMBEDDING:
        return pa.list_(pa.float64())
    if kind is Kind.BOOLEAN:
        return pa.bool_()
    if kind is Kind.DATETIME:
        return pa.timestamp("us")
    return pa.string()


def _column(spec: ColumnSpec, values: list[Any]) -> pa.Array:
    """One column of ``values`` as the kind of ``spec`` wants; odd values never raise."""
    kind = spec.kind
    if kind in _NUMERIC or kind is Kind.CATEGORICAL or kind is Kind.TEXT:
        try:
            return pa.array(values, type=_arrow_type(spec))
        except _ARROW_ERRORS:
            pass
    if kind in _NUMERIC:
        # strings are parsed by the profile, which counts what does not parse as type errors
        return pa.array([None if v is None else _text(v) for v in values], type=pa.string())
    if kind is Kind.EMBEDDING:
        vecs = [
            v if isinstance(v, list) and all(type(x) in (int, float) for x in v) else None
            for v in values
        ]
        return pa.array(vecs, type=pa.list_(pa.float64()))
    if kind is Kind.BOOLEAN:
        return pa.array([v if isinstance(v, bool) else None for v in values], type=pa.bool_())
    if kind is Kind.DATETIME:
        return pa.array([_as_datetime(v) for v in values], type=pa.timestamp("us"))
    return pa.array(
        [None if v is None else (v if type(v) is str else _text(v)) for v in values],
        type=pa.string(),
    )


def _text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return v if isinstance(v, str) else orjson.dumps(v).decode()


def _as_datetime(v: Any) -> datetime | None:
    try:
        if isinstance(v, int | float) and not isinstance(v, bool):
            return datetime.fromtimestamp(float(v), tz=timezone.utc).replace(tzinfo=None)
        if isinstance(v, str):
            return datetime.fromisoformat(v.replace("Z", "+00:00")).replace(tzinfo=None)
    except (ValueError, OverflowError, OSError):
        return None
    return None


def events_table(schema: Schema, events: Sequence[Mapping[str, Any]]) -> pa.Table:
    """The Arrow table of ``events`` with the columns of ``schema`` (missing -> null).

    A column with the prediction role takes the event's ``prediction`` when the
    features do not carry it. The fast path converts all columns in one Arrow
    call; a batch with odd values falls back to column by column.
    """
    feats = [e.get("features") or {} for e in events]
    arrow = pa.schema([pa.field(s.name, _arrow_type(s)) for s in schema])
    try:
        table = pa.Table.from_pylist(feats, schema=arrow)
    except _ARROW_ERRORS:
        table = pa.Table.from_arrays(
            [_column(s, [f.get(s.name) for f in feats]) for s in schema], names=schema.names
        )
    for i, spec in enumerate(schema):
        if spec.role is Role.PREDICTION:
            vals = [
                f.get(spec.name, e.get("prediction")) for f, e in zip(feats, events, strict=True)
            ]
            table = table.set_column(i, spec.name, _column(spec, vals))
    return table


# -- accumulators ------------------------------------------------------------------------


class WindowStats:
    """One segment of one window: a dataset profile plus operational counters."""

    _KIND = "window_stats"

    def __init__(self, schema: Schema, reservoir_size: int = 1000, seed: int = 0) -> None:
        self.profile = DatasetProfile(schema, reservoir_size)
        self.n_events = 0
        self.n_errors = 0
        self.n_shadow = 0
        self.latency = Moments()
        self.latency_q = QuantileSketch()
        self.unknown: dict[str, int] = {}
        self._buffer: list[Mapping[str, Any]] = []
        self._rng = np.random.default_rng(seed)

    def add(self, event: Mapping[str, Any], max_unknown: int) -> None:
        self._buffer.append(event)
        self.n_events += 1
        if event.get("status") == "error":
            self.n_errors += 1
        if event.get("shadow"):
            self.n_shadow += 1
        features = event.get("features") or {}
        cols = self.profile.columns
        if not features.keys() <= cols.keys():
            for k in features:
                if k not in cols and (k in self.unknown or len(self.unknown) < max_unknown):
                    self.unknown[k] = self.unknown.get(k, 0) + 1

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def fold(self) -> WindowStats:
        """Fold the buffered rows into the profile (one vectorised update)."""
        if not self._buffer:
            return self
        rows, self._buffer = self._buffer, []
        self.profile.update(events_table(self.profile.schema, rows), self._rng)
        lat = np.array(
            [r["latency_ms"] for r in rows if r.get("latency_ms") is not None], dtype=np.float64
        )
        if lat.size:
            seconds = lat / 1000.0
            self.latency.update(seconds)
            self.latency_q.update(seconds, self._rng)
        return self

    def merge(self, other: WindowStats) -> WindowStats:
        self.fold()
        other.fold()
        self.profile.merge(other.profile)
        self.n_events += other.n_events
        self.n_errors += other.n_errors
        self.n_shadow += other.n_shadow
        self.latency.merge(other.latency)
        self.latency_q.merge(other.latency_q)
        for k, n in other.unknown.items():
            self.unknown[k] = self.unknown.get(k, 0) + n
        return self

    def to_bytes(self) -> bytes:
        self.fold()
        scalars = {
            "n_events": self.n_events,
            "n_errors": self.n_errors,
            "n_shadow": self.n_shadow,
            "unknown": self.unknown,
        }
        arrays = {
            "profile": np.frombuffer(self.profile.to_bytes(), dtype=np.uint8),
            "latency": np.frombuffer(self.latency.to_bytes(), dtype=np.uint8),
            "latency_q": np.frombuffer(self.latency_q.to_bytes(), dtype=np.uint8),
        }
        return pack(self._KIND, FORMAT_VERSION, scalars, arrays)

    @classmethod
    def from_bytes(cls, data: bytes) -> WindowStats:
        _, s, a = unpack(cls._KIND, data, FORMAT_VERSION)
        profile = DatasetProfile.from_bytes(a["profile"].tobytes())
        out = cls(profile.schema, profile.reservoir_size)
        out.profile = profile
        out.n_events = int(s["n_events"])
        out.n_errors = int(s["n_errors"])
        out.n_shadow = int(s["n_shadow"])
        out.unknown = {str(k): int(v) for k, v in s["unknown"].items()}
        out.latency = Moments.from_bytes(a["latency"].tobytes())
        out.latency_q = QuantileSketch.from_bytes(a["latency_q"].tobytes())
        return out


def pack_segments(segments: Mapping[str, WindowStats]) -> bytes:
    arrays = {f"seg:{k}": np.frombuffer(v.to_bytes(), dtype=np.uint8) for k, v in segments.items()}
    return zlib.compress(pack("window_partial", FORMAT_VERSION, {"n": len(arrays)}, arrays), 1)


def unpack_segments(data: bytes) -> dict[str, WindowStats]:
    _, _, a = unpack("window_partial", zlib.decompress(data), FORMAT_VERSION)
    return {k[4:]: WindowStats.from_bytes(v.tobytes()) for k, v in a.items()}


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

    def add(self, events: Iterable[Mapping[str, Any]], seq: int) -> None:
        cfg = self.config
        for e in events:
            for seg in cfg.segments_of(e.get("segment")):
                stats = self.segments.get(seg)
                if stats is None and seg != ALL:
                    prefix = seg.split("=", 1)[0] + "="
                    if sum(s.startswith(prefix) for s in self.segments) >= cfg.max_segments:
                        seg = prefix + OTHER
                        stats = self.segments.get(seg)
                if stats is None:
                    stats = WindowStats(
                        self.schema,
                        cfg.reservoir_size,
                        _seed(self.partial_id, seg),
                    )
                    self.segments[seg] = stats
                stats.add(e, cfg.max_unknown_features)
                if stats.buffered >= cfg.fold_rows:
                    stats.fold()
            self.n_events += 1
        self.folded_seq = seq

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


# -- the live windows of one process ---------------------------------------------------------


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
        now = self.clock.time()
        with self._lock:
            rows: list[dict[str, Any]] = []
            assigned: list[tuple[LivePartial, int, list[dict[str, Any]]]] = []
            fresh: list[WindowKey] = []
            for key, evs in groups.items():
                p = self._partials.get(key)
                if p is None:
                    p = LivePartial(key[0], key[1], key[2], schemas[key[:2]], self.config)
                    self._partials[key] = p
                    fresh.extend(self.config.keys_of(*key))
                seq = p.next_seq()
                for e in evs:
                    rows.append(_event_row(e, key[2], p.partial_id, seq, now))
                assigned.append((p, seq, evs))
            try:
                if fresh:
                    self.store.mark_changed(fresh, now)
                new = self.store.insert_events(rows)
                for p, seq, evs in assigned:
                    p.add((e for e in evs if e["event_id"] in new), seq)
            except BaseException:
                for p, _, _ in assigned:
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


def _event_row(
    e: Mapping[str, Any], start: int, partial_id: str, seq: int, now: float
) -> dict[str, Any]:
    return {
        "event_id": e["event_id"],
        "model": e["model"],
        "version": e["version"],
        "prediction_id": e["prediction_id"],
        "ts": e["ts"],
        "received_at": now,
        "window_start": start,
        "partial_id": partial_id,
        "seq": seq,
        "status": e["status"],
        "shadow": e["shadow"],
        "payload": e["payload"],
    }


# -- evaluation ------------------------------------------------------------------------------


@dataclass(frozen=True)
class EvaluatorOptions:
    """Drift and quality settings of the evaluator, as for ``driftline.compare``."""

    drift: DriftOptions = field(default_factory=DriftOptions)
    quality: QualityThresholds = field(default_factory=QualityThresholds)


class Evaluator:
    """Turns changed, closed windows into metric points (idempotent upserts)."""

    def __init__(
        self,
        store: Store,
        config: WindowConfig,
        clock: Clock,
        options: EvaluatorOptions | None = None,
        cache_ttl: float = 30.0,
    ) -> None:
        self.store = store
        self.config = config
        self.clock = clock
        self.options = options or EvaluatorOptions()
        self.cache_ttl = cache_ttl
        self._refs: dict[tuple[str, str], tuple[DatasetProfile | None, float]] = {}
        self.failed = 0

    def forget_reference(self, model: str, version: str) -> None:
        self._refs.pop((model, version), None)

    def run(self, limit: int = 100) -> int:
        """Evaluate up to ``limit`` pending windows; return how many."""
        now = self.clock.time()
        pending = self.store.pending_windows(now - self.config.grace_seconds, limit)
        for pw in pending:
            try:
                points = self.evaluate(pw.key, now)
            except (DriftlineError, ValueError, ArithmeticError):
                # a window that cannot be evaluated must not hold up the others
                log.exception("driftline evaluator: window %s failed", pw.key)
                self.failed += 1
                points = []
            self.store.upsert_metric_points(points)
            self.store.mark_evaluated(pw.key, pw.generation, now)
        return len(pending)

    def collect(self, key: WindowKey) -> dict[str, WindowStats]:
        """The merged window: saved partials of every replica plus uncovered raw events."""
        model, version = key.model, key.version
        start, end = key.window_start, key.window_end
        out: dict[str, WindowStats] = {}
        for part in self.store.partials(model, version, start, end):
            for seg, stats in unpack_segments(part.profile).items():
                _merge_into(out, seg, stats)
        raw = self.store.uncovered_events(model, version, start, end)
        if raw:
            events = [orjson.loads(p) for p in raw]
            row = self.store.version(model, version)
            schema = (
                schema_from_json(row["schema"]) if row and row["schema"] else infer_schema(events)
            )
            rec = LivePartial(model, version, start, schema, self.config, partial_id="recovered")
            rec.add(events, 1)
            for seg, stats in rec.segments.items():
                _merge_into(out, seg, stats)
        return out

    def reference(self, model: str, version: str) -> DatasetProfile | None:
        now = self.clock.time()
        hit = self._refs.get((model, version))
        if hit is not None and now - hit[1] < self.cache_ttl:
            return hit[0]
        data = self.store.reference(model, version)
        ref = DatasetProfile.from_bytes(data) if data is not None else None
        self._refs[(model, version)] = (ref, now)
        return ref

    def evaluate(self, key: WindowKey, now: float) -> list[dict[str, Any]]:
        stats = self.collect(key)
        ref = self.reference(key.model, key.version)
        perf = self.performance(key)
        points = _Points(key, now)
        for seg in sorted(stats):
            st = stats[seg].fold()
            _operational(points, seg, st)
            if ref is not None:
                _drift_and_quality(points, seg, ref, st.profile, self.options)
            else:
                for name, col in st.profile.columns.items():
                    points.add(seg, "missing_ratio", col.missing_ratio, column=name, n=col.count)
            n_ok = st.n_events - st.n_errors - st.n_shadow
            labelled, results = perf.get(seg, (0, None))
            points.add(
                seg,
                "label_coverage_ratio",
                labelled / n_ok if n_ok > 0 else None,
                n=labelled,
            )
            if results is not None:
                _performance_points(points, seg, results)
        return points.rows

    def performance(self, key: WindowKey) -> dict[str, tuple[int, dict[str, Any] | None]]:
        """Per segment: labelled predictions and performance results (joined from raw events)."""
        rows = self.store.labelled(key.model, key.version, key.window_start, key.window_end)
        by_seg: dict[str, list[tuple[Any, Any, Any]]] = {}
        for payload, label_json in rows:
            e = orjson.loads(payload)
            y = orjson.loads(label_json)
            for seg in self.config.segments_of(e.get("segment")):
                by_seg.setdefault(seg, []).append((y, e.get("prediction"), e.get("scores")))
        meta = self.store.version(key.model, key.version)
        task = orjson.loads(meta["meta"]).get("task") if meta else None
        return {seg: (len(r), performance_results(r, task)) for seg, r in by_seg.items()}


def _merge_into(out: dict[str, WindowStats], seg: str, stats: WindowStats) -> None:
    have = out.get(seg)
    if have is None:
        out[seg] = stats
        return
    # a partial made before the version's columns changed (new reference) cannot merge
    with contextlib.suppress(InputError):
        have.merge(stats)


def performance_results(
    rows: Sequence[tuple[Any, Any, Any]], task: str | None
) -> dict[str, Any] | None:
    """Classification or regression metrics of ``(label, prediction, scores)`` rows."""
    pairs = [(y, p, s) for y, p, s in rows if y is not None and p is not None]
    if not pairs:
        return None
    ys = [y for y, _, _ in pairs]
    ps = [p for _, p, _ in pairs]
    if task is None:
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in ys + ps)
        fractional = any(isinstance(v, float) and not v.is_integer() for v in ys + ps)
        task = "regression" if numeric and fractional else "classification"
    try:
        if task == "regression":
            return (
                RegressionMetrics().update(np.asarray(ys, float), np.asarray(ps, float)).results()
            )
        classes = sorted({_label_key(v) for v in ys + ps}, key=str)
        if not 2 <= len(classes) <= 100:
            return None
        yk = [_label_key(v) for v in ys]
        pk = [_label_key(v) for v in ps]
        return ClassificationMetrics(classes, on_unknown_class="exclude").update(yk, pk).results()
    except (InputError, ValueError, TypeError):
        return None


def _label_key(v: Any) -> Any:
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v if isinstance(v, int | str) else str(v)


class _Points:
    def __init__(self, key: WindowKey, now: float) -> None:
        self.key = key
        self.now = now
        self.rows: list[dict[str, Any]] = []

    def add(
        self,
        segment: str,
        metric: str,
        value: Any,
        *,
        column: str = "",
        method: str = "",
        status: str = "ok",
        n: int = 0,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        v = None if value is None else float(value)
        if v is not None and not math.isfinite(v):
            v = None
        self.rows.append(
            {
                "model": self.key.model,
                "version": self.key.version,
                "segment": segment,
                "window_size": self.key.window_size,
                "window_start": self.key.window_start,
                "metric": metric,
                "column": column,
                "method": method,
                "value": v,
                "status": status,
                "n": int(n or 0),
                "details": orjson.dumps(
                    details or {}, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
                ).decode(),
                "evaluated_at": self.now,
            }
        )


def _operational(points: _Points, seg: str, st: WindowStats) -> None:
    n = st.n_events
    points.add(seg, "events", n, n=n)
    points.add(seg, "error_ratio", st.n_errors / n if n else None, n=n)
    points.add(seg, "shadow_ratio", st.n_shadow / n if n else None, n=n)
    if st.latency.n:
        qs = st.latency_q.quantiles(np.array([0.5, 0.95, 0.99]))
        for q, v in zip(("p50", "p95", "p99"), qs.tolist(), strict=True):
            points.add(seg, "latency_seconds", v, method=q, n=st.latency.n)
        points.add(seg, "latency_seconds", st.latency.mean, method="mean", n=st.latency.n)
    top = dict(sorted(st.unknown.items(), key=lambda kv: -kv[1])[:20])
    points.add(seg, "unknown_features", len(st.unknown), n=sum(st.unknown.values()), details=top)


def _drift_and_quality(
    points: _Points, seg: str, ref: DatasetProfile, cur: DatasetProfile, opts: EvaluatorOptions
) -> None:
    if cur.n_rows == 0:
        return
    report = build_report(ref, cur, opts.drift, opts.quality).to_dict()
    for name, col in report["columns"].items():
        d = col["drift"]
        drifted = d.get("drifted")
        points.add(
            seg,
            "drift_score",
            d.get("statistic"),
            column=name,
            method=str(d.get("method") or ""),
            status="drift" if drifted else ("ok" if drifted is False else "unknown"),
            n=d.get("n_current") or 0,
            details={
                "p_value": d.get("p_value"),
                "threshold": d.get("threshold"),
                "computed": d.get("computed"),
            },
        )
        for qc in col["quality"]:
            _quality_point(points, seg, qc, name)
    for qc in report["quality"]:
        _quality_point(points, seg, qc, "")
    ds = report["dataset"]
    points.add(
        seg,
        "drift_detected",
        1.0 if ds["drifted"] else 0.0,
        status="drift" if ds["drifted"] else "ok",
        n=ds["n_current"],
        details={"drifted_columns": ds["drifted_columns"], "rule": ds["rule"]},
    )


def _quality_point(points: _Points, seg: str, qc: Mapping[str, Any], column: str) -> None:
    points.add(
        seg,
        f"quality.{qc['check']}",
        qc.get("value"),
        column=column,
        status=str(qc.get("status") or "ok"),
        details={"threshold": qc.get("threshold")},
    )


def _performance_points(points: _Points, seg: str, results: Mapping[str, Any]) -> None:
    n = int(results.get("n") or 0)
    for name, value in results.items():
        if name in ("n", "task", "computed", "excluded"):
            continue
        if isinstance(value, int | float) and not isinstance(value, bool):
            points.add(seg, f"performance.{name}", value, n=n)
