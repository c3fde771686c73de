"""Runtime records in the collector: validate, keep per version, diff (docs/versions.md).

``POST /v1/runtime`` (ingest scope) takes records of ``type: runtime``: the SDK
sends the serving process's capture once per process and version; ``driftline
register`` sends the training side. The latest capture of each role is kept in
the version's metadata under ``runtime.serving`` / ``runtime.training`` (with
``received_at``; the user's metadata fields are left alone). The evaluator
writes ``environment.major_differences`` per base window: how many packages
differ in their major version between training and serving (details: the diff),
which the ``runtime_major_mismatch`` preset alerts on.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from driftline.server.ingest import VALIDATORS, InvalidEventError, Limits, _name, _str, parse_time
from driftline.store.base import Store

ROLES = ("serving", "training")
#: PEP 508 names; the SDK normalises them (PEP 503) before sending.
PACKAGE_RE = re.compile(r"^([a-z0-9]|[a-z0-9][a-z0-9._-]*[a-z0-9])$", re.IGNORECASE)
MAX_PACKAGES = 5000
MAX_BYTES = 512_000


def runtime(e: dict[str, Any], lim: Limits) -> dict[str, Any]:
    """A validated runtime record; errors name the field (``runtime.packages``, ...)."""
    if e.get("type", "runtime") != "runtime":
        raise InvalidEventError(
            "type", f"type must be 'runtime' on this endpoint, got {e['type']!r}"
        )
    role = e.get("role", "serving")
    if role not in ROLES:
        raise InvalidEventError("role", f"role must be one of {list(ROLES)}, got {role!r}")
    rt = e.get("runtime")
    if not isinstance(rt, dict):
        raise InvalidEventError("runtime", "runtime must be an object (python, platform, packages)")
    for key in ("python", "platform"):
        v = rt.get(key)
        if v is not None and (not isinstance(v, str) or len(v) > 256):
            raise InvalidEventError(f"runtime.{key}", f"runtime.{key} must be a short string")
    packages = rt.get("packages", {})
    if not isinstance(packages, dict):
        raise InvalidEventError(
            "runtime.packages",
            "runtime.packages must be an object of package name to version string",
        )
    if len(packages) > MAX_PACKAGES:
        raise InvalidEventError("runtime.packages", f"at most {MAX_PACKAGES} packages")
    for name, version in packages.items():
        if not PACKAGE_RE.fullmatch(name):
            raise InvalidEventError(
                "runtime.packages",
                f"package name {name[:80]!r} is not a valid distribution name (PEP 508: "
                "letters, digits, '.', '_', '-', starting and ending with a letter or digit)",
            )
        if not isinstance(version, str) or not 0 < len(version) <= 128:
            raise InvalidEventError(
                "runtime.packages",
                f"version of package {name!r} must be a string of 1 to 128 characters",
            )
    meta = e.get("metadata", {})
    if not isinstance(meta, dict):
        raise InvalidEventError("metadata", "metadata must be a JSON object")
    body = orjson.dumps({"runtime": rt, "metadata": meta})
    if len(body) > MAX_BYTES:
        raise InvalidEventError("runtime", f"record is {len(body)} bytes; at most {MAX_BYTES}")
    ts = e.get("timestamp")
    return {
        "event_id": _str(e, "event_id"),
        "model": _name(e, "model"),
        "version": _name(e, "version"),
        "role": role,
        "ts": lim.now if ts is None else parse_time(ts, "timestamp", lim.now, lim.max_future),
        "runtime": rt,
        "metadata": meta,
    }


VALIDATORS["runtime"] = runtime


def store_runtime(store: Store, rows: list[dict[str, Any]], now: float) -> int:
    """Keep the latest capture of each (model, version, role) in the version's metadata."""
    for r in sorted(rows, key=lambda r: r["ts"]):
        model, version = r["model"], r["version"]
        store.ensure_version(model, version, now)
        row = store.version(model, version)
        meta = orjson.loads(row["meta"]) if row and row["meta"] else {}
        if not isinstance(meta, dict):
            meta = {}
        kept = meta.setdefault("runtime", {})
        old = kept.get(r["role"])
        if old is not None and old.get("ts", 0) > r["ts"]:
            continue
        kept[r["role"]] = {
            "runtime": r["runtime"],
            "metadata": r["metadata"],
            "ts": r["ts"],
            "received_at": now,
        }
        store.update_version_meta(model, version, orjson.dumps(meta).decode(), now)
    return len(rows)
