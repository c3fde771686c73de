"""Champion against challenger in the collector: the data of two versions, their verdict.

Each time the evaluator evaluates a base window of a version that is not its
model's champion, it compares that version (the challenger, B) with the
champion (A) on every labelled request since the challenger's first event in
the last ``lookback_seconds``, up to the window's end, and writes
``versus.*`` points into the challenger's window (docs/versions.md):

- ``versus.verdict``: value -1 worse, 0 no difference / undecided, +1 better,
  no value when not comparable or too little data; ``status`` the verdict;
  ``column`` the champion; ``details`` the whole comparison;
- ``versus.<metric>`` per guarded metric: the difference B - A, ``status`` its
  verdict, details the always-valid interval and the sample still needed;
- ``versus.share_scored``: for a shadow, the share of the champion's labelled
  requests it also scored.

The champion is the version whose events are most often served (not shadow)
in the look-back; a version's metadata ``{"champion": true}`` overrides that.
Because the look at each window is an always-valid test, a verdict read after
every window keeps its false-verdict rate (benchmarks/rollout_calibration.py).
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import numpy as np
import orjson

from driftline.stats.accumulators.histogram import LogHistogram
from driftline.stats.versions import CompareOptions, VersionData, compare_paired, compare_unpaired
from driftline.stats.versions.compare import not_comparable
from driftline.stats.versions.environment import (
    diff_environment,
    environment_of,
    major_differences,
)
from driftline.store.base import MetricQuery, Store
from driftline.windows.config import ALL, WindowConfig, window_start
from driftline.windows.stats import latency_histogram

VERDICT_VALUE = {"worse": -1.0, "better": 1.0, "equivalent": 0.0, "undecided": 0.0}


@dataclass(frozen=True)
class RolloutOptions:
    """``lookback_seconds``: how far back a comparison reaches (raw events must still be
    kept: ``retention_days``); ``compare``: the statistics' options."""

    lookback_seconds: int = 7 * 86_400
    compare: CompareOptions = field(default_factory=CompareOptions)

    def __post_init__(self) -> None:
        if not self.lookback_seconds > 0:
            from driftline.errors import ConfigError

            raise ConfigError(
                f"comparison lookback_seconds={self.lookback_seconds!r}; allowed: > 0"
            )


@dataclass
class _ScoreCols:
    """A window's scores as float columns, one per class key (dict scores) or one keyed
    ``None`` (plain numbers): ~16 bytes a binary request instead of ~230 for its dict."""

    cols: dict[str | None, np.ndarray[Any, Any]]

    def raw(self) -> list[Any]:
        """The scores as the events gave them (floats)."""
        if None in self.cols:
            return [float(v) for v in self.cols[None]]
        keys = list(self.cols)
        return [dict(zip(keys, map(float, vals), strict=True))
                for vals in zip(*self.cols.values(), strict=True)]  # fmt: skip


@dataclass
class _Rows:
    ids: list[str] = field(default_factory=list)
    y: list[Any] = field(default_factory=list)
    pred: list[Any] = field(default_factory=list)
    #: the events' scores (a list), or as columns when every one is valid alike
    scores: list[Any] | _ScoreCols = field(default_factory=list)
    #: every label and prediction a number (vacuously true when empty), any fractional
    numeric: bool = True
    fractional: bool = False


def label_key(v: Any) -> Any:
    """Labels and predictions as comparable keys (True -> "true", 1.0 -> 1)."""
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v if isinstance(v, int | float | str) else str(v)


class Rollouts:
    """Compares model versions from the store (see the module documentation)."""

    #: versions whose labelled windows are kept between comparisons (least recently used go)
    MAX_CACHED_VERSIONS = 64

    #: paired bootstrap intervals are computed again once the paired sample grew by this share
    BOOTSTRAP_REFRESH = 0.1

    def __init__(
        self,
        store: Store,
        config: WindowConfig,
        options: RolloutOptions | None = None,
        *,
        carry: bool = True,
    ):
        self.store = store
        self.config = config
        self.options = options or RolloutOptions()
        #: False: read every labelled request again for each comparison (the reference)
        self.carry = carry
        # (model, a, b, start) -> (paired requests, the bootstrap intervals computed on them)
        # the evaluator's thread and the dashboard's share one Rollouts: a comparison reads
        # a snapshot of a version's windows and replaces it whole, under this lock
        self._lock = threading.Lock()
        self._boot: OrderedDict[tuple[str, str, str, int], tuple[int, list[Any]]] = OrderedDict()
        self._lat_cache: OrderedDict[
            tuple[str, str], dict[int, tuple[int, LogHistogram | None]]
        ] = OrderedDict()
        self._traffic_cache: OrderedDict[str, dict[tuple[str, int], tuple[int, int, int]]] = (
            OrderedDict()
        )
        self._traffic_memo: tuple[tuple[str, float], dict[str, dict[str, Any]]] | None = None
        # (model, version) -> base window start -> (generation, its labelled rows)
        self._cache: OrderedDict[tuple[str, str], dict[int, tuple[int, _Rows]]] = OrderedDict()
        #: labelled requests read from the store (a benchmark's and a test's view of the work)
        self.rows_read = 0

    # -- which versions ------------------------------------------------------------------
    def champion(self, model: str, end: float, now: float | None = None) -> str | None:
        """The model's champion at ``end`` (see the module documentation), or None;
        with ``now``, closed windows' event counts are carried (:meth:`_traffic`)."""
        traffic = self._traffic(model, end, now)
        # the comparison that usually follows reads the same traffic (evaluator: once a window)
        self._traffic_memo = ((model, end), traffic)
        for version in traffic:
            row = self.store.version(model, version)
            if row and orjson.loads(row["meta"] or "{}").get("champion") is True:
                return version
        served = {v: t["served"] for v, t in traffic.items() if t["served"] > 0}
        return max(sorted(served), key=lambda v: served[v]) if served else None

    # -- one comparison -----------------------------------------------------------------
    def compare(
        self,
        model: str,
        a: str,
        b: str,
        start: float | None = None,
        end: float | None = None,
        *,
        now: float,
    ) -> dict[str, Any]:
        """Compare challenger ``b`` with champion ``a`` over ``[start, end)`` (defaults: from
        the challenger's first event in the look-back to ``now``)."""
        end = now if end is None else end
        if start is None:
            memo, self._traffic_memo = self._traffic_memo, None
            traffic = (
                memo[1] if memo and memo[0] == (model, end) else self._traffic(model, end, now)
            )
            first = traffic.get(b, {}).get("first_window")
            start = first if first is not None else end - self.options.lookback_seconds
        lo, hi = int(start), math.ceil(end)
        out: dict[str, Any] = {"model": model, "a": a, "b": b, "start": lo, "end": hi}
        meta = {v: self._meta(model, v) for v in (a, b)}
        out["environment"] = environments(meta[a], meta[b])
        if a == b:
            return {
                **out,
                **not_comparable("a version compared with itself", paired=False).to_dict(),
            }
        for v in (a, b):
            if self.store.version(model, v) is None:
                reason = f"model {model!r} has no version {v!r}"
                return {**out, **not_comparable(reason, paired=False).to_dict()}
        ta, tb = meta[a].get("task"), meta[b].get("task")
        if ta and tb and ta != tb:
            reason = f"different tasks: {a} is {ta}, {b} is {tb}"
            return {**out, **not_comparable(reason, paired=False).to_dict()}
        ca, cb = meta[a].get("classes"), meta[b].get("classes")
        if ca and cb and sorted(map(str, ca)) != sorted(map(str, cb)):
            reason = f"different label sets: {a} has {ca}, {b} has {cb}"
            return {**out, **not_comparable(reason, paired=False).to_dict()}
        rows = {v: self._labelled(model, v, lo, hi, now) for v in (a, b)}
        out["operational"] = {v: self.operational(model, v, lo, hi, now) for v in (a, b)}
        task = ta or tb or _infer_task(rows[a], rows[b])
        shared = sorted(set(rows[a].ids) & set(rows[b].ids))
        na, nb = len(rows[a].ids), len(rows[b].ids)
        paired = bool(shared) and len(shared) >= 0.5 * min(na, nb)
        o = self.options.compare
        if paired:
            ia = {pid: i for i, pid in enumerate(rows[a].ids)}
            ib = {pid: i for i, pid in enumerate(rows[b].ids)}
            sel_a = [ia[p] for p in shared]
            sel_b = [ib[p] for p in shared]
            y = _array([rows[a].y[i] for i in sel_a], task)
            positive = _positive(y)
            boot_key = (model, a, b, lo)
            last = self._boot.get(boot_key) if self.carry else None
            reuse = last is not None and last[0] <= len(shared) < last[0] * (
                1 + self.BOOTSTRAP_REFRESH
            )
            c = compare_paired(
                y,
                _array([rows[a].pred[i] for i in sel_a], task),
                _array([rows[b].pred[i] for i in sel_b], task),
                _scores(rows[a].scores, positive, sel_a),
                _scores(rows[b].scores, positive, sel_b),
                task=task,
                options=replace(o, bootstrap_resamples=0) if reuse else o,
            )
            if last is not None and reuse:
                # resampling costs resamples x requests: carried until the sample grows 10 %
                # (each interval's ``n`` says which sample it is of)
                c.extra["bootstrap"] = last[1]
            elif self.carry and o.bootstrap_resamples > 0:
                _keep(self._boot, boot_key, (len(shared), c.extra.get("bootstrap", [])),
                      self.MAX_CACHED_VERSIONS, self._lock)  # fmt: skip
            out["share_scored"] = len(shared) / na if na else None
        else:
            data = {}
            for v in (a, b):
                y = _array(rows[v].y, task)
                data[v] = VersionData(
                    y, _array(rows[v].pred, task), _scores(rows[v].scores, _positive(y))
                )
            c = compare_unpaired(data[a], data[b], task=task, options=o)
            out["share_scored"] = None
        return {**out, **c.to_dict()}

    def _traffic(
        self, model: str, end: float, now: float | None = None
    ) -> dict[str, dict[str, Any]]:
        """:meth:`Store.version_traffic` over the look-back; with ``now`` (and ``carry``),
        each closed window's served/shadow counts are carried by its generation and only
        changed or open windows are counted again."""
        start = end - self.options.lookback_seconds
        if not self.carry or now is None:
            return self.store.version_traffic(model, start, end)
        base = self.config.base
        gens = self.store.model_window_generations(model, base, start, end)
        cached = self._traffic_cache.get(model, {})
        closed_before = now - self.config.grace_seconds - base
        windows, stale = _carried(cached, gens, lambda vw: vw[1] <= closed_before)
        for run_lo, run_hi in _runs(sorted({vw[1] for vw in stale}), base):
            counts = self.store.window_counts(model, run_lo, min(run_hi, end))
            for vw in [k for k in windows if run_lo <= k[1] < run_hi]:
                del windows[vw]  # counted again below, every version of these windows
            for vw, (served, shadow) in counts.items():
                windows[vw] = (gens.get(vw, -1), served, shadow)
        keep = {vw: w for vw, w in windows.items() if vw[1] <= closed_before and w[0] >= 0}
        _keep(self._traffic_cache, model, keep, self.MAX_CACHED_VERSIONS, self._lock)
        out: dict[str, dict[str, Any]] = {}
        for (version, ws), (_, served, shadow) in sorted(windows.items()):
            if served + shadow == 0:
                continue
            row = out.setdefault(version, {"served": 0, "shadow": 0, "first_window": ws})
            row["served"] += served
            row["shadow"] += shadow
            row["first_window"] = min(row["first_window"], ws)
        return out

    def _meta(self, model: str, version: str) -> dict[str, Any]:
        row = self.store.version(model, version)
        meta = orjson.loads(row["meta"]) if row and row["meta"] else {}
        return meta if isinstance(meta, dict) else {}

    def _labelled(self, model: str, version: str, start: int, end: int, now: float) -> _Rows:
        """The labelled requests of ``version`` in the base windows starting in
        ``[start, end)``, window by window (module documentation: "Carried over").

        A closed window's rows are kept with the window's generation and read again
        only when it changes (a late label or event); open windows are always read."""
        if not self.carry:
            return self.reread(model, version, start, end)
        base = self.config.base
        lo, hi = window_start(start, base), end
        key = (model, version)
        cached = self._cache.get(key, {})
        gens = self.store.window_generations(model, version, base, lo, hi)
        closed_before = now - self.config.grace_seconds - base
        windows, todo = _carried(cached, gens, lambda ws: ws <= closed_before)
        for run_lo, run_hi in _runs(todo, base):
            got = self.store.labelled_by_window(model, version, run_lo, min(run_hi, hi))
            for ws in range(run_lo, run_hi, base):
                if ws in gens:
                    windows[ws] = (gens[ws], _rows_of(got.get(ws, ())))
                    self.rows_read += len(windows[ws][1].ids)
        keep = {ws: w for ws, w in windows.items() if ws <= closed_before}
        _keep(self._cache, key, keep, self.MAX_CACHED_VERSIONS, self._lock)
        rows = _Rows()
        parts = []
        for ws in sorted(windows):
            w = windows[ws][1]
            rows.ids += w.ids
            rows.y += w.y
            rows.pred += w.pred
            parts.append(w.scores)
            rows.numeric = rows.numeric and w.numeric
            rows.fractional = rows.fractional or w.fractional
        rows.scores = _merge_scores(parts)
        return rows

    def reread(self, model: str, version: str, start: int, end: int) -> _Rows:
        """The same rows as :meth:`_labelled`, all read from the store at once (the
        reference the carried-over windows are tested against)."""
        lo = window_start(start, self.config.base)
        return _rows_of(self.store.labelled(model, version, lo, end))

    def operational(
        self, model: str, version: str, start: int, end: int, now: float | None = None
    ) -> dict[str, Any]:
        """Events, error rate, latency, resources and cost of ``version`` over ``[start, end)``.

        ``latency_pXX_seconds`` (p50, p90, p95, p99) is the quantile of all the range's
        requests, merged from the windows' exact counts on fixed log-linear buckets:
        the order statistic of rank ceil(q * n) lies in ``latency_pXX_bounds`` (one
        bucket, at most 1/64 of its value wide) and the value given is its middle, so
        within ``latency_relative_error`` (1/128) of it. ``latency_merged_events``
        counts the requests in it: windows saved before the histograms existed are left
        out (``latency_note`` says how many). ``latency_pXX_range`` = [smallest, largest
        window quantile] and ``latency_worst_p99_seconds`` (the worst window's p99) stay.
        Resources and cost: :func:`resources_and_cost`."""
        q = MetricQuery(
            model=model,
            version=version,
            segment=ALL,
            window_size=self.config.base,
            start=start,
            end=end,
            limit=100_000,
        )
        events = {
            p["window_start"]: p["value"] or 0.0
            for p in self.store.metric_points(replace(q, metric="events"))
        }
        errors = self.store.metric_points(replace(q, metric="error_ratio"))
        n = sum(events.values())
        err = sum((p["value"] or 0.0) * events.get(p["window_start"], 0.0) for p in errors)
        out: dict[str, Any] = {"events": int(n), "error_rate": err / n if n else None}
        lat = self.store.metric_points(replace(q, metric="latency_seconds"))
        hist, covered, missing = self._latency(model, version, start, end, now)
        out["latency_merged_events"] = covered
        out["latency_relative_error"] = 2.0 ** -(hist.mantissa_bits + 1)
        if missing:
            out["latency_note"] = (
                f"{missing} window(s) saved before latency histograms are not in the "
                "merged quantiles"
            )
        for qname, level in (("p50", 0.5), ("p90", 0.9), ("p95", 0.95), ("p99", 0.99)):
            merged = histogram_quantile(hist, level)
            out[f"latency_{qname}_seconds"] = merged[0] if merged else None
            out[f"latency_{qname}_bounds"] = [merged[1], merged[2]] if merged else None
            pts = [p for p in lat if p["method"] == qname and p["value"] is not None]
            values = [float(p["value"]) for p in pts]
            out[f"latency_{qname}_range"] = [min(values), max(values)] if values else None
        p99s = [p["value"] for p in lat if p["method"] == "p99" and p["value"] is not None]
        out["latency_worst_p99_seconds"] = max(p99s) if p99s else None
        out.update(resources_and_cost(self.store, q, int(n)))
        return out

    def _latency(
        self, model: str, version: str, start: int, end: int, now: float | None
    ) -> tuple[LogHistogram, int, int]:
        """(merged latency histogram, requests in it, windows without one) of the base
        windows starting in ``[start, end)``; closed windows' histograms are carried
        with their generation like the labelled rows."""
        base = self.config.base
        lo = window_start(start, base)
        key = (model, version)
        cached = self._lat_cache.get(key, {})
        gens = self.store.window_generations(model, version, base, lo, end)
        closed_before = (now if now is not None else math.inf) - self.config.grace_seconds - base
        windows, todo = _carried(cached, gens, lambda ws: ws <= closed_before)
        for run_lo, run_hi in _runs(todo, base):
            got: dict[int, LogHistogram | None] = {}
            parts = self.store.partials(model, version, run_lo, run_hi)
            covered = {part.partial_id: part.covered_seq for part in parts}
            for part in parts:
                h = latency_histogram(part.profile, ALL)
                if h is False:
                    continue
                have = got.get(part.window_start, LogHistogram())
                got[part.window_start] = (
                    have.merge(h) if have is not None and isinstance(h, LogHistogram) else None
                )
            for ws in range(run_lo, run_hi, base):
                if ws not in gens:
                    continue
                h = got.get(ws, LogHistogram())
                raw = self.store.uncovered_events(model, version, ws, ws + base, covered)
                if raw and h is not None:
                    ms = [orjson.loads(p).get("latency_ms") for p in raw]
                    v = np.asarray([x for x in ms if isinstance(x, int | float)], dtype=float)
                    h.update(v[np.isfinite(v)] / 1000.0)
                windows[ws] = (gens[ws], h)
        keep_lat = {ws: w for ws, w in windows.items() if ws <= closed_before}
        _keep(self._lat_cache, key, keep_lat, self.MAX_CACHED_VERSIONS, self._lock)
        merged, missing = LogHistogram(), 0
        for ws in sorted(windows):
            h = windows[ws][1]
            if h is None:
                missing += 1
            else:
                merged.merge(h)
        return merged, merged.total, missing


def histogram_quantile(h: LogHistogram, level: float) -> tuple[float, float, float] | None:
    """(middle, lower, upper) of the bucket holding the order statistic of rank
    ceil(level * n) of a log-linear histogram, or None when it is empty."""
    n = h.total
    if n == 0:
        return None
    rank = max(1, math.ceil(level * n))
    i = int(np.searchsorted(np.cumsum(h.counts), rank))
    k = int(h.keys[i])
    lo, hi = (float(x) for x in h.lower_bound(np.array([k, k + 1], dtype=np.int64)))
    lo, hi = min(lo, hi), max(lo, hi)
    return (lo + hi) / 2, lo, hi


def resources_and_cost(store: Store, q: MetricQuery, events: int) -> dict[str, Any]:
    """Resource use and cost of a version over a range, per 1,000 predictions.

    Resources sum the windows' ``resource_cpu_seconds`` / ``resource_gpu_seconds`` and
    take the largest ``resource_rss_bytes``; ``None`` when the service sent no resource
    records. Cost sums the windows' ``cost`` (method total): ``cost_status`` is
    ``not_configured`` (no ``prices:`` or no records: no value), ``incomplete`` when a
    window had something unpriced (the value is then a lower bound, never taken as
    complete, and ``cost_unpriced`` says what), else ``ok``."""
    out: dict[str, Any] = {}
    per_1k = 1000.0 / events if events else None
    for metric, name in (
        ("resource_cpu_seconds", "cpu_seconds"),
        ("resource_gpu_seconds", "gpu_seconds"),
    ):
        pts = [p for p in store.metric_points(replace(q, metric=metric)) if p["value"] is not None]
        total = sum(float(p["value"]) for p in pts) if pts else None
        out[name] = total
        out[f"{name}_per_1k_predictions"] = (
            total * per_1k if total is not None and per_1k is not None else None
        )
    rss = [p["value"] for p in store.metric_points(replace(q, metric="resource_rss_bytes"))]
    rss = [float(v) for v in rss if v is not None]
    out["rss_bytes_max"] = max(rss) if rss else None
    cost = [
        p for p in store.metric_points(replace(q, metric="cost", method="total"))
        if p["value"] is not None
    ]  # fmt: skip
    if not cost:
        out.update(cost=None, cost_per_1k_predictions=None, cost_status="not_configured")
        return out
    total = sum(float(p["value"]) for p in cost)
    unpriced: dict[str, float] = {}
    currency = None
    for p in cost:
        d = p.get("details")
        d = orjson.loads(d) if isinstance(d, str | bytes) else (d or {})
        currency = currency or d.get("currency")
        for k, v in (d.get("unpriced") or {}).items():
            unpriced[k] = unpriced.get(k, 0.0) + float(v)
    # the cost covers the windows that have a cost point: per 1k of their predictions
    priced_events = sum(int(p["n"] or 0) for p in cost)
    out.update(
        cost=total,
        cost_currency=currency,
        cost_per_1k_predictions=total / priced_events * 1000.0 if priced_events else None,
        cost_status="incomplete" if unpriced else "ok",
        cost_unpriced=unpriced,
        cost_events=priced_events,
    )
    return out


def _keep(cache: OrderedDict[Any, Any], key: Any, value: Any, limit: int, lock: Any) -> None:
    """Put ``value`` under ``key`` as the most recently used; drop the least beyond ``limit``."""
    with lock:
        cache[key] = value
        cache.move_to_end(key)
        while len(cache) > limit:
            cache.popitem(last=False)


K = TypeVar("K")  # a window's key: its start, or (version, start)
W = TypeVar("W", bound=tuple[Any, ...])  # what is cached of it: (generation, ...)


def _carried(
    cached: Mapping[K, W], gens: Mapping[K, int], closed: Callable[[K], bool]
) -> tuple[dict[K, W], list[K]]:
    """The cached windows still good (closed, and the generation they were read at) and,
    in order, the keys of the windows to read again (open, changed or never read)."""
    kept: dict[K, W] = {}
    stale: list[K] = []
    for key in sorted(gens):  # type: ignore[type-var]
        hit = cached.get(key)
        if hit is not None and hit[0] == gens[key] and closed(key):
            kept[key] = hit
        else:
            stale.append(key)
    return kept, stale


def _runs(starts: list[int], base: int) -> list[tuple[int, int]]:
    """Consecutive window starts as ``[lo, hi)`` ranges (one store read each)."""
    out: list[tuple[int, int]] = []
    for ws in starts:
        if out and out[-1][1] == ws:
            out[-1] = (out[-1][0], ws + base)
        else:
            out.append((ws, ws + base))
    return out


def _rows_of(labelled: Any) -> _Rows:
    rows = _Rows()
    scores: list[Any] = []
    for payload, label_json in labelled:
        e = orjson.loads(payload)
        y, p = orjson.loads(label_json), e.get("prediction")
        if y is None or p is None:
            continue
        rows.ids.append(str(e.get("prediction_id")))
        rows.y.append(label_key(y))
        rows.pred.append(label_key(p))
        scores.append(e.get("scores"))
    rows.scores = _compact(scores)
    values = rows.y + rows.pred
    rows.numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    rows.fractional = any(isinstance(v, float) and not v.is_integer() for v in values)
    return rows


def _infer_task(*rows: _Rows) -> str:
    numeric = any(r.ids for r in rows) and all(r.numeric for r in rows)
    fractional = any(r.fractional for r in rows)
    return "regression" if numeric and fractional else "classification"


def _array(values: list[Any], task: str) -> np.ndarray[Any, Any]:
    if task == "regression":
        try:
            return np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):
            return np.asarray(values, dtype=object)
    if all(isinstance(v, int) for v in values):
        return np.asarray(values, dtype=np.int64)
    return np.asarray([str(v) for v in values])


def _positive(y: np.ndarray[Any, Any]) -> Any:
    values = np.unique(y) if len(y) else y
    return values[1] if len(values) == 2 else None


def _valid(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _compact(scores: list[Any]) -> list[Any] | _ScoreCols:
    """``scores`` as columns when all are valid numbers, or all dicts of the same keys
    with valid numbers; else as they are."""
    if not scores:
        return scores
    first = scores[0]
    if isinstance(first, dict):
        keys = first.keys()
        if all(isinstance(s, dict) and s.keys() == keys and all(map(_valid, s.values()))
               for s in scores):  # fmt: skip
            n = len(scores)
            return _ScoreCols(
                {str(k): np.fromiter((s[k] for s in scores), np.float64, n) for k in keys}
            )
        return scores
    if all(map(_valid, scores)):
        return _ScoreCols({None: np.asarray(scores, dtype=np.float64)})
    return scores


def _merge_scores(parts: list[list[Any] | _ScoreCols]) -> list[Any] | _ScoreCols:
    """The windows' scores in order: columns when every window's are alike, else a list."""
    parts = [p for p in parts if isinstance(p, _ScoreCols) or p]
    if parts and all(isinstance(p, _ScoreCols) for p in parts):
        cols = [p.cols for p in parts if isinstance(p, _ScoreCols)]
        if all(c.keys() == cols[0].keys() for c in cols):
            return _ScoreCols({k: np.concatenate([c[k] for c in cols]) for k in cols[0]})
    out: list[Any] = []
    for p in parts:
        out += p.raw() if isinstance(p, _ScoreCols) else p
    return out


def _scores(scores: list[Any] | _ScoreCols, positive: Any, sel: list[int] | None = None) -> Any:
    """Each request's probability of ``positive`` (binary tasks; the requests ``sel``, else
    all), or None if any is missing."""
    if positive is None:
        return None
    key = str(positive.item() if hasattr(positive, "item") else positive)
    if isinstance(scores, _ScoreCols):
        col = scores.cols.get(None, scores.cols.get(key))
        if col is None:
            return None
        return col if sel is None else col[np.asarray(sel, dtype=np.intp)]
    out = []
    for s in scores if sel is None else (scores[i] for i in sel):
        if isinstance(s, dict):
            v = s.get(key)
        elif isinstance(s, int | float) and not isinstance(s, bool):
            v = s
        else:
            return None
        if not isinstance(v, int | float) or isinstance(v, bool) or not math.isfinite(v):
            return None
        out.append(float(v))
    return out


def environments(meta_a: dict[str, Any], meta_b: dict[str, Any]) -> dict[str, Any]:
    """Training vs serving of each version, and version vs version (serving, training)."""
    rt_a, rt_b = meta_a.get("runtime") or {}, meta_b.get("runtime") or {}
    return {
        "a": environment_of(meta_a)["diff"],
        "b": environment_of(meta_b)["diff"],
        "serving": diff_environment(rt_a.get("serving"), rt_b.get("serving")),
        "training": diff_environment(rt_a.get("training"), rt_b.get("training")),
        # what is not recorded yet, so that a page can say which side it waits for
        "missing": {
            "a": [r for r in ("training", "serving") if not rt_a.get(r)],
            "b": [r for r in ("training", "serving") if not rt_b.get(r)],
            "serving": [v for v, rt in (("a", rt_a), ("b", rt_b)) if not rt.get("serving")],
        },
    }


def environment_points(points: Any, meta: dict[str, Any]) -> None:
    """``environment.major_differences`` of a version whose training and serving runtimes
    are both known: packages (and Python) differing in their major version."""
    env = environment_of(meta)
    n = major_differences(env["diff"])
    if n is not None:
        points.add(
            ALL,
            "environment.major_differences",
            n,
            status="fail" if n else "ok",
            n=1,
            details=env["diff"],
        )


def versus_points(points: Any, comparison: dict[str, Any]) -> None:
    """Add the ``versus.*`` points of ``comparison`` to a window's :class:`Points`."""
    a, verdict = comparison["a"], comparison["verdict"]
    n = int(comparison.get("n_b") or 0)
    points.add(
        ALL,
        "versus.verdict",
        VERDICT_VALUE.get(verdict),
        column=a,
        status=verdict,
        n=n,
        details=comparison,
    )
    for m in comparison.get("metrics", []):
        points.add(
            ALL,
            f"versus.{m['metric']}",
            m["difference"],
            column=a,
            status=m["verdict"],
            n=n,
            method=m["method"][:64],
            details=m,
        )
    if comparison.get("share_scored") is not None:
        points.add(ALL, "versus.share_scored", comparison["share_scored"], column=a, n=n)
