"""Request helpers shared by the routes: the collector, scope checks, errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request

from driftline.server.auth import Principal
from driftline.server.collector import Collector


def collector(request: Request) -> Collector:
    c: Collector = request.app.state.collector
    return c


def scope(name: str) -> Callable[[Request], Principal]:
    """A dependency that admits keys with scope ``name`` (or admin): 401/403 otherwise."""

    def check(request: Request) -> Principal:
        who = collector(request).keys.check(request.headers.get("authorization"))
        if who is None:
            raise HTTPException(
                401, "missing or invalid API key", headers={"WWW-Authenticate": "Bearer"}
            )
        if not who.allows(name):
            raise HTTPException(403, f"this API key lacks the {name!r} scope")
        return who

    check.__name__ = f"require_{name}"
    return check


def error(status: int, detail: Any, headers: dict[str, str] | None = None) -> HTTPException:
    return HTTPException(status_code=status, detail=detail, headers=headers)


Ingest = Annotated[Principal, Depends(scope("ingest"))]
Read = Annotated[Principal, Depends(scope("read"))]
Admin = Annotated[Principal, Depends(scope("admin"))]
