"""The collector: one object per process tying the store, live windows and evaluator.

Routes call :meth:`Collector.ingest_predictions` and friends; the background
loop calls :meth:`Collector.tick`, which flushes closed windows, evaluates
changed ones, feeds the alert engine (when alerts are configured) and purges
old raw events. Tests call ``tick`` themselves after
advancing a manual clock.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from driftline.errors import HTTPError
from driftline.server import environment
from driftline.server.auth import KeyChecker, Principal
from driftline.server.ingest import Batch, Limits, reject, validate
from driftline.server.metrics import HealthMetrics
from driftline.server.settings import Settings
from driftline.store.base import DEFAULT_PROJECT, Store, WindowKey
from driftline.windows import Clock, Evaluator, LiveWindows
from driftline.windows.events import ArrowEvents
from driftline.windows.llm import JUDGE_PREFIX

if TYPE_CHECKING:
    from collections.abc import Mapping

    from driftline.alerts import AlertsConfig
    from driftline.server.alerting import CollectorAlerts
    from driftline.server.raw_parquet import RawParquetWriter

log = logging.getLogger("driftline.server")
#: The store lease whose holder evaluates alerts (docs/collector.md, "Several replicas").
ALERTING_LEASE = "alerting"


@dataclass
class IngestResult:
    kind: str
    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    #: Records refused because their id belongs to another model's (or project's) record.
    conflicts: int = 0
    #: Labels stored that match no stored prediction (labels only; docs/collector.md).
    unmatched: int = 0

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
        }
        if self.kind == "label":
            out["unmatched"] = self.unmatched
        return out


def tune_gc(threshold: int = 50_000) -> None:
    """Garbage-collector settings for a collector process (called when the app starts).

    Decoding a batch of 500 events allocates some 12 000 containers, so the
    default gen-0 threshold (700) runs a collection every few dozen events and
    the full collections walk every long-lived object of the process. Objects
    alive at start-up are moved out of the collector's sight (``gc.freeze``)
    and gen 0 is collected every ``threshold`` allocations instead: ingest
    creates no reference cycles, so nothing waits longer to be freed.
    """
    gc.collect()
    gc.freeze()
    _, g1, g2 = gc.get_threshold()
    gc.set_threshold(threshold, g1, g2)


def one_blas_thread() -> Any:
    """Run BLAS (OpenBLAS, MKL) on one thread in a collector process (called when the app
    starts, with :func:`tune_gc`); returns threadpoolctl's limiter, or None without it.

    numpy hands long dot products and matrix products to BLAS, whose worker threads
    then spin for milliseconds after every call: the outlier distances of a batch of 500
    events with 50 numeric columns took 10 ms of CPU instead of 0.4 ms
    (benchmarks/RESULTS.md, "Ingest CPU per event, all threads"), CPU taken from the
    request threads, which hold the GIL for nearly all of a collector's work anyway.
    """
    try:
        from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]
    except ImportError:  # a server install has it; an older environment may not
        return None
    return threadpool_limits(limits=1, user_api="blas")


class ForbiddenError(HTTPError):
    """The key's project does not own some of the models it writes or reads (answer 403)."""

    status = 403

    def __init__(self, project: str, models: list[str]) -> None:
        shown = ", ".join(repr(m) for m in models[:5])
        super().__init__(f"this API key's project {project!r} does not include model(s) {shown}")
        self.models = models


class OverloadedError(HTTPError):
    """Too many ingest requests in flight in this process (answer 429)."""

    status = 429

    def __init__(self, message: str = "too many ingest requests in flight; retry later") -> None:
        super().__init__(message)


class Collector:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        clock: Clock,
        *,
        alerts: AlertsConfig | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.metrics = HealthMetrics(settings.max_label_series)
        self.windows = LiveWindows(
            store, settings.windows, clock, replica=settings.replica,
            max_columns=settings.max_version_columns, on_capped=self._columns_capped,
            on_prescores=self._prescores,
        )  # fmt: skip
        self.evaluator = Evaluator(store, settings.windows, clock, settings.evaluator)
        self.keys = KeyChecker(store, clock, settings.key_cache_seconds)
        self._inflight = 0
        self._inflight_lock = threading.Lock()
        self._key_inflight: dict[str, int] = {}
        self._tick_lock = threading.Lock()
        self._projects: dict[str, str] = {}
        self.last_purge = 0.0
        #: False: the background tick flushes this process's partials (and evaluates alerts
        #: while it holds the lease) but leaves evaluating windows and purging to another
        #: process of the same store: the workers of ``serve --workers`` but the first.
        #: An explicit flush (``tick(force_flush=True)``, POST /v1/admin/flush) does all.
        self.evaluates = True
        #: (wall time, reason) of the last write the store refused for lack of space.
        self.write_failure: tuple[float, str] | None = None
        #: The alert engine and its notifiers when alerts are configured (server/alerting.py).
        self.alerts: CollectorAlerts | None = None
        #: This process's name in leases and partials (settings.replica, or random).
        self.replica = settings.replica or f"replica-{uuid.uuid4().hex[:12]}"
        #: Raw prediction events as Parquet (settings.raw_parquet_dir; server/raw_parquet.py).
        self.raw_parquet: RawParquetWriter | None = None
        if settings.raw_parquet_dir:
            from driftline.server.raw_parquet import RawParquetWriter

            self.raw_parquet = RawParquetWriter(
                settings.raw_parquet_dir, replica=self.replica,
                flush_seconds=settings.raw_parquet_flush_seconds,
                registry=self.metrics.registry,
            )  # fmt: skip
        if alerts is not None:
            from driftline.server.alerting import CollectorAlerts

            self.alerts = CollectorAlerts(
                store, alerts, settings.windows.base, clock, env=env,
                registry=self.metrics.registry,
            )  # fmt: skip

    # -- admission --------------------------------------------------------------------
    def admit(self) -> None:
        with self._inflight_lock:
            if self._inflight >= self.settings.max_inflight:
                self.metrics.overload.labels("inflight").inc()
                self.metrics.limit_rejects.labels("max_inflight").inc()
                raise OverloadedError
            self._inflight += 1

    def _columns_capped(self, model: str, version: str, left_out: int) -> None:
        self.metrics.limit_rejects.labels("max_version_columns").inc(left_out)
        log.warning(
            "driftline collector: model %r version %r: %d feature names beyond "
            "max_version_columns=%d are not profiled (counted as unknown features)",
            model, version, left_out, self.settings.max_version_columns,
        )  # fmt: skip

    def _prescores(self, model: str, result: str, n: int) -> None:
        self.metrics.outlier_prescores.labels(result).inc(n)

    def release(self) -> None:
        with self._inflight_lock:
            self._inflight -= 1

    def admit_key(self, key_id: str) -> None:
        """Count one more ingest request of ``key_id`` (body read and processing), or refuse it.

        Raises :class:`OverloadedError` when the key has ``max_inflight_per_key``
        requests in flight already: one key (a slow uploader) never takes the
        slots of the others.
        """
        with self._inflight_lock:
            n = self._key_inflight.get(key_id, 0)
            if n >= self.settings.max_inflight_per_key:
                self.metrics.overload.labels("key_inflight").inc()
                self.metrics.limit_rejects.labels("max_inflight_per_key").inc()
                raise OverloadedError
            self._key_inflight[key_id] = n + 1

    def release_key(self, key_id: str) -> None:
        with self._inflight_lock:
            n = self._key_inflight.get(key_id, 1) - 1
            if n > 0:
                self._key_inflight[key_id] = n
            else:
                self._key_inflight.pop(key_id, None)

    def limits(self) -> Limits:
        s = self.settings
        return Limits(self.clock.time(), s.max_future_seconds, s.max_features, s.max_depth)

    # -- ingest -------------------------------------------------------------------------
    def ingest(self, kind: str, items: list[Any], who: Principal | None = None) -> IngestResult:
        """Validate and store ``items``; ``who`` (None: in-process, every project) must
        reach the models they name, else :class:`ForbiddenError` and nothing is stored."""
        return self.ingest_batch(kind, validate(kind, items, self.limits()), who)

    def ingest_batch(self, kind: str, batch: Batch, who: Principal | None = None) -> IngestResult:
        """Store a validated ``batch`` (JSON or Arrow, see :meth:`ingest`)."""
        result = IngestResult(kind, rejected=batch.rejected)
        project = who.project if who is not None else DEFAULT_PROJECT
        if kind == "job_run":
            for r in batch.accepted:
                r["project"] = project
        elif batch.accepted:
            acc = batch.accepted
            models = set(acc.model) if isinstance(acc, ArrowEvents) else {r["model"] for r in acc}
            self.check_models(models, who, claim=True)
        if kind in ("feedback", "kpi") and batch.accepted:
            self._match_predictions(kind, batch)
            result.rejected = batch.rejected
        result.duplicates = batch.repeated
        if batch.accepted:
            new = self._store(kind, batch)
            conflicts = self._conflicts(kind, batch, who)
            result.rejected = sorted(result.rejected + conflicts, key=lambda r: r["index"])
            result.conflicts = len(conflicts)
            # upserts (job runs) count conflicts as stored, inserts as not new
            upsert = kind == "job_run"
            result.accepted = new - len(conflicts) if upsert else new
            result.unmatched = batch.unmatched
            result.duplicates += len(batch.accepted) - new - (0 if upsert else len(conflicts))
        received = self.metrics.received
        received.labels(kind, "accepted").inc(result.accepted)
        received.labels(kind, "duplicate").inc(result.duplicates)
        received.labels(kind, "rejected").inc(len(result.rejected))
        for limit, n in batch.limited.items():
            self.metrics.limit_rejects.labels(limit).inc(n)
        for reason, n in batch.reasons.items():
            self.metrics.rejects.labels(kind, reason).inc(n)
        return result

    def _match_predictions(self, kind: str, batch: Batch) -> None:
        """Find the windows of the predictions feedback (KPIs) name; reject unknown ones.

        A record naming a prediction the store does not hold (never sent, sent to
        another model, or purged by retention) is rejected with ``field``
        ``prediction_id`` and counted (``driftline_rejects_total{reason=
        "unknown_prediction"}``): its rate could not be attributed to any window.
        A KPI without a prediction belongs to the window of its timestamp.
        """
        cfg = self.settings.windows
        keep: list[dict[str, Any]] = []
        index: list[int] = []
        keys: set[WindowKey] = set()
        by_model: dict[str, list[str]] = {}
        for r in batch.accepted:
            if r["prediction_id"]:
                by_model.setdefault(r["model"], []).append(r["prediction_id"])
        found = {m: self.store.prediction_windows(m, ids) for m, ids in by_model.items()}
        what = "KPI value" if kind == "kpi" else "feedback"
        for i, r in zip(batch.index, batch.accepted, strict=True):
            pid = r["prediction_id"]
            if not pid:
                start = int(r["ts"] // cfg.base * cfg.base)
                keys.update(cfg.keys_of(r["model"], r["version"], start))
            else:
                windows = found[r["model"]].get(pid)
                if not windows:
                    judge = kind == "feedback" and str(r.get("kind")).startswith(JUDGE_PREFIX)
                    batch.rejected.append(reject(
                        i, r["event_id"], "prediction_id",
                        f"{'judge result' if judge else what} for prediction_id {pid!r} of "
                        f"model {r['model']!r}: no such prediction is stored (send the "
                        "prediction first; predictions older than retention_days are purged)",
                    ))  # fmt: skip
                    counted = "judge" if judge else kind
                    self.metrics.rejects.labels(counted, "unknown_prediction").inc()
                    continue
                for version, start in windows:
                    keys.update(cfg.keys_of(r["model"], version, start))
                if r.get("version") is None:
                    r["version"] = windows[0][0]
            keep.append(r)
            index.append(i)
        batch.accepted, batch.index = keep, index
        batch.rejected.sort(key=lambda x: x["index"])
        batch.windows = sorted(
            keys, key=lambda k: (k.model, k.version, k.window_size, k.window_start)
        )

    def _conflicts(self, kind: str, batch: Batch, who: Principal | None) -> list[dict[str, Any]]:
        """Records not stored because their id is taken by another model's (project's) record.

        Before, they were answered as duplicates and silently not stored; now each
        is rejected with ``field`` ``event_id`` (``run_id``) naming the conflict.
        """
        rows = batch.accepted
        if kind == "label":
            return []  # labels upsert by (model, prediction_id): a model's own namespace
        if kind == "job_run":
            ids = [f"{r['job']}/{r['run_id']}" for r in rows]
            owners = self.store.owners(kind, ids)
            return [
                reject(i, r["event_id"], "run_id",
                       f"job {r['job']!r} run_id {r['run_id']!r} belongs to another project's "
                       "job: use another job name or run_id")
                for i, r, x in zip(batch.index, rows, ids, strict=True)
                if owners.get(x, r["project"]) != r["project"]
            ]  # fmt: skip
        if not batch.known:  # every id was new (predictions, feedback): no conflict possible
            return []
        owners = self.store.owners(kind, batch.known)
        if isinstance(rows, ArrowEvents):  # read as columns, not event by event
            return [
                reject(i, eid, "event_id",
                       f"event_id {eid!r} is already used by another model's {kind}; "
                       "event ids must be unique across the collector (the SDK's UUIDv7 ids are)")
                for i, eid, m in zip(batch.index, rows.event_id, rows.model, strict=True)
                if owners.get(eid, m) != m
            ]  # fmt: skip
        return [
            reject(i, r["event_id"], "event_id",
                   f"event_id {r['event_id']!r} is already used by another model's {kind}; "
                   "event ids must be unique across the collector (the SDK's UUIDv7 ids are)")
            for i, r in zip(batch.index, rows, strict=True)
            if owners.get(r["event_id"], r["model"]) != r["model"]
        ]  # fmt: skip

    def note_store_error(self, exc: BaseException) -> None:
        """Remember a write refused for lack of space: /readyz says not ready for a while."""
        text = str(exc).lower()
        if any(s in text for s in ("disk is full", "no space left", "disk full", "diskfull")):
            self.write_failure = (time.time(), "the store's disk is full (a write failed)")

    def recent_write_failure(self, within: float = 30.0) -> str | None:
        f = self.write_failure
        return f[1] if f is not None and time.time() - f[0] < within else None

    def check_models(self, models: Iterable[str], who: Principal | None, claim: bool) -> None:
        """Raise :class:`ForbiddenError` unless ``who`` reaches every model of ``models``.

        With ``claim``, models not stored yet are then created in ``who``'s
        project (a refused request creates nothing). A model's project never
        changes, so the answer is cached.
        """
        names = set(models)
        if names - self._projects.keys():
            self._remember(self.store.model_projects(names - self._projects.keys()))
        if who is not None and not who.is_global:
            known = self._projects
            foreign = sorted(m for m in names if m in known and not who.reaches(known[m]))
            if foreign:
                raise ForbiddenError(who.project, foreign)
        new = names - self._projects.keys()
        if claim and new:
            project = who.project if who is not None else DEFAULT_PROJECT
            self._remember(self.store.claim_models(new, project, self.clock.time()))
            if who is not None and not who.is_global:  # another replica claimed first
                foreign = sorted(m for m in new if not who.reaches(self._projects[m]))
                if foreign:
                    raise ForbiddenError(who.project, foreign)

    def _remember(self, projects: dict[str, str]) -> None:
        if len(self._projects) > 100_000:
            self._projects.clear()
        self._projects.update(projects)

    def _store(self, kind: str, batch: Batch) -> int:
        """Store the accepted records; return how many were new (the rest: see _conflicts)."""
        now = self.clock.time()
        rows = batch.accepted
        batch.known = None
        if kind == "prediction":
            new = self.windows.ingest(rows, batch.table, batch.segment)
            ids = rows.event_id if isinstance(rows, ArrowEvents) else [e["event_id"] for e in rows]
            every = len(new) == len(ids)  # the usual case: every event was new
            batch.known = [] if every else [i for i in ids if i not in new]
            if self.raw_parquet is not None:  # whole events (an Arrow batch's: its segment's)
                from driftline.store.segments import events_of

                whole = rows if batch.segment is None else events_of(batch.segment)
                self.raw_parquet.add([w for i, w in zip(ids, whole, strict=True) if i in new], now)
            counts: dict[tuple[str, str], int] = {}
            if isinstance(rows, ArrowEvents):  # columns: never a dict per event (45 ms/5000)
                for i, m, v in zip(ids, rows.model, rows.version, strict=True):
                    if every or i in new:
                        counts[m, v] = counts.get((m, v), 0) + 1
            else:
                for e in rows:
                    if e["event_id"] in new:
                        mv = (e["model"], e["version"])
                        counts[mv] = counts.get(mv, 0) + 1
            for (m, v), n in counts.items():
                self.metrics.count_ingested(m, v, n)
            self.metrics.live_windows.set(self.windows.n_live)
            return len(new)
        for r in rows:
            r["received_at"] = now
        if kind == "label":
            match = self.store.match_labels(rows)
            for model, n in match.unmatched.items():
                self.metrics.count_unmatched_labels(model, n)
            batch.unmatched = sum(match.unmatched.values())
            cfg = self.settings.windows
            keys: list[WindowKey] = []
            for model, version, start in match.windows:
                keys.extend(cfg.keys_of(model, version, start))
            self.store.mark_changed(keys, now)
            return len(rows)
        if kind in ("feedback", "kpi"):
            n = self.store.insert_feedback(rows)
            batch.known = [] if n == len(rows) else [r["event_id"] for r in rows]
            if n:
                self.store.mark_changed(batch.windows, now)
            return n
        if kind == "runtime":
            return environment.store_runtime(self.store, list(rows), now)
        return self.store.upsert_job_runs(rows)

    # -- background ------------------------------------------------------------------------
    def tick(self, force_flush: bool = False) -> dict[str, int]:
        """Flush closed partials, evaluate changed windows, purge old raw events."""
        out = {"flushed": 0, "evaluated": 0, "purged": 0, "alert_points": 0}
        with self._tick_lock:
            out["flushed"] = self._guard("flush", lambda: self.windows.flush(force_flush))
            evaluates = self.evaluates or force_flush
            while evaluates:
                t0 = time.perf_counter()
                n = self._guard("evaluate", lambda: self.evaluator.run(limit=20))
                if n:
                    self.metrics.evaluations.inc(n)
                    self.metrics.evaluation_seconds.observe((time.perf_counter() - t0) / n)
                out["evaluated"] += n
                if n < 20:
                    break
            if self.alerts is not None and self._leads_alerting():
                out["alert_points"] = self._guard("alerts", self.alerts.run)
            now = self.clock.time()
            if evaluates and (now - self.last_purge >= 3600 or force_flush):
                before = now - self.settings.retention_days * 86_400
                horizon = now - self.settings.label_horizon_days * 86_400
                out["purged"] = self._guard(
                    "purge", lambda: sum(self.store.purge(before, horizon).values())
                )
                self.last_purge = now
        self.metrics.live_windows.set(self.windows.n_live)
        self.metrics.buffered_rows.set(self.windows.buffered_rows())
        return out

    def _leads_alerting(self) -> bool:
        """Take or renew the store's ``alerting`` lease: exactly one replica evaluates alerts."""
        assert self.alerts is not None
        try:
            held = self.store.hold_lease(
                ALERTING_LEASE, self.replica, self.clock.time(),
                self.settings.alerting_lease_seconds,
            )  # fmt: skip
        except Exception:
            self.metrics.evaluation_errors.labels("alerts").inc()
            log.exception("driftline collector: cannot renew the alerting lease")
            held = False  # cannot tell: another replica may hold it; never evaluate twice
        if held != self.alerts.engine.leading:
            log.info("driftline collector %s %s the alerting lease", self.replica,
                     "took" if held else "lost")  # fmt: skip
        self.alerts.lead(held)
        self.metrics.alerting_leader.set(1 if held else 0)
        return held

    def _guard(self, task: str, fn: Any) -> int:
        try:
            return int(fn())
        except Exception:
            self.metrics.evaluation_errors.labels(task).inc()
            log.exception("driftline collector: background %s failed", task)
            return 0

    def close(self) -> None:
        """Save every live partial (graceful shutdown), after a tick still running ends."""
        with self._tick_lock:  # a cancelled background tick may still run in its thread
            self._guard("flush", lambda: self.windows.flush(force=True))
            if self.raw_parquet is not None:
                self.raw_parquet.close()
            if self.alerts is not None:
                self.alerts.close()
                if self.alerts.engine.leading:  # hand alerting over at once, not after the lease
                    with contextlib.suppress(Exception):
                        self.store.release_lease(ALERTING_LEASE, self.replica)
