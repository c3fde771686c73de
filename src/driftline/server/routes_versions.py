"""Version comparison over HTTP: champion against challenger, with a verdict (docs/versions.md)."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from driftline.server.deps import Read, collector, error
from driftline.server.ingest import NAME_RE
from driftline.server.routes_read import NamePath, _json, _reach
from driftline.stats.versions.environment import environment_of
from driftline.windows.versions import Rollouts

router = APIRouter()

VersionQuery = Annotated[str | None, Query(pattern=NAME_RE.pattern, max_length=128)]


def rollouts_of(request: Request) -> Rollouts:
    c = collector(request)
    return c.evaluator.rollouts or Rollouts(c.store, c.settings.windows)


@router.get(
    "/v1/models/{model}/versions/compare",
    tags=["models"],
    summary="Champion (a) against challenger (b): tests, always-valid verdict, operations",
)
def compare_versions(
    request: Request,
    who: Read,
    model: NamePath,
    b: VersionQuery = None,
    a: VersionQuery = None,
    start: Annotated[float | None, Query(ge=0, le=1e11)] = None,
    end: Annotated[float | None, Query(ge=0, le=1e11)] = None,
) -> Response:
    """``a`` defaults to the model's champion; ``b`` is required unless the model has
    exactly two versions. ``start`` defaults to the challenger's first event in the
    look-back, ``end`` to now. Verdicts: better, worse, equivalent, undecided (with
    ``n_needed``), insufficient_data, not_comparable (with ``reason``)."""
    _reach(request, who, model)
    c = collector(request)
    now = c.clock.time()
    ro = rollouts_of(request)
    versions = [
        v["version"] for m in c.store.models() if m["model"] == model for v in m["versions"]
    ]
    if not versions:
        raise error(404, f"no model named {model!r}")
    for name in (a, b):
        if name is not None and name not in versions:
            raise error(404, f"no version {name!r} of model {model!r}; versions: {versions}")
    if a is None:
        a = ro.champion(model, end or now, now) or versions[0]
    if b is None:
        others = [v for v in versions if v != a]
        if len(others) != 1:
            raise error(422, f"name the challenger with b=; versions of {model!r}: {versions}")
        b = others[0]
    out: dict[str, Any] = ro.compare(model, a, b, start, end, now=now)
    return _json(out)


@router.get(
    "/v1/models/{model}/versions/{version}/environment",
    tags=["models"],
    summary="Training vs serving runtime of a version: Python, platform, packages, metadata",
)
def get_environment(request: Request, who: Read, model: NamePath, version: NamePath) -> Response:
    """``training`` (``driftline register``), ``serving`` (the latest SDK process) and
    ``diff``: packages added, removed, changed (major / minor / patch), Python,
    features and hyperparameters; ``diff`` is null until both sides are known."""
    _reach(request, who, model)
    row = collector(request).store.version(model, version)
    if row is None:
        raise error(404, f"no version {version!r} of model {model!r}")
    meta = orjson.loads(row["meta"]) if row["meta"] else {}
    return _json({"model": model, "version": version, **environment_of(meta)})
