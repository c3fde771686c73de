"""Reading ingest bodies (JSON array or NDJSON, gzip) and validating each event.

Validation is per event: a bad event is rejected with the field and what is
allowed, the rest of the batch goes on. Accepted events are normalised dicts
(``ts`` in epoch seconds, defaults filled in) with ``payload``, their JSON as
stored.
"""

from __future__ import annotations

import functools
import math
import re
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import orjson

from driftline.errors import HTTPError
from driftline.signals import KPI_PREFIX

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@+-]{0,127}$")
MAX_ID = 128
MIN_TS = 946_684_800.0  # 2000-01-01
STATUSES = ("ok", "error")


class BodyError(HTTPError):
    """The request body as a whole cannot be read; ``status`` is the HTTP answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message, status=status)


class InvalidEventError(HTTPError):
    """One event is invalid: ``field`` and a message saying what is allowed.

    The event is rejected inside a 200/207 answer; 422 is its status on its own.
    ``limit``: the setting that turned it away, when a configured limit did.
    """

    status = 422

    def __init__(
        self, field: str, message: str, limit: str | None = None, reason: str | None = None
    ) -> None:
        super().__init__(message)
        self.field = field
        self.limit = limit
        #: Why, when it is worth counting apart (``driftline_rejects_total{reason}``).
        self.reason = reason


@dataclass
class Batch:
    #: The accepted records, normalised. An Arrow batch's predictions are an
    #: ``ArrowEvents`` (windows/events.py): the fields the live path reads (``event_id``,
    #: ``prediction_id``, ``ts``, ``model``, ``version``, ``status``, ``shadow``,
    #: ``segment``, ``outlier``) as columns; the rest is in ``table`` and ``segment``
    #: (``store.segments.events_of`` makes the whole events).
    accepted: Sequence[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    #: Records whose id repeats an earlier record of the same batch (counted as duplicates).
    repeated: int = 0
    #: Position in the request of each accepted record.
    index: list[int] = field(default_factory=list)
    #: Ids of accepted records that were stored already (set when stored; None: unknown).
    known: list[str] | None = None
    #: Rejected records by the setting whose limit turned them away.
    limited: dict[str, int] = field(default_factory=dict)
    #: Labels stored that match no stored prediction (set when stored).
    unmatched: int = 0
    #: Rejected records by reason, where one is given (see :class:`InvalidEventError`).
    reasons: dict[str, int] = field(default_factory=dict)
    #: Windows the accepted feedback / KPI records belong to (re-evaluated once stored).
    windows: list[Any] = field(default_factory=list)
    #: The accepted predictions as an Arrow table, row for row (Arrow batches only).
    table: Any = None
    #: Their payload fields as a segment table, row for row (Arrow batches only;
    #: store/segments.py): stored instead of one JSON payload per event.
    segment: Any = None


def decode_body(
    body: bytes, encoding: str | None, content_type: str | None, max_decoded: int
) -> list[Any]:
    """The list of JSON values in ``body``; raises :class:`BodyError` (400/413/415)."""
    body = unzip(body, encoding, max_decoded)
    ctype = (content_type or "").split(";")[0].strip().lower()
    ndjson = ctype in ("application/x-ndjson", "application/jsonl", "application/json-seq")
    if not ndjson:
        try:
            value = orjson.loads(body)
        except orjson.JSONDecodeError:
            if b"\n" not in body.strip():
                raise BodyError(400, "body is not valid JSON (a JSON array or NDJSON)") from None
            ndjson = True
        else:
            if isinstance(value, list):
                return value
            return [value]
    out: list[Any] = []
    for line in body.splitlines():
        if not line.strip():
            continue
        try:
            out.append(orjson.loads(line))
        except orjson.JSONDecodeError:
            out.append(_BadLine(line[:80]))
    return out


def unzip(body: bytes, encoding: str | None, max_decoded: int) -> bytes:
    """``body`` decoded as its ``Content-Encoding`` says (gzip or identity; else 415)."""
    enc = (encoding or "identity").strip().lower()
    if enc == "gzip":
        return gunzip(body, max_decoded)
    if enc not in ("identity", ""):
        raise BodyError(415, f"Content-Encoding {enc!r} is not supported; allowed: gzip, identity")
    return body


def gunzip(body: bytes, max_decoded: int) -> bytes:
    """Every gzip member of ``body``, concatenated (RFC 1952 allows several, as ``gzip -c``)."""
    out = bytearray()
    rest = body
    while True:
        d = zlib.decompressobj(wbits=31)
        try:
            out += d.decompress(rest, max_decoded + 1 - len(out))
        except zlib.error as exc:
            raise BodyError(400, f"body is not valid gzip: {exc}") from exc
        if len(out) > max_decoded or (d.unconsumed_tail and not d.eof):
            raise BodyError(413, f"decompressed body exceeds {max_decoded} bytes")
        if not d.eof:
            raise BodyError(400, "body is not valid gzip: truncated stream")
        rest = d.unused_data
        if not rest:
            return bytes(out)
        if rest.strip(b"\x00") == b"":  # zero padding after the last member (tape style)
            return bytes(out)


@dataclass(frozen=True)
class _BadLine:
    head: bytes


# -- field checks ------------------------------------------------------------------------------


def _str(e: dict[str, Any], name: str, required: bool = True, limit: int = MAX_ID) -> str | None:
    v = e.get(name)
    if v is None:
        if required:
            raise InvalidEventError(
                name, f"{name} is required: a string of 1 to {limit} characters"
            )
        return None
    if not isinstance(v, str) or not 0 < len(v) <= limit:
        raise InvalidEventError(name, f"{name} must be a string of 1 to {limit} characters")
    if "\x00" in v:
        _nul(name)
    return v


def _nul(name: str) -> None:
    """Reject a NUL character: PostgreSQL cannot store one in text, so no store accepts it."""
    raise InvalidEventError(
        name, f"{name} contains a NUL character (\\u0000); allowed: any other characters"
    )


def _depth(value: Any, limit: int) -> int:
    """Nesting depth of ``value`` (a scalar is 0), counting up to ``limit + 1`` at most."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        v, d = stack.pop()
        kids = v.values() if type(v) is dict else v
        for x in kids:
            if type(x) is dict or type(x) is list:
                if d + 2 > limit:
                    return d + 2
                stack.append((x, d + 1))
        deepest = max(deepest, d + 1)
    return deepest


def check_depth(name: str, value: Any, limit: int) -> None:
    """Raise :class:`InvalidEventError` when ``value`` nests deeper than ``limit`` levels."""
    if (type(value) is dict or type(value) is list) and _depth(value, limit) > limit:
        raise InvalidEventError(
            name,
            f"{name} is nested more than {limit} levels deep; allowed: max_depth={limit}",
            limit="max_depth",
        )


@functools.lru_cache(maxsize=4096)
def valid_name(v: str) -> bool:
    return NAME_RE.fullmatch(v) is not None  # match() would take "m\n" ($ before a newline)


def _name(e: dict[str, Any], name: str, required: bool = True) -> str | None:
    v = e.get(name)
    if v is None and not required:
        return None
    if not isinstance(v, str) or not valid_name(v):
        raise InvalidEventError(
            name,
            f"{name} must be 1 to 128 characters of letters, digits and _.:@+- "
            "starting with a letter or digit",
        )
    return v


@functools.lru_cache(maxsize=4096)
def _utc_second(prefix: str) -> float | None:
    """Epoch seconds of ``YYYY-MM-DDTHH:MM:SS`` in UTC (cached: events share seconds)."""
    try:
        return datetime.fromisoformat(prefix).replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        return None


def parse_time(v: Any, name: str, now: float, max_future: float) -> float:
    """Epoch seconds of an RFC 3339 string (or a number of epoch seconds)."""
    ts: float | None = None
    if (
        type(v) is str
        and len(v) == 27
        and v[19] == "."
        and v[26] == "Z"
        and v[10] == "T"
        and v[20:26].isdigit()
    ):  # the SDK's form, YYYY-MM-DDTHH:MM:SS.ffffffZ
        base = _utc_second(v[:19])
        if base is not None:
            ts = base + int(v[20:26]) / 1e6
    if ts is not None:
        pass
    elif isinstance(v, int | float) and not isinstance(v, bool):
        ts = float(v)
    elif isinstance(v, str) and 10 <= len(v) <= 40:
        text = v.replace("z", "Z")
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            raise InvalidEventError(
                name, f"{name}={v!r} is not an RFC 3339 time (e.g. 2024-05-01T12:00:00Z)"
            ) from None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=timezone.utc)
        ts = dt.timestamp()
    else:
        raise InvalidEventError(name, f"{name} must be an RFC 3339 time string or epoch seconds")
    if not math.isfinite(ts) or ts < MIN_TS or ts > now + max_future:
        raise InvalidEventError(
            name,
            f"{name}={v!r} is out of range; allowed: from 2000-01-01 to "
            f"{int(max_future)} s after the collector's clock",
        )
    return ts


def _obj(e: dict[str, Any], name: str, limit: int) -> dict[str, Any]:
    v = e.get(name)
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise InvalidEventError(name, f"{name} must be a JSON object")
    if len(v) > limit:
        raise InvalidEventError(
            name,
            f"{name} has {len(v)} keys; at most {limit} allowed",
            limit="max_features" if name == "features" else None,
        )
    return v


def _number(e: dict[str, Any], name: str, minimum: float | None = None) -> float | None:
    v = e.get(name)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise InvalidEventError(name, f"{name} must be a finite number or null")
    if minimum is not None and v < minimum:
        raise InvalidEventError(name, f"{name}={v} must be >= {minimum}")
    return float(v)


def _int(e: dict[str, Any], name: str) -> int | None:
    v = e.get(name)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < 2**63:
        raise InvalidEventError(name, f"{name} must be a non-negative integer or null")
    return v


def _kind(e: dict[str, Any], expected: str) -> None:
    t = e.get("type")
    if t is not None and t != expected:
        raise InvalidEventError("type", f"type={t!r} does not belong here; allowed: {expected!r}")


# -- event kinds -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    now: float
    max_future: float
    max_features: int
    max_depth: int = 32


def prediction(e: dict[str, Any], lim: Limits) -> dict[str, Any]:
    """A validated, normalised prediction event (the hot path: few calls per event)."""
    t = e.get("type")
    if t is not None and t != "prediction":
        _kind(e, "prediction")
    event_id = e.get("event_id")
    if type(event_id) is not str or not 0 < len(event_id) <= MAX_ID or "\x00" in event_id:
        _str(e, "event_id")
    prediction_id = e.get("prediction_id")
    if prediction_id is None:
        prediction_id = event_id
    elif (
        type(prediction_id) is not str
        or not 0 < len(prediction_id) <= MAX_ID
        or "\x00" in prediction_id
    ):
        _str(e, "prediction_id")
    status = e.get("status", "ok")
    if status != "ok" and status != "error":
        raise InvalidEventError("status", f"status={status!r}; allowed: 'ok', 'error'")
    shadow = e.get("shadow", False)
    if shadow is not False and shadow is not True:
        raise InvalidEventError("shadow", "shadow must be true or false")
    error_type = e.get("error_type")
    if error_type is not None and type(error_type) is not str:
        raise InvalidEventError("error_type", "error_type must be a string or null")
    features = e.get("features")
    if type(features) is not dict or len(features) > lim.max_features:
        features = _obj(e, "features", lim.max_features)
    for k, v in features.items():
        if not k or len(k) > MAX_ID or "\x00" in k:
            _bad_feature_name(k)
        if type(v) is dict or type(v) is list:
            check_depth(f"features.{k}", v, lim.max_depth)
    for name in ("prediction", "scores"):
        v = e.get(name)
        if type(v) is dict or type(v) is list:
            check_depth(name, v, lim.max_depth)
    segment = e.get("segment")
    if segment is None:
        segment = {}
    elif type(segment) is not dict or len(segment) > 32:
        segment = _obj(e, "segment", 32)
    for k, v in segment.items():
        if isinstance(v, dict | list):
            raise InvalidEventError(
                f"segment.{k}", f"segment value of {k!r} must be a string or number"
            )
        if (
            not k
            or len(k) > MAX_ID
            or "\x00" in k
            or (type(v) is str and (len(v) > MAX_ID or "\x00" in v))
        ):
            raise InvalidEventError(
                f"segment.{k[:MAX_ID]}",
                f"segment keys and values must be 1 to {MAX_ID} characters without NUL (\\u0000)",
            )
    tags = e.get("tags")
    if tags is None:
        tags = {}
    elif type(tags) is not dict or len(tags) > 64:
        tags = _obj(e, "tags", 64)
    if tags:
        check_depth("tags", tags, lim.max_depth)
    latency = e.get("latency_ms")
    if latency is not None and (type(latency) is not float or not 0 <= latency < math.inf):
        latency = _number(e, "latency_ms", 0.0)
    llm = e.get("llm")
    if llm is not None:
        llm = llm_object(llm, lim)
    outlier = e.get("outlier")
    if outlier is not None:
        outlier = outlier_object(outlier)
    out = {
        "type": "prediction",
        "event_id": event_id,
        "prediction_id": prediction_id,
        "timestamp": e.get("timestamp"),
        "ts": parse_time(e.get("timestamp"), "timestamp", lim.now, lim.max_future),
        "model": _name(e, "model"),
        "version": _name(e, "version"),
        "features": features,
        "prediction": e.get("prediction"),
        "scores": e.get("scores"),
        "segment": segment,
        "latency_ms": latency,
        "status": status,
        "error_type": error_type,
        "shadow": shadow,
        "tags": tags,
    }
    if llm is not None:
        out["llm"] = llm
    if outlier is not None:
        out["outlier"] = outlier
    if (
        "stages" in e
        or "error" in e
        or "resources" in e
        or "checks" in e
        or "trace_id" in e
        or "span_id" in e
    ):
        from driftline.server.ingest_service import service_fields

        service_fields(e, out, lim.max_depth)
    return out


def outlier_object(v: Any) -> dict[str, Any]:
    """A prediction's ``outlier`` object: the SDK's score and the tag of the model that gave
    it (windows/prescored.py; docs/collector.md, "Outlier scores in the SDK")."""
    if type(v) is not dict or set(v) != {"score", "model"}:
        raise InvalidEventError(
            "outlier", 'outlier must be an object {"score": number, "model": tag}, nothing else'
        )
    score, tag = v["score"], v["model"]
    if type(score) not in (int, float) or not 0 <= score < math.inf:
        raise InvalidEventError(
            "outlier.score", f"outlier.score={score!r}; allowed: a finite number >= 0"
        )
    if type(tag) is not str or not 0 < len(tag) <= 64 or not (tag.isascii() and tag.isalnum()):
        raise InvalidEventError(
            "outlier.model",
            f"outlier.model={str(tag)[:80]!r}; allowed: the model's tag (1 to 64 letters or "
            "digits, as GET /v1/models/{model}/versions/{version}/outlier-model gives it)",
        )
    return {"score": float(score), "model": tag}


#: Keys of a prediction's ``llm`` object (docs/llm.md, "The event") and their checks.
_LLM_TEXT = ("query", "answer", "session_id", "llm_model", "provider", "citation")
_LLM_COUNTS = ("query_chars", "answer_chars", "answer_words", "prompt_tokens",
               "completion_tokens", "retrieved_total")  # fmt: skip
_LLM_FLAGS = ("empty", "refusal", "cites_retrieved")
LLM_KEYS = frozenset(
    (*_LLM_TEXT, *_LLM_COUNTS, *_LLM_FLAGS, "overlap", "retrieved", "cited", "stages_ms",
     "query_embedding", "problems")
)  # fmt: skip
#: Retrieved items, cited ids and embedding dimensions an event may carry.
MAX_LLM_ITEMS = 200
MAX_LLM_TEXT = 100_000


def llm_object(v: Any, lim: Limits) -> dict[str, Any]:
    """A prediction's ``llm`` object, checked field by field (docs/llm.md)."""
    if type(v) is not dict:
        raise InvalidEventError("llm", "llm must be a JSON object (docs/llm.md)")
    unknown = set(v) - LLM_KEYS
    if unknown:
        raise InvalidEventError(
            f"llm.{sorted(unknown)[0]}",
            f"llm has unknown key(s) {sorted(unknown)}; allowed: {', '.join(sorted(LLM_KEYS))}",
        )
    check_depth("llm", v, lim.max_depth)
    for k in _LLM_TEXT:
        x = v.get(k)
        if x is None:
            continue
        if k in ("query", "answer") and type(x) is dict:
            continue  # derived values of a privacy rule (length, tokens)
        if type(x) is not str or len(x) > MAX_LLM_TEXT:
            raise InvalidEventError(f"llm.{k}", f"llm.{k} must be a string of at most "
                                    f"{MAX_LLM_TEXT} characters or null")  # fmt: skip
        if "\x00" in x:
            _nul(f"llm.{k}")
    for k in _LLM_COUNTS:
        x = v.get(k)
        if x is not None and (type(x) is not int or not 0 <= x < 2**53):
            raise InvalidEventError(f"llm.{k}", f"llm.{k} must be an integer >= 0 or null")
    for k in _LLM_FLAGS:
        x = v.get(k)
        if x is not None and type(x) is not bool:
            raise InvalidEventError(f"llm.{k}", f"llm.{k} must be true, false or null")
    overlap = v.get("overlap")
    if overlap is not None and (type(overlap) not in (int, float) or not 0 <= overlap <= 1):
        raise InvalidEventError("llm.overlap", "llm.overlap must be a number in [0, 1] or null")
    items = v.get("retrieved")
    if items is not None:
        if type(items) is not list or len(items) > MAX_LLM_ITEMS:
            raise InvalidEventError(
                "llm.retrieved", f"llm.retrieved must be a list of at most {MAX_LLM_ITEMS} "
                "{id, score} objects"
            )  # fmt: skip
        for i, item in enumerate(items):
            score: Any = item.get("score") if type(item) is dict else None
            if (
                type(item) is not dict
                or type(score) not in (int, float)
                or not math.isfinite(score)
                or not isinstance(item.get("id"), str | int | type(None))
            ):
                raise InvalidEventError(
                    f"llm.retrieved[{i}]",
                    'each retrieved item is {"id": string, "score": finite number}',
                )
    cited = v.get("cited")
    if cited is not None and (type(cited) is not list or len(cited) > MAX_LLM_ITEMS):
        raise InvalidEventError(
            "llm.cited", f"llm.cited must be a list of at most {MAX_LLM_ITEMS} ids"
        )
    stages = v.get("stages_ms")
    if stages is not None and (
        type(stages) is not dict
        or len(stages) > 32
        or any(type(x) not in (int, float) or not 0 <= x < math.inf for x in stages.values())
    ):
        raise InvalidEventError(
            "llm.stages_ms", "llm.stages_ms maps at most 32 stage names to milliseconds >= 0"
        )
    emb = v.get("query_embedding")
    if type(emb) is list and (len(emb) > 8192 or any(type(x) not in (int, float) for x in emb)):
        raise InvalidEventError(
            "llm.query_embedding", "llm.query_embedding must be a list of at most 8192 numbers"
        )
    problems = v.get("problems")
    if problems is not None and (
        type(problems) is not list
        or len(problems) > 64
        or any(type(p) is not str for p in problems)
    ):
        raise InvalidEventError("llm.problems", "llm.problems must be a list of short strings")
    return v


def _bad_feature_name(k: str) -> None:
    shown = k[:40].replace("\x00", "\\u0000")
    raise InvalidEventError(
        f"features.{shown}",
        f"feature name {shown!r} must be 1 to {MAX_ID} characters without NUL (\\u0000)",
    )


def label(e: dict[str, Any], lim: Limits) -> dict[str, Any]:
    _kind(e, "label")
    if "label" not in e or e["label"] is None:
        raise InvalidEventError(
            "label", "label is required: a class (string, integer, boolean) or number"
        )
    if isinstance(e["label"], dict | list):
        raise InvalidEventError("label", "label must be a string, number or boolean")
    return {
        "event_id": _str(e, "event_id"),
        "prediction_id": _str(e, "prediction_id"),
        "model": _name(e, "model"),
        "version": _name(e, "version", required=False),
        "ts": parse_time(e.get("timestamp"), "timestamp", lim.now, lim.max_future),
        "label": orjson.dumps(e["label"]).decode(),
    }


#: Longest KPI name (its metric points are named ``kpi.<name>``).
MAX_KPI_NAME = 64


def feedback(e: dict[str, Any], lim: Limits) -> dict[str, Any]:
    _kind(e, "feedback")
    value = e.get("value")
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidEventError("value", "value must be finite")
    check_depth("value", value, lim.max_depth)
    kind = _name(e, "kind")
    assert kind is not None
    if kind.startswith(KPI_PREFIX):
        raise InvalidEventError(
            "kind",
            f"kind {kind!r}: kinds starting with {KPI_PREFIX!r} are reserved for KPIs; "
            "send KPIs to /v1/kpis (Monitor.kpi), or name the feedback kind otherwise",
        )
    return {
        "event_id": _str(e, "event_id"),
        "prediction_id": _str(e, "prediction_id"),
        "model": _name(e, "model"),
        "version": _name(e, "version", required=False),
        "ts": parse_time(e.get("timestamp"), "timestamp", lim.now, lim.max_future),
        "kind": kind,
        "value": orjson.dumps(value).decode(),
    }


def kpi(e: dict[str, Any], lim: Limits) -> dict[str, Any]:
    """A user-defined KPI value: ``name``, a finite number, of a prediction or of a version.

    Without ``prediction_id`` the value belongs to the window of its timestamp and
    ``version`` is required. Names that are built-in signals are refused.
    """
    from driftline.signals import builtin_clash

    _kind(e, "kpi")
    name = _name(e, "name")
    assert name is not None
    if len(name) > MAX_KPI_NAME:
        raise InvalidEventError("name", f"name must be at most {MAX_KPI_NAME} characters")
    clash = builtin_clash(name)
    if clash is not None:
        raise InvalidEventError(
            "name",
            f"KPI name {name!r} clashes with the built-in signal {clash!r}; "
            f"choose another name (e.g. {('business_' + name)[:MAX_KPI_NAME]!r})",
            reason="builtin_name",
        )
    value = e.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidEventError("value", f"value of KPI {name!r} must be a finite number")
    prediction_id = _str(e, "prediction_id", required=False)
    version = _name(e, "version", required=prediction_id is None)
    return {
        "event_id": _str(e, "event_id"),
        "prediction_id": prediction_id or "",
        "model": _name(e, "model"),
        "version": version,
        "ts": parse_time(e.get("timestamp"), "timestamp", lim.now, lim.max_future),
        "kind": KPI_PREFIX + name,
        "value": orjson.dumps(float(value)).decode(),
    }


#: Keys of a job run's stored ``metrics`` that the collector sets (user metrics may not start
#: with ``_``): the age reference of freshness and the expected interval of the dead-man alert.
NEWEST_INPUT = "_newest_input_at"
EXPECTED_INTERVAL = "_expected_interval_seconds"


def job_run(e: dict[str, Any], lim: Limits) -> dict[str, Any]:
    _kind(e, "job_run")
    metrics = dict(_obj(e, "metrics", 256))
    bad = [
        k
        for k, v in metrics.items()
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v)
    ]
    if bad:
        shown = ", ".join(f"{k}={metrics[k]!r}"[:80] for k in bad[:5])
        raise InvalidEventError(
            f"metrics.{bad[0]}",
            f"job metrics must be finite numbers (charted and alerted on per job); "
            f"{len(bad)} are not: {shown}. Send text as the run's error or tags elsewhere",
            reason="non_numeric_metric",
        )
    reserved = [k for k in metrics if k.startswith("_")]
    if reserved:
        raise InvalidEventError(
            f"metrics.{reserved[0]}",
            f"job metric names starting with '_' are reserved; got {reserved[0]!r}",
        )
    newest = e.get("newest_input_at")
    if newest is not None:
        metrics[NEWEST_INPUT] = parse_time(newest, "newest_input_at", lim.now, lim.max_future)
    every = _number(e, "expected_interval_seconds", 1.0)
    if every is not None:
        metrics[EXPECTED_INTERVAL] = every
    error = e.get("error")
    if error is not None and not isinstance(error, str):
        raise InvalidEventError("error", "error must be a string or null")
    if error is not None and "\x00" in error:
        _nul("error")
    sched = e.get("scheduled_at")
    started = parse_time(e.get("started_at"), "started_at", lim.now, lim.max_future)
    finished = parse_time(e.get("finished_at"), "finished_at", lim.now, lim.max_future)
    if finished < started:
        raise InvalidEventError("finished_at", "finished_at must not be before started_at")
    run_id = _str(e, "run_id")
    return {
        "job": _name(e, "job"),
        "run_id": run_id,
        "event_id": _str(e, "event_id", required=False) or run_id,
        "scheduled_at": None
        if sched is None
        else parse_time(sched, "scheduled_at", lim.now, lim.max_future),
        "started_at": started,
        "finished_at": finished,
        "status": _name(e, "status"),
        "rows_in": _int(e, "rows_in"),
        "rows_out": _int(e, "rows_out"),
        "error": None if error is None else error[:4000],
        "metrics": orjson.dumps(metrics).decode(),
    }


Validator = Callable[[dict[str, Any], Limits], dict[str, Any]]
VALIDATORS: dict[str, Validator] = {
    "prediction": prediction,
    "label": label,
    "feedback": feedback,
    "kpi": kpi,
    "job_run": job_run,
}


def validate(kind: str, items: list[Any], lim: Limits) -> Batch:
    """Validate each item; the accepted keep their order, duplicates in the batch collapse."""
    check = VALIDATORS[kind]
    batch = Batch()
    accepted: list[dict[str, Any]] = []
    batch.accepted = accepted
    seen: set[str] = set()
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            reason = "line is not valid JSON" if isinstance(item, _BadLine) else "not an object"
            batch.rejected.append(reject(i, None, "", f"event {reason}; each event is an object"))
            continue
        try:
            ev = check(item, lim)
        except InvalidEventError as exc:
            batch.rejected.append(reject(i, item.get("event_id"), exc.field, exc.message))
            if exc.limit is not None:
                batch.limited[exc.limit] = batch.limited.get(exc.limit, 0) + 1
            if exc.reason is not None:
                batch.reasons[exc.reason] = batch.reasons.get(exc.reason, 0) + 1
            continue
        eid = ev["event_id"]
        if eid in seen:
            batch.repeated += 1
            continue
        seen.add(eid)
        if kind == "prediction":
            ev["payload"] = orjson.dumps(ev).decode()
        accepted.append(ev)
        batch.index.append(i)
    return batch


def reject(index: int, event_id: Any, field: str, message: str) -> dict[str, Any]:
    eid = event_id if isinstance(event_id, str) and len(event_id) <= MAX_ID else None
    return {"index": index, "event_id": eid, "field": field, "error": message}
