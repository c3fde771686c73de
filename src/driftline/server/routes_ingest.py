"""``POST /v1/events``, ``/v1/labels``, ``/v1/feedback``, ``/v1/kpis``, ``/v1/jobs``,
``/v1/runtime``.

Bodies are read raw (JSON array, one object, or NDJSON; ``Content-Encoding:
gzip``) so that limits apply before parsing and each event is validated on its
own. The answer comes only after the accepted events are committed:

- 200 ``{"accepted", "duplicates", "rejected": [{index, event_id, field, error}]}``
- 422 the same body when every event was rejected, or the batch is too long;
  409 when every event was rejected because its id belongs to another model's
- 413 body too large; 400 not JSON / not gzip; 415 unknown Content-Encoding
- 403 the key's project does not include a model of the batch (nothing stored)
- 408 the body did not arrive within ``body_timeout_seconds``
- 429 too many requests in flight (the process's, or one key's), 503 store
  unavailable (both with Retry-After)
"""

from __future__ import annotations

from typing import Any

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from driftline.server.auth import Principal
from driftline.server.collector import Collector, ForbiddenError, IngestResult, OverloadedError
from driftline.server.deps import Ingest, collector, error
from driftline.server.ingest import BodyError, decode_body, unzip
from driftline.server.ingest_arrow import ARROW_STREAM, decode_arrow, validate_arrow

router = APIRouter(tags=["ingest"])

_NAME = {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.:@+-]{0,127}$"}
_ID = {"type": "string", "minLength": 1, "maxLength": 128}
_TIME = {"type": "string", "format": "date-time", "example": "2024-05-01T12:00:00Z"}
_SCALAR: dict[str, Any] = {"anyOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}]}

SCHEMAS: dict[str, dict[str, Any]] = {
    "prediction": {
        "type": "object",
        "required": ["event_id", "timestamp", "model", "version"],
        "properties": {
            "type": {"type": "string", "enum": ["prediction"]},
            "event_id": _ID,
            "prediction_id": _ID,
            "timestamp": _TIME,
            "model": _NAME,
            "version": _NAME,
            "features": {"type": "object", "additionalProperties": True},
            "prediction": {},
            "scores": {},
            "segment": {"type": "object", "additionalProperties": _SCALAR},
            "latency_ms": {"type": ["number", "null"], "minimum": 0},
            "status": {"type": "string", "enum": ["ok", "error"]},
            "error_type": {"type": ["string", "null"]},
            "shadow": {"type": "boolean"},
            "tags": {"type": "object"},
        },
    },
    "label": {
        "type": "object",
        "required": ["event_id", "prediction_id", "timestamp", "model", "label"],
        "properties": {
            "type": {"type": "string", "enum": ["label"]},
            "event_id": _ID,
            "prediction_id": _ID,
            "timestamp": _TIME,
            "model": _NAME,
            "version": _NAME,
            "label": _SCALAR,
        },
    },
    "feedback": {
        "type": "object",
        "required": ["event_id", "prediction_id", "timestamp", "model", "kind"],
        "properties": {
            "type": {"type": "string", "enum": ["feedback"]},
            "event_id": _ID,
            "prediction_id": _ID,
            "timestamp": _TIME,
            "model": _NAME,
            "version": _NAME,
            "kind": _NAME,
            "value": {},
        },
    },
    "kpi": {
        "type": "object",
        "required": ["event_id", "timestamp", "model", "name", "value"],
        "properties": {
            "type": {"type": "string", "enum": ["kpi"]},
            "event_id": _ID,
            "prediction_id": _ID,
            "timestamp": _TIME,
            "model": _NAME,
            "version": _NAME,
            "name": {**_NAME, "maxLength": 64},
            "value": {"type": "number"},
        },
    },
    "job_run": {
        "type": "object",
        "required": ["job", "run_id", "started_at", "finished_at", "status"],
        "properties": {
            "type": {"type": "string", "enum": ["job_run"]},
            "event_id": _ID,
            "job": _NAME,
            "run_id": _ID,
            "scheduled_at": {"anyOf": [_TIME, {"type": "null"}]},
            "started_at": _TIME,
            "finished_at": _TIME,
            "status": _NAME,
            "rows_in": {"type": ["integer", "null"], "minimum": 0},
            "rows_out": {"type": ["integer", "null"], "minimum": 0},
            "error": {"type": ["string", "null"]},
            "metrics": {"type": "object", "additionalProperties": {"type": "number"}},
            "newest_input_at": {"anyOf": [_TIME, {"type": "null"}]},
            "expected_interval_seconds": {"type": ["number", "null"], "exclusiveMinimum": 0},
        },
    },
    "runtime": {
        "type": "object",
        "required": ["event_id", "model", "version", "runtime"],
        "properties": {
            "type": {"type": "string", "enum": ["runtime"]},
            "event_id": _ID,
            "timestamp": _TIME,
            "model": _NAME,
            "version": _NAME,
            "role": {"type": "string", "enum": ["serving", "training"]},
            "runtime": {
                "type": "object",
                "properties": {
                    "python": {"type": "string"},
                    "platform": {"type": "string"},
                    "packages": {"type": "object", "additionalProperties": {"type": "string"}},
                },
            },
            "metadata": {"type": "object"},
        },
    },
}

_RESULT = {
    "type": "object",
    "properties": {
        "accepted": {"type": "integer"},
        "duplicates": {"type": "integer"},
        "rejected": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "index": {"type": "integer"},
                    "event_id": {"type": ["string", "null"]},
                    "field": {"type": "string"},
                    "error": {"type": "string"},
                },
            },
        },
    },
}


def _openapi(kind: str) -> dict[str, Any]:
    item = SCHEMAS[kind]
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"type": "array", "items": item}},
                "application/x-ndjson": {"schema": {"type": "string"}},
                **(
                    {ARROW_STREAM: {"schema": {"type": "string", "format": "binary"}}}
                    if kind == "prediction"
                    else {}
                ),
            },
        },
        "responses": {
            "200": {
                "description": "Accepted (some events may be listed as rejected)",
                "content": {"application/json": {"schema": _RESULT}},
            },
            "422": {"description": "Every event was rejected, or the batch is too long"},
            "409": {"description": "Every event's id belongs to another model's record"},
            "403": {"description": "The key's project does not include a model of the batch"},
            "413": {"description": "Body too large"},
            "408": {"description": "The body did not arrive within body_timeout_seconds"},
            "429": {"description": "Too many requests in flight: retry after Retry-After seconds"},
            "503": {"description": "Store unavailable: retry after Retry-After seconds"},
        },
    }


async def _ingest(request: Request, kind: str, who: Principal) -> JSONResponse:
    c = collector(request)
    s = c.settings
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > s.max_body_bytes:
        raise error(413, f"body of {length} bytes exceeds the limit of {s.max_body_bytes} bytes")
    try:
        c.admit_key(who.key_id)
    except OverloadedError:
        raise error(
            429,
            f"this API key has {s.max_inflight_per_key} ingest requests in flight "
            f"(max_inflight_per_key); retry later",
            {"Retry-After": str(s.retry_after_seconds)},
        ) from None
    try:
        body = await _read_body(request, c)
        # the process's slots are taken only once the body is here: slow uploads hold none
        try:
            c.admit()
        except OverloadedError:
            raise error(
                429,
                "too many ingest requests in flight (max_inflight); retry later",
                {"Retry-After": str(s.retry_after_seconds)},
            ) from None
        try:
            # decoding runs in the thread pool too: the event loop keeps reading other requests
            result = await run_in_threadpool(
                _decode_and_ingest,
                c,
                who,
                kind,
                body,
                request.headers.get("content-encoding"),
                request.headers.get("content-type"),
            )
        finally:
            c.release()
    finally:
        c.release_key(who.key_id)
    status = 200
    if result.rejected and not (result.accepted or result.duplicates):
        # nothing stored: every record was invalid (422), or its id belongs to another (409)
        status = 409 if result.conflicts == len(result.rejected) else 422
    return JSONResponse(result.body(), status_code=status)


async def _read_body(request: Request, c: Collector) -> bytes:
    """The whole body, within ``max_body_bytes`` (413) and ``body_timeout_seconds`` (408)."""
    s = c.settings
    body = bytearray()
    try:
        with anyio.fail_after(s.body_timeout_seconds):
            async for chunk in request.stream():
                body += chunk
                if len(body) > s.max_body_bytes:
                    raise error(413, f"body exceeds the limit of {s.max_body_bytes} bytes")
    except TimeoutError:
        c.metrics.overload.labels("body_timeout").inc()
        c.metrics.limit_rejects.labels("body_timeout_seconds").inc()
        raise error(
            408,
            f"the request body did not arrive within {s.body_timeout_seconds:g} s "
            f"(body_timeout_seconds; {len(body)} bytes received)",
            {"Connection": "close"},
        ) from None
    return bytes(body)


def _decode_and_ingest(
    c: Collector,
    who: Principal,
    kind: str,
    body: bytes,
    encoding: str | None,
    content_type: str | None,
) -> IngestResult:
    s = c.settings
    ctype = (content_type or "").split(";")[0].strip().lower()
    try:
        if ctype == ARROW_STREAM:
            if kind != "prediction":
                raise BodyError(
                    415, "Arrow batches are accepted for predictions (/v1/events) only; "
                    "send other records as JSON",
                )  # fmt: skip
            table = decode_arrow(unzip(body, encoding, s.max_decoded_bytes), s.max_decoded_bytes)
            _check_length(table.num_rows, s.max_batch_events)
            batch = validate_arrow(table, c.limits())
            return c.ingest_batch(kind, batch, who)
        items = decode_body(body, encoding, content_type, s.max_decoded_bytes)
        _check_length(len(items), s.max_batch_events)
        return c.ingest(kind, items, who)
    except BodyError as exc:
        raise error(exc.status, exc.message) from None
    except ForbiddenError as exc:
        raise error(403, str(exc)) from None


def _check_length(n: int, max_events: int) -> None:
    if n > max_events:
        raise BodyError(422, f"batch has {n} events; at most {max_events} allowed per request")


@router.post("/v1/events", openapi_extra=_openapi("prediction"), summary="Ingest predictions")
async def post_events(request: Request, who: Ingest) -> JSONResponse:
    return await _ingest(request, "prediction", who)


@router.post("/v1/labels", openapi_extra=_openapi("label"), summary="Ingest labels")
async def post_labels(request: Request, who: Ingest) -> JSONResponse:
    return await _ingest(request, "label", who)


@router.post("/v1/feedback", openapi_extra=_openapi("feedback"), summary="Ingest feedback")
async def post_feedback(request: Request, who: Ingest) -> JSONResponse:
    return await _ingest(request, "feedback", who)


@router.post("/v1/kpis", openapi_extra=_openapi("kpi"), summary="Ingest KPI values")
async def post_kpis(request: Request, who: Ingest) -> JSONResponse:
    """User-defined KPIs (``Monitor.kpi``): a number per prediction, or per version and time."""
    return await _ingest(request, "kpi", who)


@router.post("/v1/jobs", openapi_extra=_openapi("job_run"), summary="Ingest job runs")
async def post_jobs(request: Request, who: Ingest) -> JSONResponse:
    return await _ingest(request, "job_run", who)


@router.post("/v1/runtime", openapi_extra=_openapi("runtime"), summary="Ingest runtime captures")
async def post_runtime(request: Request, who: Ingest) -> JSONResponse:
    """What a serving (SDK) or training (``driftline register``) process runs."""
    return await _ingest(request, "runtime", who)
