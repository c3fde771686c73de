"""Models, versions, references, metric series, job runs, samples, /metrics, health."""

from __future__ import annotations

import io
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from driftline.server.auth import Principal
from driftline.server.collector import ForbiddenError
from driftline.server.deps import Admin, Read, collector, error, scope
from driftline.server.ingest import NAME_RE
from driftline.server.metrics import render_precision, render_results
from driftline.stats.profile import DatasetProfile
from driftline.store.base import DEFAULT_PROJECT, MetricQuery
from driftline.windows import schema_to_json

router = APIRouter()

NamePath = Annotated[str, Path(pattern=NAME_RE.pattern, max_length=128)]
META_FIELDS = (
    "task",
    "owner",
    "training_data",
    "training_data_version",
    "hyperparameters",
    "dependencies",
    "deployed_at",
    "description",
    "champion",
    "classes",
    "git_commit",
    "features",
)


def _reach(request: Request, who: Principal, model: str, claim: bool = False) -> None:
    """403 unless ``who``'s project includes ``model`` (``claim``: create it there if new)."""
    try:
        collector(request).check_models([model], who, claim)
    except ForbiddenError as exc:
        raise error(403, str(exc)) from None


def _json(value: Any, status: int = 200) -> Response:
    return Response(
        orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY),
        status_code=status,
        media_type="application/json",
    )


@router.get("/healthz", tags=["health"], summary="Liveness")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", tags=["health"], summary="Readiness: the store answers and takes writes")
def readyz(request: Request) -> JSONResponse:
    c = collector(request)
    try:
        c.store.ping()
        why = c.store.unwritable(c.settings.min_free_disk_bytes)
    except Exception:
        return JSONResponse({"status": "store unavailable"}, status_code=503)
    if why is None:
        why = c.recent_write_failure()
    if why is not None:
        return JSONResponse({"status": "store not writable", "reason": why}, status_code=503)
    return JSONResponse({"status": "ready"})


@router.get("/metrics", tags=["metrics"], summary="Prometheus exposition")
def metrics(request: Request) -> Response:
    c = collector(request)
    s = c.settings
    project = None
    if not s.public_metrics:
        who = scope("read")(request)
        project = None if who.is_global else who.project
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    results = render_results(
        c.store,
        c.settings.windows.base,
        c.clock.time(),
        max_age=s.export_max_age_seconds,
        max_columns=s.max_export_columns,
        max_series=s.max_label_series,
        project=project,
    )
    if c.alerts is not None and project in (None, DEFAULT_PROJECT):  # rules span projects
        results += render_precision(c.alerts.engine.precision_report())
    return Response(generate_latest(c.metrics.registry) + results, media_type=CONTENT_TYPE_LATEST)


@router.get("/v1/alerts/precision", tags=["alerts"], summary="Alert precision per rule")
def alert_precision(request: Request, who: Read) -> Response:
    """Per alert rule: fired alerts, their outcome labels (true / false positive, not
    actionable), precision = TP / (TP + FP), and ``needs_review`` when the precision is
    under the ``alerts:`` section's ``review_precision`` once ``review_min_rated`` are rated.
    Rules span projects: keys of the default project only (as the Alerts page's table)."""
    c = collector(request)
    if not who.reaches(DEFAULT_PROJECT):
        raise error(403, "alert rules span every project: use a key of the default project")
    if c.alerts is None:
        raise error(404, "alerting is not configured (driftline serve --config with alerts:)")
    cfg = c.alerts.engine.config
    return JSONResponse(
        {
            "review_precision": cfg.review_precision,
            "review_min_rated": cfg.review_min_rated,
            "rules": c.alerts.engine.precision_report(),
        }
    )


@router.get("/v1/models", tags=["models"], summary="Models, versions and stored event counts")
def list_models(request: Request, who: Read) -> Response:
    out = collector(request).store.models(None if who.is_global else who.project)
    for m in out:
        for v in m["versions"]:
            v["meta"] = orjson.loads(v["meta"])
    return _json(out)


@router.get("/v1/models/{model}/versions/{version}", tags=["models"], summary="One version")
def get_version(request: Request, who: Read, model: NamePath, version: NamePath) -> Response:
    _reach(request, who, model)
    row = collector(request).store.version(model, version)
    if row is None:
        raise error(404, f"no version {version!r} of model {model!r}")
    return _json(_version_out(row))


@router.get(
    "/v1/models/{model}/versions/{version}/contract",
    tags=["models"],
    summary="The input contract of a version's reference, for Monitor.check() (docs/service.md)",
)
def get_contract(
    request: Request,
    who: Read,
    model: NamePath,
    version: NamePath,
    margin: Annotated[float, Query(ge=0, le=10)] = 0.0,
) -> Response:
    _reach(request, who, model)
    data = collector(request).store.reference(model, version)
    if data is None:
        raise error(404, f"version {version!r} of model {model!r} has no reference")
    from driftline.sdk.contract import Contract

    contract = Contract.from_profile(DatasetProfile.from_bytes(data), margin=margin)
    return _json(contract.to_dict())


def _version_out(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "model": row["model"],
        "version": row["version"],
        "created_at": row["created_at"],
        "meta": orjson.loads(row["meta"]),
        "schema": orjson.loads(row["schema"]) if row["schema"] else None,
    }


@router.put(
    "/v1/models/{model}/versions/{version}/metadata",
    tags=["models"],
    summary="Set a version's metadata (training data, hyperparameters, dependencies, ...)",
)
def put_metadata(
    request: Request,
    who: Admin,
    model: NamePath,
    version: NamePath,
    meta: Annotated[dict[str, Any], Body()],
) -> Response:
    unknown = sorted(set(meta) - set(META_FIELDS))
    if unknown:
        raise error(422, f"unknown metadata field(s) {unknown}; allowed: {list(META_FIELDS)}")
    task = meta.get("task")
    if task is not None and task not in ("classification", "regression"):
        raise error(422, f"task={task!r}; allowed: 'classification', 'regression'")
    deps = meta.get("dependencies")
    if deps is not None and not (
        isinstance(deps, dict) and all(isinstance(v, str) for v in deps.values())
    ):
        raise error(422, "dependencies must be an object of package name to version string")
    c = collector(request)
    _reach(request, who, model, claim=True)
    now = c.clock.time()
    old = c.store.version(model, version)
    kept = orjson.loads(old["meta"]).get("runtime") if old and old["meta"] else None
    text = orjson.dumps({**meta, "runtime": kept} if kept else meta).decode()
    c.store.update_version_meta(model, version, text, now)
    c.store.audit(who.name, "version.metadata", f"{model}/{version}", text, now)
    row = c.store.version(model, version)
    assert row is not None
    return _json(_version_out(row))


@router.get("/v1/models/{model}/diff", tags=["models"], summary="Metadata diff of two versions")
def diff_versions(
    request: Request,
    who: Read,
    model: NamePath,
    a: Annotated[str, Query(pattern=NAME_RE.pattern, max_length=128)],
    b: Annotated[str, Query(pattern=NAME_RE.pattern, max_length=128)],
) -> Response:
    _reach(request, who, model)
    store = collector(request).store
    rows = [store.version(model, a), store.version(model, b)]
    for name, row in zip((a, b), rows, strict=True):
        if row is None:
            raise error(404, f"no version {name!r} of model {model!r}")
    ma, mb = (orjson.loads(r["meta"]) for r in rows if r is not None)
    return _json({"model": model, "a": a, "b": b, **diff_meta(ma, mb)})


def diff_meta(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Fields that differ, and dependencies added, removed or changed between ``a`` and ``b``."""
    fields = {
        k: {"a": a.get(k), "b": b.get(k)}
        for k in sorted(set(a) | set(b))
        if k not in ("dependencies", "runtime") and a.get(k) != b.get(k)
    }
    da, db = a.get("dependencies") or {}, b.get("dependencies") or {}
    return {
        "fields": fields,
        "dependencies": {
            "added": {k: db[k] for k in sorted(set(db) - set(da))},
            "removed": {k: da[k] for k in sorted(set(da) - set(db))},
            "changed": {
                k: {"a": da[k], "b": db[k]} for k in sorted(set(da) & set(db)) if da[k] != db[k]
            },
        },
    }


@router.put(
    "/v1/models/{model}/versions/{version}/reference",
    tags=["models"],
    summary="Upload the reference: a saved profile, or a Parquet / CSV / JSON-lines file",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/octet-stream": {"schema": {"type": "string"}}},
        }
    },
)
async def put_reference(
    request: Request,
    who: Admin,
    model: NamePath,
    version: NamePath,
    target: Annotated[str | None, Query(max_length=128)] = None,
    prediction: Annotated[str | None, Query(max_length=128)] = None,
    scores: Annotated[str | None, Query(max_length=2000)] = None,
    task: Annotated[str | None, Query(max_length=32)] = None,
) -> Response:
    """A data file's roles come from ``target``, ``prediction`` and ``scores`` (comma-separated
    score columns, one per class or P(positive)); with a target and scores the evaluator
    writes ``estimated.*`` points (CBPE) for windows without labels. ``task``
    (classification, binary, multiclass, regression) overrides what the target and scores
    imply (a 0/1 target, or any target with scores, is classification)."""
    c = collector(request)
    await run_in_threadpool(_reach, request, who, model, True)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > c.settings.max_body_bytes:
            raise error(413, f"body exceeds the limit of {c.settings.max_body_bytes} bytes")
    if not body:
        raise error(422, "empty body; send a saved profile or a Parquet, CSV or JSON-lines file")
    ctype = request.headers.get("content-type", "")
    roles: dict[str, dict[str, str]] = {}
    for names, role in ((target, "target"), (prediction, "prediction"), (scores, "score")):
        for name in (names or "").split(","):
            if name.strip():
                roles[name.strip()] = {"role": role}
    from driftline.schema import TASKS

    if task is not None and task not in TASKS:
        raise error(422, f"task: {task!r} is not one of: {', '.join(TASKS)}")
    profile = await run_in_threadpool(_profile_of, bytes(body), ctype, roles, task)
    now = c.clock.time()
    data = profile.to_bytes()
    await run_in_threadpool(c.store.put_reference, model, version, data, profile.n_rows, now)
    await run_in_threadpool(
        c.store.replace_version_schema, model, version, schema_to_json(profile.schema)
    )
    c.store.audit(who.name, "version.reference", f"{model}/{version}", "{}", now)
    c.windows.forget_schema(model, version)
    c.evaluator.forget_reference(model, version)
    return _json(
        {
            "model": model,
            "version": version,
            "rows": profile.n_rows,
            "columns": profile.schema.to_dict(),
        }
    )


def _profile_of(
    body: bytes, content_type: str, roles: dict[str, dict[str, str]], task: str | None = None
) -> DatasetProfile:
    import pyarrow as pa

    import driftline

    if body[:4] == b"DLA1":
        if roles or task:
            raise error(
                422,
                "a saved profile carries its roles and task; target/prediction/scores/task are "
                "for data files",
            )
        return DatasetProfile.from_bytes(body)
    try:
        if body[:4] == b"PAR1":
            import pyarrow.parquet as pq

            from driftline.io import data_columns

            pf = pq.ParquetFile(io.BytesIO(body))
            table = pf.read(columns=data_columns(pf.schema_arrow))
        elif "json" in content_type or body.lstrip()[:1] == b"{":
            import pyarrow.json as pj

            table = pj.read_json(io.BytesIO(body))
        else:
            import pyarrow.csv as pcsv

            table = pcsv.read_csv(io.BytesIO(body))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as exc:
        raise error(
            422, f"cannot read the reference ({exc}); send a profile, Parquet, CSV or JSON lines"
        ) from None
    if table.num_rows == 0 or table.num_columns == 0:
        raise error(422, "the reference has no rows or no columns")
    prof = driftline.profile(table, schema=roles or None, seed=0, task=task)
    if task is not None and prof.performance is None:
        raise error(
            422,
            "task: there is no performance to apply it to; it needs a target column (target=) "
            "and a prediction (prediction=) or score columns (scores=)",
        )
    return prof


@router.get("/v1/metrics", tags=["results"], summary="Metric points (time series)")
def get_metrics(
    request: Request,
    who: Read,
    model: Annotated[str | None, Query(max_length=128)] = None,
    version: Annotated[str | None, Query(max_length=128)] = None,
    segment: Annotated[str | None, Query(max_length=256)] = None,
    metric: Annotated[str | None, Query(max_length=128)] = None,
    column: Annotated[str | None, Query(max_length=128)] = None,
    method: Annotated[str | None, Query(max_length=64)] = None,
    window_size: Annotated[int | None, Query(ge=1, le=10**9)] = None,
    start: Annotated[float | None, Query(ge=0, le=1e11)] = None,
    end: Annotated[float | None, Query(ge=0, le=1e11)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> Response:
    q = MetricQuery(
        model=model,
        version=version,
        segment=segment,
        metric=metric,
        column=column,
        window_size=window_size,
        start=start,
        end=end,
        limit=limit,
        method=method,
        project=None if who.is_global else who.project,
    )
    if model is not None:
        _reach(request, who, model)
    points = collector(request).store.metric_points(q)
    for p in points:
        p["details"] = orjson.loads(p["details"])
    return _json(points)


@router.get("/v1/jobs", tags=["results"], summary="Job runs, newest first")
def get_jobs(
    request: Request,
    who: Read,
    job: Annotated[str | None, Query(max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    project = None if who.is_global else who.project
    runs = collector(request).store.job_runs(job, limit, project)
    for r in runs:
        r["metrics"] = orjson.loads(r["metrics"])
    return _json(runs)


@router.get("/v1/events/sample", tags=["results"], summary="Recent raw events of a model")
def sample_events(
    request: Request,
    who: Read,
    model: Annotated[str, Query(max_length=128)],
    version: Annotated[str | None, Query(max_length=128)] = None,
    start: Annotated[float | None, Query(ge=0, le=1e11)] = None,
    end: Annotated[float | None, Query(ge=0, le=1e11)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 20,
) -> Response:
    _reach(request, who, model)
    rows = collector(request).store.sample_events(model, version, start, end, limit)
    return _json([orjson.loads(r) for r in rows])


@router.post("/v1/admin/flush", tags=["admin"], summary="Save live windows and evaluate now")
def admin_flush(request: Request, who: Admin) -> dict[str, int]:
    if not who.is_global:
        raise error(403, "flushing is for admin keys of the default project (it spans projects)")
    return collector(request).tick(force_flush=True)
