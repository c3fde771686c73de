"""The evaluator: merges the partials of a closed window and writes its metric points.

The merged window is the saved partials of every replica plus whatever raw
events no saved partial covers, so the result does not depend on which
replica received which event, nor on whether one crashed. Points are
idempotent upserts: a window re-evaluated after late labels replaces its rows.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from driftline._utils.clock import WallClock as Clock
from driftline.errors import DriftlineError, InputError
from driftline.report.compare import build_report
from driftline.report.performance import PerformanceOptions
from driftline.stats.drift.rules import DriftOptions
from driftline.stats.multivariate import MultivariateOptions
from driftline.stats.profile import DatasetProfile
from driftline.stats.quality import QualityThresholds
from driftline.store.base import FeedbackKinds, MetricQuery, Store, WindowKey
from driftline.windows import abuse
from driftline.windows import points as pts
from driftline.windows.columns import infer_schema, schema_from_json
from driftline.windows.config import ALL, WindowConfig
from driftline.windows.feedback import feedback_points
from driftline.windows.labelled import label_drift, performance_results
from driftline.windows.live import LivePartial
from driftline.windows.llm import JUDGE_PREFIX, LLMOptions, llm_points
from driftline.windows.persistence import TRACKED, add_persistence
from driftline.windows.review import review_point
from driftline.windows.seasonal import seasonal_point
from driftline.windows.service_points import service_points
from driftline.windows.slices import SliceOptions, slice_point
from driftline.windows.stats import WindowStats, unpack_segments
from driftline.windows.versions import (
    RolloutOptions,
    Rollouts,
    environment_points,
    versus_points,
)

if TYPE_CHECKING:
    from driftline._utils.llm import PriceTable

log = logging.getLogger("driftline.windows")

#: The multivariate methods of a live window (docs/collector.md, "Metric points").
LIVE_MULTIVARIATE = MultivariateOptions(
    methods=("pca_reconstruction", "mmd", "correlation"), mmd_rows=500, permutations=100
)


@dataclass(frozen=True)
class EvaluatorOptions:
    """Drift and quality settings of the evaluator, as for ``driftline.compare``.

    ``estimate``: write ``estimated.<metric>`` points (CBPE for classifiers,
    DLE for regression) when the reference has labels and the window scores.
    ``multivariate``: the multivariate methods run on the all-traffic segment of
    each window (``multivariate_score`` points); None turns them off. By default
    the collector runs the three cheap ones (:data:`LIVE_MULTIVARIATE`); the
    domain classifier costs about a second a window and is opt-in.
    """

    drift: DriftOptions = field(default_factory=DriftOptions)
    quality: QualityThresholds = field(default_factory=QualityThresholds)
    estimate: bool = True
    multivariate: MultivariateOptions | None = field(default_factory=lambda: LIVE_MULTIVARIATE)
    #: champion-vs-challenger verdicts in each base window (None: off); windows/versions.py
    rollouts: RolloutOptions | None = field(default_factory=RolloutOptions)
    #: LLM/RAG signals of windows whose events record LLM requests (None: off); windows/llm.py
    llm: LLMOptions | None = field(default_factory=LLMOptions)
    #: the price table (``prices:``; driftline/_utils/llm.py): cost points when set
    costs: PriceTable | None = None
    #: worst slices of each window's labelled predictions (None: off); windows/slices.py
    slices: SliceOptions | None = field(default_factory=SliceOptions)


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
        # (profile, its bytes, checked at): an unchanged reference keeps its object, so
        # the estimator fitted on it (cached per profile object) is fitted once
        self._refs: dict[tuple[str, str], tuple[DatasetProfile | None, bytes | None, float]] = {}
        self.failed = 0
        ro = self.options.rollouts
        self.rollouts = Rollouts(store, config, ro) if ro is not None else None

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
        parts = self.store.partials(model, version, start, end)
        for part in parts:
            for seg, stats in unpack_segments(part.profile).items():
                _merge_into(out, seg, stats)
        covered = {part.partial_id: part.covered_seq for part in parts}
        raw = self.store.uncovered_events(model, version, start, end, covered)
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
        if hit is not None and now - hit[2] < self.cache_ttl:
            return hit[0]
        data = self.store.reference(model, version)
        if hit is not None and data == hit[1]:
            ref = hit[0]
        else:
            ref = DatasetProfile.from_bytes(data) if data is not None else None
        self._refs[(model, version)] = (ref, data, now)
        return ref

    def evaluate(self, key: WindowKey, now: float) -> list[dict[str, Any]]:
        stats = self.collect(key)
        ref = self.reference(key.model, key.version)
        joined = self.labelled_rows(key)
        task = self.task(key)
        perf = self.performance(key, stats, joined, task)
        o = self.options
        points = pts.Points(key, now)
        cfg = self.config
        for seg in sorted(stats):
            st = stats[seg].fold()
            pts.operational(points, seg, st)
            pts.outliers(points, seg, st)
            abuse.burst_point(points, seg, st.bursts)
            service_points(points, seg, st, seg == ALL, o.costs)
            if seg == ALL:
                review_point(points, seg, st.review)
            if ref is not None and st.profile.n_rows:
                perf_opts = PerformanceOptions(estimate=o.estimate)
                report = build_report(
                    ref,
                    st.profile,
                    o.drift,
                    o.quality,
                    performance=perf_opts,
                    multivariate=o.multivariate if seg == ALL else None,
                ).to_dict()
                pts.drift_and_quality(points, seg, report)
                pts.multivariate(points, seg, report)
                pts.schema_violations(points, seg, st)
                pts.estimated(points, seg, report)
                abuse.boundary_points(points, seg, ref, st.profile)
            elif ref is None:
                for name, col in st.profile.columns.items():
                    points.add(seg, "missing_ratio", col.missing_ratio, column=name, n=col.count)
            n_ok = st.n_events - st.n_errors  # shadows get labels too (the request's)
            labelled, results, labels = perf.get(seg, (0, None, []))
            points.add(
                seg,
                "label_coverage_ratio",
                labelled / n_ok if n_ok > 0 else None,
                n=labelled,
            )
            if results is not None:
                pts.performance(points, seg, results)
            if seg == ALL and cfg.seasonal_period is not None:
                seasonal_point(
                    points, key, st, self.collect, cfg.seasonal_period,
                    cfg.seasonal_history, o.drift, o.quality,
                )  # fmt: skip
            if ref is not None and labels:
                pts.label_drift(points, seg, label_drift(ref, labels, o.drift))
            if seg == ALL and o.slices is not None and joined:
                rows = [(y, e.get("prediction"), e.get("segment"), e.get("features"))
                        for e, y in joined]  # fmt: skip
                slice_point(points, seg, rows, task, o.slices)
        feedback = self.store.feedback_of(key.model, key.version, key.window_start, key.window_end)
        if feedback:
            served = {s: w.n_events - w.n_shadow for s, w in stats.items()}
            feedback_points(points, feedback, served, self.config, stats.keys() or None)
        # judge results count in their request's window even when its events record no
        # LLM request (a judge result sent over HTTP for any prediction)
        judged = any(kind.startswith(JUDGE_PREFIX) for _, kind, _ in feedback)
        if o.llm is not None and ALL in stats and (stats[ALL].n_llm or judged):
            try:
                self._llm(points, key, o.llm, list(stats))
            except Exception:  # the window's other points are written all the same
                log.exception("driftline evaluator: LLM signals of %s failed", key)
                self.failed += 1
        self._persistence(points, key)
        self._jumps(points, key)
        if self.rollouts is not None and key.window_size == self.config.base and stats:
            self._versus(points, key, now)
            row = self.store.version(key.model, key.version)
            meta = orjson.loads(row["meta"]) if row and row["meta"] else {}
            if isinstance(meta, dict) and meta.get("runtime"):
                environment_points(points, meta)
        return points.rows

    def _llm(
        self, points: pts.Points, key: WindowKey, opts: LLMOptions, segments: list[str]
    ) -> None:
        """The window's LLM/RAG points from its raw events and judge results (windows/llm.py)."""
        start, end = key.window_start, key.window_end
        raw = self.store.sample_events(
            key.model, key.version, start - opts.rephrase_seconds, end, opts.max_events
        )
        events = [orjson.loads(p) for p in raw if '"llm":' in p]
        feedback = []
        rows = []
        # thumbs and judge results count in the window of the request they name, whenever
        # they come (as labels do); each read up to max_events
        reads: tuple[FeedbackKinds, ...] = ("thumbs", "judge")
        read: list[tuple[str, int]] = []
        for kinds in reads:
            got = self.store.request_feedback(
                key.model, key.version, start, end, opts.judge_lateness_seconds,
                opts.max_events, kinds=kinds,
            )  # fmt: skip
            read.append((kinds, len(got)))
            rows += got
        # a read that reached max_events left the window's earlier rows out: its points say
        # so (counts such as judge.skipped are then of the latest max_events only)
        # (the events read start rephrase_seconds before the window, newest first: the
        # window's own events were all read unless the oldest one read is in the window)
        oldest = min((float(e.get("ts") or 0.0) for e in events), default=-math.inf)
        in_window = len(raw) if oldest >= start else 0
        capped = [name for name, n in (("events", in_window), *read) if n >= opts.max_events]
        for f in rows:
            try:
                value = orjson.loads(f["value"]) if f["value"] is not None else None
            except orjson.JSONDecodeError:
                value = None
            feedback.append({**f, "value": value})
        first = len(points.rows)
        llm_points(
            points, events, start, end, opts,
            lambda seg: self.config.segments_of(seg, segments), feedback,
        )  # fmt: skip
        if capped:
            points.annotate(first, capped={"reads": capped, "max_events": opts.max_events})

    def _jumps(self, points: pts.Points, key: WindowKey) -> None:
        """``abuse.range_jump``: out-of-range / unseen shares against the previous windows."""
        checks = [f"quality.{c}" for c in abuse.JUMP_CHECKS]
        if not any(r["metric"] in checks for r in points.rows):
            return
        previous = []
        for metric in checks:
            previous += self.store.metric_points(
                MetricQuery(
                    model=key.model, version=key.version, window_size=key.window_size,
                    metric=metric, end=key.window_start, limit=1_000_000,
                    start=key.window_start - abuse.BASELINE_WINDOWS * key.window_size,
                )
            )  # fmt: skip
        abuse.jump_points(points, previous)

    def _persistence(self, points: pts.Points, key: WindowKey) -> None:
        """Spike or shift: each drift point's run of drifted windows (windows/persistence.py)."""
        if not any(r["metric"] in TRACKED for r in points.rows):
            return
        before = key.window_start - key.window_size
        previous = self.store.metric_points(
            MetricQuery(
                model=key.model, version=key.version, window_size=key.window_size,
                start=before, end=before + 1, limit=1_000_000,
            )
        )  # fmt: skip
        add_persistence(points, previous, self.config.shift_windows)

    def _versus(self, points: pts.Points, key: WindowKey, now: float) -> None:
        """The challenger's verdict against its model's champion, up to this window's end."""
        assert self.rollouts is not None
        try:
            champion = self.rollouts.champion(key.model, key.window_end, now)
            if champion is None or champion == key.version:
                return
            comparison = self.rollouts.compare(
                key.model, champion, key.version, end=key.window_end, now=now
            )
        except (DriftlineError, ValueError, ArithmeticError, TypeError):
            log.exception("driftline evaluator: comparing %s with its champion failed", key)
            return
        versus_points(points, comparison)

    def labelled_rows(self, key: WindowKey) -> list[tuple[dict[str, Any], Any]]:
        """The window's labelled predictions: (event, label), read and parsed once."""
        rows = self.store.labelled(key.model, key.version, key.window_start, key.window_end)
        return [(orjson.loads(payload), orjson.loads(label)) for payload, label in rows]

    def task(self, key: WindowKey) -> str | None:
        """The version's task as its metadata says (None: inferred from the labels)."""
        meta = self.store.version(key.model, key.version)
        task = orjson.loads(meta["meta"]).get("task") if meta and meta["meta"] else None
        return str(task) if task else None

    def performance(
        self,
        key: WindowKey,
        segments: Iterable[str] | None = None,
        labelled: list[tuple[dict[str, Any], Any]] | None = None,
        task: str | None = None,
    ) -> dict[str, tuple[int, dict[str, Any] | None, list[Any]]]:
        """Per segment: labelled predictions, performance results (joined from raw events)
        and the labels.

        ``segments``: those the window's profiles hold (values past ``max_segments`` are
        in ``key=__other__`` there, and here too)."""
        if labelled is None:
            labelled, task = self.labelled_rows(key), self.task(key)
        by_seg: dict[str, list[tuple[Any, Any, Any]]] = {}
        for e, y in labelled:
            for seg in self.config.segments_of(e.get("segment"), segments):
                by_seg.setdefault(seg, []).append((y, e.get("prediction"), e.get("scores")))
        return {
            seg: (len(r), performance_results(r, task), [y for y, _, _ in r])
            for seg, r in by_seg.items()
        }


def _merge_into(out: dict[str, WindowStats], seg: str, stats: WindowStats) -> None:
    have = out.get(seg)
    if have is None:
        out[seg] = stats
        return
    # a partial made before the version's columns changed (new reference) cannot merge
    with contextlib.suppress(InputError):
        have.merge(stats)
