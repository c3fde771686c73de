"""Record the training side of a model version: ``driftline.register`` / ``driftline register``.

    from driftline import register
    register("credit", "v4", url="http://collector:8000", reference="train.parquet",
             target="default", hyperparameters={"max_depth": 6}, metrics={"auc": 0.91},
             packages_used=["scikit-learn", "numpy"], metadata={"git_commit": "9f1c2ab"})

Sends the runtime of *this* process (the training environment: Python,
platform, installed packages) with the metadata as a ``role: training`` record
to ``POST /v1/runtime`` (ingest scope), and, with ``reference``, uploads the
reference data or a saved profile to ``PUT .../reference`` (admin scope). The
collector then diffs training against every serving process of the version.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from driftline.errors import HTTPError
from driftline.sdk.errors import SDKConfigError
from driftline.sdk.runtime import capture_runtime, check_metadata, runtime_record

URL_ENV = "DRIFTLINE_URL"
KEY_ENV = "DRIFTLINE_API_KEY"


def register(
    model: str,
    version: str,
    *,
    url: str | None = None,
    api_key: str | None = None,
    reference: Any = None,
    target: str | None = None,
    prediction: str | None = None,
    scores: Iterable[str] | None = None,
    hyperparameters: Mapping[str, Any] | None = None,
    metrics: Mapping[str, Any] | None = None,
    packages_used: Iterable[str] | None = None,
    metadata: Mapping[str, Any] | None = None,
    timeout: float = 60.0,
) -> dict[str, Any]:
    """Record the training side of ``model``/``version`` in a collector (module docs).

    ``reference``: a path (Parquet, CSV, JSON lines, or a saved profile), a
    :class:`~driftline.stats.profile.DatasetProfile`, or a DataFrame / Arrow table.
    Returns ``{"runtime": <the capture>, "reference_rows": n or None}``.
    """
    import httpx

    url = url or os.environ.get(URL_ENV)
    if not url:
        raise SDKConfigError(f"register needs url= or the {URL_ENV} environment variable")
    key = api_key if api_key is not None else os.environ.get(KEY_ENV)
    meta = check_metadata(metadata, "metadata")
    for name, value in (("hyperparameters", hyperparameters), ("metrics", metrics)):
        if value is not None:
            meta[name] = check_metadata(value, name)
    if packages_used is not None:
        used = [str(p) for p in packages_used]
        if not all(p.strip() for p in used):
            raise SDKConfigError(f"packages_used has an empty name: {used}")
        meta["packages_used"] = used
    runtime = capture_runtime()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    record = runtime_record(model, version, "training", runtime, meta, uuid.uuid4().hex, stamp)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    base = url.rstrip("/")
    with httpx.Client(base_url=base, headers=headers, timeout=timeout) as client:
        r = client.post("/v1/runtime", json=[record])
        _check(r, "runtime")
        rows = None
        if reference is not None:
            body, ctype = _reference_bytes(reference, target, prediction, scores)
            params = {
                k: v
                for k, v in (
                    ("target", target),
                    ("prediction", prediction),
                    ("scores", ",".join(scores or []) or None),
                )
                if v
            }
            if body[:4] == b"DLA1":
                params = {}
            r = client.put(
                f"/v1/models/{model}/versions/{version}/reference",
                content=body,
                params=params,
                headers={"Content-Type": ctype},
            )
            _check(r, "reference")
            rows = r.json().get("rows")
    return {"runtime": runtime, "reference_rows": rows}


def _check(r: Any, what: str) -> None:
    if r.status_code == 200:
        body = r.json()
        rejected = body.get("rejected") if isinstance(body, dict) else None
        if rejected:
            raise HTTPError(f"the collector rejected the {what}: {rejected[0]}", status=422)
        return
    try:
        detail = r.json()
        detail = detail.get("detail") or detail.get("rejected") or detail
    except ValueError:
        detail = r.text[:500]
    raise HTTPError(
        f"the collector answered {r.status_code} to the {what}: {detail}", status=r.status_code
    )


def _reference_bytes(
    reference: Any, target: str | None, prediction: str | None, scores: Iterable[str] | None
) -> tuple[bytes, str]:
    from driftline.stats.profile import DatasetProfile

    if isinstance(reference, str | os.PathLike):
        path = Path(reference)
        if not path.is_file():
            raise SDKConfigError(f"reference file {str(path)!r} does not exist")
        data = path.read_bytes()
        suffix = path.suffix.lower()
        ctype = (
            "application/x-ndjson"
            if suffix in (".jsonl", ".ndjson", ".json")
            else ("text/csv" if suffix == ".csv" else "application/octet-stream")
        )
        return data, ctype
    if isinstance(reference, DatasetProfile):
        return reference.to_bytes(), "application/octet-stream"
    import driftline

    roles: dict[str, Any] = {}
    for names, role in (
        ([target] if target else [], "target"),
        ([prediction] if prediction else [], "prediction"),
        (list(scores or []), "score"),
    ):
        for n in names:
            roles[n] = {"role": role}
    profile = driftline.profile(reference, schema=roles or None, seed=0)
    return profile.to_bytes(), "application/octet-stream"
