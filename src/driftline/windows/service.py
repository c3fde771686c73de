"""Inside the model service, per window: stages, resources, error groups, input checks, tokens.

:class:`ServiceBlock` is what a batch of prediction events carries beyond the
features (built only when some event has a ``stages``, ``error``,
``resources`` or ``checks`` field); :class:`ServiceStats` is its mergeable,
serialisable accumulator inside :class:`~driftline.windows.stats.WindowStats`.

Per-prediction things (stages, errors, token usage) go into every segment the
event belongs to; per-process things (``resources``, ``checks``: records that
ride on one event, see docs/sdk.md) only into "all traffic", since the event
they ride on says nothing about a segment.

Caps keep a window bounded whatever arrives: :data:`MAX_STAGES` stage names
(later names share ``__other__``), :data:`MAX_GROUPS` error groups (later
fingerprints are counted in ``errors_other``), :data:`MAX_INSTANCES` processes
and :data:`MAX_LLM_MODELS` LLM models.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Self

import numpy as np

from driftline.stats._codec import pack, unpack
from driftline.stats.accumulators import Moments, QuantileSketch

MAX_STAGES = 50
MAX_GROUPS = 100
MAX_INSTANCES = 256
MAX_LLM_MODELS = 50
OTHER = "__other__"
FORMAT_VERSION = 1
#: Frames of an error group's stack kept per window (the innermost).
GROUP_FRAMES = 12


@dataclass
class ServiceBlock:
    """The service fields of a batch of events, by row (see the module docs)."""

    #: (row, name, seconds, status) of every stage
    stages: list[tuple[int, str, float, str]] = field(default_factory=list)
    #: rows that carried a ``stages`` field
    staged_rows: list[int] = field(default_factory=list)
    #: (row, ts, error record, trace id)
    errors: list[tuple[int, float, Mapping[str, Any], str | None]] = field(default_factory=list)
    #: (row, ts, resources record): all traffic only
    resources: list[tuple[int, float, Mapping[str, Any]]] = field(default_factory=list)
    #: (row, checks record): all traffic only
    checks: list[tuple[int, Mapping[str, Any]]] = field(default_factory=list)
    #: (row, llm model, input tokens, output tokens)
    usage: list[tuple[int, str, int, int]] = field(default_factory=list)

    @classmethod
    def of(cls, events: Sequence[Mapping[str, Any]]) -> ServiceBlock | None:
        out: ServiceBlock | None = None
        for i, e in enumerate(events):
            stages = e.get("stages")
            error = e.get("error")
            res = e.get("resources")
            checks = e.get("checks")
            llm = e.get("llm")
            if stages is None and error is None and res is None and checks is None and not llm:
                continue
            if out is None:
                out = cls()
            ts = float(e.get("ts") or 0.0)
            if stages:
                out.staged_rows.append(i)
                for st in stages:
                    out.stages.append(
                        (i, st["name"], float(st["latency_ms"]) / 1000.0, st.get("status", "ok"))
                    )
                    u = st.get("usage")
                    if u and u.get("model"):
                        out.usage.append(
                            (
                                i,
                                str(u["model"]),
                                int(u.get("input_tokens") or 0),
                                int(u.get("output_tokens") or 0),
                            )
                        )
            if llm and llm.get("llm_model"):  # an LLM request (docs/llm.md): its tokens cost
                tin, tout = llm.get("prompt_tokens") or 0, llm.get("completion_tokens") or 0
                if tin or tout:
                    out.usage.append((i, str(llm["llm_model"]), int(tin), int(tout)))
            if error is not None:
                out.errors.append((i, ts, error, e.get("trace_id")))
            if res is not None:
                out.resources.append((i, ts, res))
            if checks is not None:
                out.checks.append((i, checks))
        return out

    def take(self, rows: Sequence[int]) -> ServiceBlock | None:
        """The per-prediction fields of ``rows`` (renumbered); resources and checks stay out."""
        where = {int(r): j for j, r in enumerate(rows)}
        out = ServiceBlock(
            stages=[(where[r], n, s, t) for r, n, s, t in self.stages if r in where],
            staged_rows=[where[r] for r in self.staged_rows if r in where],
            errors=[(where[r], ts, e, tr) for r, ts, e, tr in self.errors if r in where],
            usage=[(where[r], m, i, o) for r, m, i, o in self.usage if r in where],
        )
        if not (out.stages or out.errors or out.usage or out.staged_rows):
            return None
        return out


class StageStats:
    """One stage name in one window: count, errors, unclosed, latency moments and sketch."""

    def __init__(self) -> None:
        self.n = 0
        self.errors = 0
        self.unclosed = 0
        self.latency = Moments()
        self.latency_q = QuantileSketch()

    def merge(self, other: StageStats) -> None:
        self.n += other.n
        self.errors += other.errors
        self.unclosed += other.unclosed
        self.latency.merge(other.latency)
        self.latency_q.merge(other.latency_q)


def _instance() -> dict[str, Any]:
    return {
        "cpu_seconds": 0.0,
        "gpu_seconds": 0.0,
        "interval_s": 0.0,
        "samples": 0,
        "rss_first": None,
        "rss_first_ts": None,
        "rss_last": None,
        "rss_last_ts": None,
        "rss_max": None,
        "gpu_util_seconds": 0.0,
        "gpu_memory_max": None,
        "gpu_status": {},
        "n_gpus": 0,
    }


class ServiceStats:
    """The service side of one window segment: ``fold(block)``, ``merge``, ``to_bytes``."""

    _KIND = "service_stats"

    def __init__(self, seed: int = 0) -> None:
        self.stages: dict[str, StageStats] = {}
        self.staged_events = 0
        self.groups: dict[str, dict[str, Any]] = {}
        self.errors_other = 0
        self.instances: dict[str, dict[str, Any]] = {}
        self.checks: dict[str, Any] = {"calls": 0, "violating": 0, "violations": {}}
        self.tokens: dict[str, list[int]] = {}  # llm model -> [calls, input, output]
        self._rng = np.random.default_rng(seed)

    @property
    def empty(self) -> bool:
        return not (
            self.stages or self.groups or self.instances or self.checks["calls"] or self.tokens
        )

    # -- fold --------------------------------------------------------------------------
    def fold(self, block: ServiceBlock) -> Self:
        self.staged_events += len(block.staged_rows)
        by_name: dict[str, list[float]] = {}
        for _, name, seconds, status in block.stages:
            st = self._stage(name)
            st.n += 1
            if status == "error":
                st.errors += 1
            elif status == "unclosed":
                st.unclosed += 1
            by_name.setdefault(name if name in self.stages else OTHER, []).append(seconds)
        for name, values in by_name.items():
            arr = np.asarray(values, dtype=np.float64)
            st = self.stages[name]
            st.latency.update(arr)
            st.latency_q.update(arr, self._rng)
        for _, ts, err, trace in block.errors:
            self._error(err, ts, trace)
        for _, ts, res in block.resources:
            self._resources(res, ts)
        for _, chk in block.checks:
            c = self.checks
            c["calls"] += int(chk.get("calls") or 0)
            c["violating"] += int(chk.get("violating") or 0)
            bad = c["violations"]
            for k, n in (chk.get("violations") or {}).items():
                bad[k] = bad.get(k, 0) + int(n)
        for _, model, tin, tout in block.usage:
            key = model if model in self.tokens or len(self.tokens) < MAX_LLM_MODELS else OTHER
            t = self.tokens.setdefault(key, [0, 0, 0])
            t[0] += 1
            t[1] += tin
            t[2] += tout
        return self

    def _stage(self, name: str) -> StageStats:
        st = self.stages.get(name)
        if st is None:
            if len(self.stages) >= MAX_STAGES:
                name = OTHER
                st = self.stages.get(OTHER)
            if st is None:
                st = self.stages[name] = StageStats()
        return st

    def _error(self, err: Mapping[str, Any], ts: float, trace: str | None) -> None:
        fp = str(err.get("fingerprint") or "")
        g = self.groups.get(fp)
        if g is None:
            if len(self.groups) >= MAX_GROUPS:
                self.errors_other += 1
                return
            g = self.groups[fp] = {
                "type": str(err.get("type") or ""),
                "count": 0,
                "first_seen": ts,
                "last_seen": ts,
                "message": err.get("message"),
                "frames": list(err.get("frames") or [])[-GROUP_FRAMES:],
                "trace_id": trace,
            }
        g["count"] += 1
        if ts < g["first_seen"]:
            g["first_seen"] = ts
        if ts >= g["last_seen"]:
            g["last_seen"] = ts
            g["message"] = err.get("message")
            if trace:
                g["trace_id"] = trace

    def _resources(self, res: Mapping[str, Any], ts: float) -> None:
        key = str(res.get("instance") or "")
        inst = self.instances.get(key)
        if inst is None:
            if len(self.instances) >= MAX_INSTANCES:
                key = OTHER
                inst = self.instances.get(OTHER)
            if inst is None:
                inst = self.instances[key] = _instance()
        inst["cpu_seconds"] += float(res.get("cpu_seconds") or 0.0)
        inst["gpu_seconds"] += float(res.get("gpu_seconds") or 0.0)
        interval = float(res.get("interval_s") or 0.0)
        share = res.get("share")
        share = 1.0 if share is None else float(share)
        inst["interval_s"] += interval
        inst["samples"] += 1
        rss = res.get("rss_bytes")
        if rss is not None:
            _rss_point(inst, float(rss), ts)
        gpus = res.get("gpus") or []
        for g in gpus:
            inst["gpu_util_seconds"] += float(g.get("utilization") or 0.0) * interval * share
            mem = g.get("memory_bytes")
            if mem is not None:
                have = inst["gpu_memory_max"]
                inst["gpu_memory_max"] = float(mem) if have is None else max(have, float(mem))
        inst["n_gpus"] = max(inst["n_gpus"], int(res.get("n_gpus") or len(gpus)))
        status = str(res.get("gpu_status") or "absent")
        inst["gpu_status"][status] = inst["gpu_status"].get(status, 0) + 1

    # -- merge / bytes -------------------------------------------------------------------
    def merge(self, other: ServiceStats) -> Self:
        self.staged_events += other.staged_events
        for name, st in other.stages.items():
            have = self.stages.get(name)
            if have is None and len(self.stages) >= MAX_STAGES:
                have = self.stages.get(OTHER)
                if have is None:
                    have = self.stages[OTHER] = StageStats()
            if have is None:
                self.stages[name] = st
            else:
                have.merge(st)
        for fp, g in other.groups.items():
            have_g = self.groups.get(fp)
            if have_g is None:
                if len(self.groups) >= MAX_GROUPS:
                    self.errors_other += int(g["count"])
                    continue
                self.groups[fp] = dict(g)
                continue
            have_g["count"] += g["count"]
            have_g["first_seen"] = min(have_g["first_seen"], g["first_seen"])
            if g["last_seen"] >= have_g["last_seen"]:
                have_g["last_seen"] = g["last_seen"]
                have_g["message"] = g["message"]
                have_g["trace_id"] = g.get("trace_id") or have_g.get("trace_id")
        self.errors_other += other.errors_other
        for key, inst in other.instances.items():
            have_i = self.instances.get(key)
            if have_i is None:
                self.instances[key] = dict(inst, gpu_status=dict(inst["gpu_status"]))
                continue
            for k in ("cpu_seconds", "gpu_seconds", "interval_s", "samples", "gpu_util_seconds"):
                have_i[k] += inst[k]
            for rss, ts in ((inst["rss_first"], inst["rss_first_ts"]),
                            (inst["rss_last"], inst["rss_last_ts"])):  # fmt: skip
                if rss is not None:
                    _rss_point(have_i, rss, ts)
            if inst["rss_max"] is not None:
                have_i["rss_max"] = max(have_i["rss_max"] or 0.0, inst["rss_max"])
            if inst["gpu_memory_max"] is not None:
                have_i["gpu_memory_max"] = max(
                    have_i["gpu_memory_max"] or 0.0, inst["gpu_memory_max"]
                )
            have_i["n_gpus"] = max(have_i["n_gpus"], inst["n_gpus"])
            for s, n in inst["gpu_status"].items():
                have_i["gpu_status"][s] = have_i["gpu_status"].get(s, 0) + n
        c = self.checks
        c["calls"] += other.checks["calls"]
        c["violating"] += other.checks["violating"]
        for k, n in other.checks["violations"].items():
            c["violations"][k] = c["violations"].get(k, 0) + n
        for model, t in other.tokens.items():
            key = model if model in self.tokens or len(self.tokens) < MAX_LLM_MODELS else OTHER
            have_t = self.tokens.setdefault(key, [0, 0, 0])
            for i in range(3):
                have_t[i] += t[i]
        return self

    def to_bytes(self) -> bytes:
        names = list(self.stages)
        scalars = {
            "stages": [
                [n, self.stages[n].n, self.stages[n].errors, self.stages[n].unclosed] for n in names
            ],
            "staged_events": self.staged_events,
            "groups": self.groups,
            "errors_other": self.errors_other,
            "instances": self.instances,
            "checks": self.checks,
            "tokens": self.tokens,
        }
        arrays = {}
        for i, n in enumerate(names):
            st = self.stages[n]
            arrays[f"m{i}"] = np.frombuffer(st.latency.to_bytes(), dtype=np.uint8)
            arrays[f"q{i}"] = np.frombuffer(st.latency_q.to_bytes(), dtype=np.uint8)
        return pack(self._KIND, FORMAT_VERSION, scalars, arrays)

    @classmethod
    def from_bytes(cls, data: bytes) -> ServiceStats:
        _, s, a = unpack(cls._KIND, data, FORMAT_VERSION)
        out = cls()
        for i, (name, n, errors, unclosed) in enumerate(s["stages"]):
            st = StageStats()
            st.n, st.errors, st.unclosed = int(n), int(errors), int(unclosed)
            st.latency = Moments.from_bytes(a[f"m{i}"].tobytes())
            st.latency_q = QuantileSketch.from_bytes(a[f"q{i}"].tobytes())
            out.stages[str(name)] = st
        out.staged_events = int(s["staged_events"])
        out.groups = {str(k): dict(v) for k, v in s["groups"].items()}
        out.errors_other = int(s["errors_other"])
        out.instances = {str(k): dict(v) for k, v in s["instances"].items()}
        out.checks = dict(s["checks"])
        out.tokens = {str(k): [int(x) for x in v] for k, v in s["tokens"].items()}
        return out

    # -- what the window says ------------------------------------------------------------
    @property
    def cpu_seconds(self) -> float:
        return float(sum(i["cpu_seconds"] for i in self.instances.values()))

    @property
    def gpu_seconds(self) -> float:
        return float(sum(i["gpu_seconds"] for i in self.instances.values()))

    def rss_bytes(self) -> float | None:
        """Memory of the service: the sum over its processes of each one's latest RSS."""
        vals = [i["rss_last"] for i in self.instances.values() if i["rss_last"] is not None]
        return float(sum(vals)) if vals else None

    def rss_growth(self) -> tuple[float, float] | None:
        """(bytes, seconds): the summed RSS change of processes seen at two times or more."""
        grew, span = 0.0, 0.0
        seen = False
        for i in self.instances.values():
            if i["rss_first_ts"] is None or i["rss_last_ts"] is None:
                continue
            dt = i["rss_last_ts"] - i["rss_first_ts"]
            if dt <= 0:
                continue
            seen = True
            grew += i["rss_last"] - i["rss_first"]
            span = max(span, dt)
        return (grew, span) if seen else None

    def gpu_utilization(self) -> float | None:
        """GPU busy share over the sampled GPU time, or None when no GPU was sampled."""
        held = sum(i["gpu_seconds"] for i in self.instances.values())
        used = sum(i["gpu_util_seconds"] for i in self.instances.values())
        return used / held if held > 0 else None

    def gpu_status(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for i in self.instances.values():
            for s, n in i["gpu_status"].items():
                out[s] = out.get(s, 0) + n
        return out


def _rss_point(inst: dict[str, Any], rss: float, ts: float | None) -> None:
    if ts is None:
        return
    if inst["rss_first_ts"] is None or ts < inst["rss_first_ts"]:
        inst["rss_first"], inst["rss_first_ts"] = rss, ts
    if inst["rss_last_ts"] is None or ts >= inst["rss_last_ts"]:
        inst["rss_last"], inst["rss_last_ts"] = rss, ts
    inst["rss_max"] = rss if inst["rss_max"] is None else max(inst["rss_max"], rss)


def merged(stats: Iterable[ServiceStats]) -> ServiceStats:
    out = ServiceStats()
    for s in stats:
        out.merge(s)
    return out
