"""The review queue API (server/review.py): list candidates, record a reviewer's verdict;
and the outlier model the SDK scores with."""

from __future__ import annotations

import gzip
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from driftline._utils.outlier_wire import canonical
from driftline.server import review
from driftline.server.deps import Ingest, Read, collector, error
from driftline.server.ingest import NAME_RE
from driftline.server.routes_read import _reach

router = APIRouter()

NamePath = Annotated[str, Path(pattern=NAME_RE.pattern, max_length=128)]
IdPath = Annotated[str, Path(min_length=1, max_length=256)]


class Verdict(BaseModel):
    """A reviewer's verdict on one event: ``fine``, ``bad_input`` or ``attack``; a label."""

    model_config = ConfigDict(extra="forbid")
    verdict: str
    label: str | int | float | bool | None = None
    note: str = Field("", max_length=review.MAX_NOTE)


@router.get(
    "/v1/models/{model}/review",
    tags=["review"],
    summary="The review queue: the most anomalous events of recent windows",
)
def review_queue(
    request: Request,
    model: NamePath,
    who: Read,
    version: Annotated[str | None, Query(max_length=128)] = None,
    hours: Annotated[float, Query(gt=0, le=24 * 30)] = 24.0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    _reach(request, who, model)
    c = collector(request)
    now = c.clock.time()
    items = review.queue(
        c.store, model, c.settings.windows.base, now - hours * 3600, now,
        version=version, limit=limit,
    )  # fmt: skip
    return {"model": model, "items": items, "limit": limit, "verdicts": list(review.VERDICTS)}


@router.post(
    "/v1/models/{model}/review/{event_id}",
    tags=["review"],
    summary="Record a reviewer's verdict (feedback kind 'review') and optional label",
)
async def review_verdict(
    request: Request,
    model: NamePath,
    event_id: IdPath,
    who: Ingest,
    body: Annotated[Verdict, Body()],
) -> dict[str, Any]:
    _reach(request, who, model)
    c = collector(request)
    try:
        return await run_in_threadpool(
            review.record, c, who, model, event_id, body.verdict,
            label=body.label, note=body.note, reviewer=who.name,
        )  # fmt: skip
    except LookupError as exc:
        raise error(404, str(exc)) from None


@router.get(
    "/v1/models/{model}/versions/{version}/outlier-model",
    tags=["models"],
    summary="The version's outlier model for the SDK to score with (ETag: the model's tag)",
    responses={
        200: {"description": "The model document (driftline/_utils/outlier_wire.py)"},
        304: {"description": "If-None-Match holds the current tag: the SDK's copy is current"},
        404: {"description": "No outlier model: scoring off, no reference, or too little"},
    },
)
def outlier_model(request: Request, model: NamePath, version: NamePath, who: Read) -> Response:
    """What ``Monitor(score_outliers=True)`` fetches (docs/collector.md, "Outlier scores in
    the SDK"): the fitted model as numbers (JSON, arrays in base64; no code, no pickle),
    with the live column kinds; its ``tag`` is the ETag and goes with every score."""
    _reach(request, who, model)
    c = collector(request)
    doc = c.windows.outlier_wire(model, version)
    if doc is None:
        if c.settings.windows.outliers is None:
            why = "outlier scoring is off (collector.windows.outliers: none)"
        elif c.store.reference(model, version) is None:
            why = f"version {version!r} of model {model!r} has no reference"
        else:
            reason = c.windows.scorer_errors.get((model, version), "see the collector's log")
            why = f"the reference of {model}/{version} gives no outlier model: {reason}"
        raise error(404, why)
    etag = f'"{doc["tag"]}"'
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if etag in (request.headers.get("if-none-match") or "").split(","):
        return Response(status_code=304, headers=headers)
    body = canonical(doc)
    if "gzip" in (request.headers.get("accept-encoding") or ""):
        body = gzip.compress(body, 6, mtime=0)
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type="application/json", headers=headers)
