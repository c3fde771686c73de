"""The review queue API (server/review.py): list candidates, record a reviewer's verdict."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

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
