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
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import orjson

from driftline.stats.versions import CompareOptions, VersionData, compare_paired, compare_unpaired
from driftline.stats.versions.compare import not_comparable
from driftline.stats.versions.environment import (
    diff_environment,
    environment_of,
    major_differences,
)
from driftline.store.base import MetricQuery, Store
from driftline.windows.config import ALL, WindowConfig, window_start

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
class _Rows:
    ids: list[str] = field(default_factory=list)
    y: list[Any] = field(default_factory=list)
    pred: list[Any] = field(default_factory=list)
    scores: list[Any] = field(default_factory=list)


def label_key(v: Any) -> Any:
    """Labels and predictions as comparable keys (True -> "true", 1.0 -> 1)."""
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v if isinstance(v, int | float | str) else str(v)


class Rollouts:
    """Compares model versions from the store (see the module documentation)."""

    def __init__(self, store: Store, config: WindowConfig, options: RolloutOptions | None = None):
        self.store = store
        self.config = config
        self.options = options or RolloutOptions()

    # -- which versions ------------------------------------------------------------------
    def champion(self, model: str, end: float) -> str | None:
        """The model's champion at ``end`` (see the module documentation), or None."""
        traffic = self.store.version_traffic(model, end - self.options.lookback_seconds, end)
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
            traffic = self.store.version_traffic(model, end - self.options.lookback_seconds, end)
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
        rows = {v: self._labelled(model, v, lo, hi) for v in (a, b)}
        out["operational"] = {v: self.operational(model, v, lo, hi) for v in (a, b)}
        task = ta or tb or _infer_task(rows[a].y + rows[b].y, rows[a].pred + rows[b].pred)
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
            c = compare_paired(
                y,
                _array([rows[a].pred[i] for i in sel_a], task),
                _array([rows[b].pred[i] for i in sel_b], task),
                _scores([rows[a].scores[i] for i in sel_a], positive),
                _scores([rows[b].scores[i] for i in sel_b], positive),
                task=task,
                options=o,
            )
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

    def _meta(self, model: str, version: str) -> dict[str, Any]:
        row = self.store.version(model, version)
        meta = orjson.loads(row["meta"]) if row and row["meta"] else {}
        return meta if isinstance(meta, dict) else {}

    def _labelled(self, model: str, version: str, start: int, end: int) -> _Rows:
        base = self.config.base
        rows = _Rows()
        lo, hi = window_start(start, base), end
        for payload, label_json in self.store.labelled(model, version, lo, hi):
            e = orjson.loads(payload)
            y, p = orjson.loads(label_json), e.get("prediction")
            if y is None or p is None:
                continue
            rows.ids.append(str(e.get("prediction_id")))
            rows.y.append(label_key(y))
            rows.pred.append(label_key(p))
            rows.scores.append(e.get("scores"))
        return rows

    def operational(self, model: str, version: str, start: int, end: int) -> dict[str, Any]:
        """Events, error rate and latency of ``version`` over ``[start, end)``.

        ``latency_pXX_seconds`` (p50, p90, p95, p99) is the events-weighted mean of the base
        windows' quantiles, not the quantile of all the range's requests; that one lies in
        ``latency_pXX_range`` = [smallest, largest window quantile] (the merged CDF is
        the weighted mean of the windows' CDFs, so it reaches the level between the two;
        with one window the range is a point and exact up to the sketch's rank error).
        ``latency_worst_p99_seconds`` is the worst window's p99."""
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
        for qname in ("p50", "p90", "p95", "p99"):
            pts = [p for p in lat if p["method"] == qname and p["value"] is not None]
            w = sum(events.get(p["window_start"], 0.0) for p in pts)
            out[f"latency_{qname}_seconds"] = (
                sum(p["value"] * events.get(p["window_start"], 0.0) for p in pts) / w if w else None
            )
            values = [float(p["value"]) for p in pts]
            out[f"latency_{qname}_range"] = [min(values), max(values)] if values else None
        p99s = [p["value"] for p in lat if p["method"] == "p99" and p["value"] is not None]
        out["latency_worst_p99_seconds"] = max(p99s) if p99s else None
        return out


def _infer_task(ys: list[Any], preds: list[Any]) -> str:
    values = ys + preds
    numeric = bool(values) and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in values
    )
    fractional = any(isinstance(v, float) and not v.is_integer() for v in values)
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


def _scores(scores: list[Any], positive: Any) -> list[float] | None:
    """Each request's probability of ``positive`` (binary tasks), or None if any is missing."""
    if positive is None:
        return None
    key = str(positive.item() if hasattr(positive, "item") else positive)
    out = []
    for s in scores:
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
