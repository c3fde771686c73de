"""The event wire format, and turning captured references into it (background thread).

Five kinds of record, each a JSON object with a ``type``: ``prediction``,
``label``, ``feedback``, ``job_run`` and ``runtime`` (once per process and
version: what the process runs; see docs/sdk.md for every field).
The hot path only queues a reference (an :class:`~driftline.sdk.observation.Observation`
or a small tuple); :class:`EventEncoder` builds the dicts, applies the privacy
policy and counts classes, scores and missing inputs, off the request path.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from driftline.sdk._ids import uuid7_hex, uuid7_hex_batch
from driftline.sdk.metrics import BoundMetrics, top_score
from driftline.sdk.privacy import PrivacyPolicy

if TYPE_CHECKING:
    from driftline.sdk.observation import Observation

KINDS = ("prediction", "label", "feedback", "job_run", "runtime")
#: Collector path of each kind.
PATHS = {
    "prediction": "/v1/events",
    "label": "/v1/labels",
    "feedback": "/v1/feedback",
    "kpi": "/v1/kpis",
    "job_run": "/v1/jobs",
    "runtime": "/v1/runtime",
}


@dataclass(frozen=True)
class Prediction:
    """What a tracked function or routed model may return: a prediction and its scores."""

    prediction: Any = None
    scores: Any = None


class RFC3339:
    """Formats epoch seconds as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``, caching the second.

    ``start``/``end`` bound the epoch microseconds of the cached second (an
    empty range before 1970-01-01T00:00:01): inside it, the fraction is the
    last six digits of the integer, which is cheaper than formatting it.
    """

    def __init__(self) -> None:
        self.start = 0
        self.end = 0
        self.prefix = ""

    def format(self, micros: int) -> str:
        """The timestamp of ``micros`` microseconds since the epoch."""
        if self.start <= micros < self.end:
            return self.prefix + str(micros)[-6:] + "Z"
        second, fraction = divmod(micros, 1_000_000)
        self.prefix = time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(second))
        start = micros - fraction if second > 0 else 0  # the fast path needs 7+ digits
        self.start, self.end = start, start + 1_000_000 if start else 0
        return f"{self.prefix}{fraction:06d}Z"

    def __call__(self, ts: float) -> str:
        return self.format(int(ts * 1_000_000))


def _is_nan(value: object) -> bool:
    return isinstance(value, float) and value != value


def _as_mapping(values: Any) -> Mapping[str, Any] | None:
    if values is None or type(values) is dict or isinstance(values, Mapping):
        return values
    if hasattr(values, "items"):
        return dict(values.items())
    if hasattr(values, "tolist"):
        values = values.tolist()
    if isinstance(values, list | tuple):
        return {str(i): v for i, v in enumerate(values)}
    return {"value": values}


class EventEncoder:
    """Builds wire dicts from queued references; runs on the shipper thread only."""

    def __init__(self, model: str, policy: PrivacyPolicy) -> None:
        self.model = model
        self.policy = policy
        self._ts = RFC3339()
        self._runtime: dict[str, Any] | None = None
        #: Called with each encoded observation that recorded an LLM request and its
        #: ``llm`` object (the judges, :mod:`driftline.sdk.judges`); on this thread.
        self.on_llm: Callable[[Observation, dict[str, Any]], None] | None = None
        #: per version, what rides on its next prediction event: ``resources`` (the
        #: shipper's samples) and ``checks`` (Monitor.check() counts); see :meth:`ride`
        self.riders: dict[str, dict[str, Any]] = {}
        #: counts a stage problem (``renamed``); set by the Monitor
        self.on_stage_problem: Callable[[str], None] = lambda problem: None
        #: the ``otel`` extra's exporter (spans per prediction and stage), else None
        self.otel: Any = None

    def new_id(self) -> str:
        """A time-ordered (version-7 UUID) hex id."""
        return uuid7_hex()

    def prediction(self, obs: Observation) -> dict[str, Any]:
        """The wire record of one observation; also tallies its metrics."""
        record: dict[str, Any] = self.predictions([obs])[0]
        return record

    def predictions(
        self,
        batch: list[Observation],
        pause: Callable[[], None] | None = None,
        on_error: Callable[[], None] | None = None,
    ) -> list[Any]:
        """The wire records of a batch of observations; also tallies their metrics.

        One loop with everything inlined, because it runs once per event: ids
        drawn for the whole batch, the timestamp's date part formatted once per
        second, a quick scan for missing inputs (counting them only when a None
        or NaN is there), and the privacy policy skipped for an event none of
        whose fields a rule names (when text is kept by default). ``pause`` is
        called every 32 events so the shipper can give the GIL back to request
        threads. An event that fails to encode is left out and ``on_error``
        called (without one, the error propagates).
        """
        new_id = uuid7_hex_batch(len(batch)).pop  # one OS call, this millisecond
        model = self.model
        policy = self.policy
        redact = not policy.is_noop
        named, keeps_unnamed = policy.named, policy.keeps_unnamed
        ts_cache = self._ts
        start, end, prefix = ts_cache.start, ts_cache.end, ts_cache.prefix
        bound: Any = None
        latencies: Any = None
        classes: Any = None
        top_scores: Any = None
        out: list[Any] = []
        append = out.append
        riders = self.riders
        for i, obs in enumerate(batch):
            if pause is not None and not i & 31:
                pause()
            try:
                if obs.bound is not bound:
                    bound = obs.bound
                    latencies = bound.latencies.append
                    classes = bound.classes.append
                    top_scores = bound.top_scores.append
                status = obs.status
                latency = obs.latency
                latencies(latency)
                bound.busy += latency
                features = obs.features
                if features is None:
                    features = {}
                elif features.__class__ is not dict:
                    features = self._missing(bound, _as_mapping(features) or {}, policy.name)
                elif features:
                    if len(features) != bound.features_seen:  # a new feature set: its
                        bound.init_missing(features.keys(), policy.name)  # series from 0
                    missing = False
                    try:
                        for value in features.values():
                            if value is None or value != value:  # only NaN differs from itself
                                missing = True
                                break
                    except Exception:  # e.g. an array value: its != is element-wise
                        missing = True
                    if missing:
                        features = self._missing(bound, features, policy.name)
                prediction = obs.prediction
                scores = obs.scores
                if status == "ok":
                    kind = prediction.__class__
                    if kind is str or kind is int or kind is bool:
                        # the metric shows the class as the collector gets it (the policy's)
                        classes(policy.metric_label(prediction) if redact else prediction)
                        if scores is not None:
                            top = None
                            if scores.__class__ is dict:
                                try:
                                    top = max(scores.values())
                                except (TypeError, ValueError):
                                    top = None
                            if top.__class__ is not float:
                                top = top_score(scores)
                            elif top - top != 0.0:  # NaN or infinite
                                top = None
                            if top is not None:
                                top_scores(top)
                    else:
                        bound.count_output(prediction, scores)
                else:
                    bound.error_types.append(obs.error_type or "Exception")
                event_id = obs._event_id or obs.assign_event_id(new_id)
                micros = int(obs.timestamp * 1_000_000)
                if start <= micros < end:
                    stamp = prefix + str(micros)[-6:] + "Z"
                else:
                    stamp = ts_cache.format(micros)
                    start, end, prefix = ts_cache.start, ts_cache.end, ts_cache.prefix
                segment = obs.segment
                if segment is not None and segment.__class__ is not dict:
                    segment = _as_mapping(segment)
                tags = obs.tags
                prediction_id = obs._prediction_id or event_id
                if redact and not (
                    keeps_unnamed
                    and named.isdisjoint(features)
                    and (segment is None or named.isdisjoint(segment))
                    and (tags is None or named.isdisjoint(tags))
                ):
                    features = policy.apply_mapping("features", features)
                    segment = policy.apply_mapping("segment", segment)
                    tags = policy.apply_mapping("tags", tags)
                    prediction_id = policy.apply_field("prediction_id", prediction_id)
                    prediction = policy.apply_field("prediction", prediction)
                    scores = policy.scores(scores)
                record: dict[str, Any] = {
                    "type": "prediction",
                    "event_id": event_id,
                    "prediction_id": prediction_id,
                    "timestamp": stamp,
                    "model": model,
                    "version": bound.version,
                    "features": features,
                    "prediction": prediction,
                    "scores": scores,
                    "segment": segment or {},
                    "latency_ms": latency * 1000.0,
                    "status": status,
                    "error_type": obs.error_type,
                    "shadow": obs.shadow,
                    "tags": tags or {},
                }
                call = obs.llm
                if call is not None:
                    from driftline.sdk.llm import encode_llm  # loaded by record_llm already

                    llm = encode_llm(call, policy, status)
                    record["llm"] = llm
                    if self.on_llm is not None:
                        try:
                            self.on_llm(obs, llm)
                        except Exception:  # the judges never cost an event
                            if on_error is not None:
                                on_error()
                if obs._last_stage is not None or obs.error is not None or obs.trace is not None:
                    self._extras(obs, record, bound)
                if riders and bound.version in riders:
                    record.update(riders.pop(bound.version))
                append(record)
            except Exception:
                if on_error is None:
                    raise
                on_error()
        return out

    def _extras(self, obs: Observation, record: dict[str, Any], bound: BoundMetrics) -> None:
        """Stages, error group and trace ids of one event (only events that have any)."""
        kept = obs.stages
        if kept is not None:
            from driftline.sdk.stages import encode_stages

            policy = self.policy
            redact = None if policy.is_noop else (lambda a: policy.apply_mapping("tags", a))
            stages = encode_stages(kept, obs.start, redact, self.on_stage_problem)
            record["stages"] = stages
            tally = bound.stages.append
            for st in stages:
                tally((st["name"], st["latency_ms"] / 1000.0, st["status"] == "error"))
        if obs.error is not None:
            from driftline.sdk.fingerprint import encode_error

            record["error"] = encode_error(obs.error, self.policy)
        if self.otel is not None and obs.trace is not None:
            self.otel.export(obs, record)

    def ride(self, version: str, key: str, value: dict[str, Any], merge: Any) -> None:
        """Put ``value`` on the next prediction event of ``version`` (merged with one waiting)."""
        waiting = self.riders.setdefault(version, {})
        if key in waiting:
            waiting[key] = merge(waiting[key], value)
        else:
            waiting[key] = value

    @staticmethod
    def _missing(
        bound: BoundMetrics, features: Mapping[str, Any], rename: Callable[[str], str]
    ) -> Mapping[str, Any]:
        """Count the None and NaN inputs of ``features`` (by their names as sent); NaN -> None."""
        if len(features) != bound.features_seen:  # a new feature set: its series from 0
            bound.init_missing(features.keys(), rename)
        has_nan = False
        for name, value in features.items():
            if value is None:
                bound.missing.append(rename(name))
            elif value.__class__ is float and value != value:
                bound.missing.append(rename(name))
                has_nan = True
        if has_nan:
            return {k: (None if _is_nan(v) else v) for k, v in features.items()}
        return features

    def label(self, ts: float, prediction_id: str, version: str, label: Any) -> dict[str, Any]:
        policy = self.policy
        return {
            "type": "label",
            "event_id": self.new_id(),
            "prediction_id": policy.apply_field("prediction_id", prediction_id),
            "timestamp": self._ts(ts),
            "model": self.model,
            "version": version,
            "label": policy.apply_field("label", label),
        }

    def feedback(
        self, ts: float, prediction_id: str, version: str, kind: str, value: Any
    ) -> dict[str, Any]:
        policy = self.policy
        return {
            "type": "feedback",
            "event_id": self.new_id(),
            "prediction_id": policy.apply_field("prediction_id", prediction_id),
            "timestamp": self._ts(ts),
            "model": self.model,
            "version": version,
            "kind": kind,
            "value": policy.apply_field("feedback", value),
        }

    def kpi(
        self, ts: float, prediction_id: str | None, version: str, name: str, value: float
    ) -> dict[str, Any]:
        out = {
            "type": "kpi",
            "event_id": self.new_id(),
            "timestamp": self._ts(ts),
            "model": self.model,
            "version": version,
            "name": name,
            "value": value,
        }
        if prediction_id is not None:
            out["prediction_id"] = self.policy.apply_field("prediction_id", prediction_id)
        return out

    def runtime(self, ts: float, version: str, metadata: Mapping[str, Any]) -> dict[str, Any]:
        """The serving runtime of this process (captured once, on the shipper thread)."""
        from driftline.sdk.runtime import capture_runtime, runtime_record

        if self._runtime is None:
            self._runtime = capture_runtime()
        return runtime_record(
            self.model, version, "serving", self._runtime, metadata, self.new_id(), self._ts(ts)
        )

    def job_run(self, run: Mapping[str, Any]) -> dict[str, Any]:
        error = run.get("error")
        out = {
            "type": "job_run",
            "event_id": self.new_id(),
            "job": run["job"],
            "run_id": run["run_id"],
            "scheduled_at": None if run["scheduled_at"] is None else self._ts(run["scheduled_at"]),
            "started_at": self._ts(run["started_at"]),
            "finished_at": self._ts(run["finished_at"]),
            "status": run["status"],
            "rows_in": run["rows_in"],
            "rows_out": run["rows_out"],
            "error": None if error is None else self.policy.mask(str(error)),
            "metrics": dict(run["metrics"]),
        }
        if run.get("newest_input_at") is not None:
            out["newest_input_at"] = self._ts(run["newest_input_at"])
        if run.get("expected_interval_seconds") is not None:
            out["expected_interval_seconds"] = run["expected_interval_seconds"]
        return out


def _default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _sanitise(value: Any) -> Any:
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, dict):
        return {k: _sanitise(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_sanitise(v) for v in value]
    if hasattr(value, "tolist"):
        return _sanitise(value.tolist())
    return value


_dumps = json.JSONEncoder(separators=(",", ":"), default=_default, ensure_ascii=False).encode

try:  # orjson is about 7x faster than the standard library; used when installed
    import orjson as _orjson
except ImportError:  # pragma: no cover - exercised when orjson is absent
    _orjson = None  # type: ignore[assignment, unused-ignore]

if _orjson is not None:
    _ORJSON_OPTIONS = _orjson.OPT_SERIALIZE_NUMPY
    #: Slower, so only used when a dict has a key that is not a string (e.g. int classes).
    _ORJSON_ANY_KEYS = _orjson.OPT_SERIALIZE_NUMPY | _orjson.OPT_NON_STR_KEYS


def _encode_std(records: Any) -> bytes:
    text = _dumps(records)
    if "NaN" in text or "Infinity" in text:
        text = _dumps(_sanitise(records))
    return text.encode("utf-8")


def _encode_value(value: Any) -> bytes:
    if _orjson is not None:
        try:
            return _orjson.dumps(value, default=_default, option=_ORJSON_OPTIONS)
        except TypeError:  # a non-string key (orjson stops at the first one), or see below
            pass
        try:
            return _orjson.dumps(value, default=_default, option=_ORJSON_ANY_KEYS)
        except TypeError:  # e.g. a non-contiguous array or an integer beyond 64 bits
            pass
    return _encode_std(value)


#: Records serialised per call: one call holds the GIL throughout, so a long list is
#: done in slices with the GIL given back in between.
JSON_SLICE = 1000


def encode_json(records: Any) -> bytes:
    """``records`` as compact JSON; NaN and infinities become null (JSON has neither)."""
    if type(records) is not list or len(records) <= JSON_SLICE:
        return _encode_value(records)
    parts = []
    for start in range(0, len(records), JSON_SLICE):
        if start:
            time.sleep(0)  # let request threads have the GIL between slices
        parts.append(_encode_value(records[start : start + JSON_SLICE])[1:-1])
    return b"[" + b",".join(parts) + b"]"


def encode_lines(records: list[dict[str, Any]]) -> list[bytes]:
    """One compact JSON document per record, for JSON-lines files."""
    return [encode_json(record) for record in records]
