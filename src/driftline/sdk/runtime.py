"""What a process actually runs: Python, platform, installed packages, plus user metadata.

The SDK sends this once per process and model version (``role="serving"``);
``driftline register`` / :func:`register` sends the same capture from the
training environment (``role="training"``) with hyperparameters, validation
metrics and the reference. The collector diffs training against serving and
version against version (:mod:`driftline.stats.versions.environment`).

Package names follow PEP 503 normalisation (``Scikit_Learn`` -> ``scikit-learn``);
installed distributions whose metadata has no valid name or version are left
out and listed under ``excluded`` with the reason, never silently.
"""

from __future__ import annotations

import json
import math
import platform
import re
import sys
from collections.abc import Iterable, Mapping
from typing import Any

from driftline.sdk.errors import SDKConfigError

#: PEP 508 distribution names.
NAME_RE = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)
#: Keys of user metadata that driftline reads (others are kept and shown as they are).
KNOWN_METADATA = ("git_commit", "training_data", "hyperparameters", "features", "metrics")
MAX_METADATA_BYTES = 64_000


def canonical_name(name: str) -> str:
    """PEP 503 normalised package name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def capture_runtime(distributions: Iterable[Any] | None = None) -> dict[str, Any]:
    """Python version, implementation, platform and installed packages of this process."""
    if distributions is None:
        from importlib import metadata

        distributions = metadata.distributions()
    packages: dict[str, str] = {}
    excluded: list[dict[str, str]] = []
    for dist in distributions:
        meta = getattr(dist, "metadata", None)
        name = meta.get("Name") if meta is not None else None
        version = getattr(dist, "version", None)
        if not isinstance(name, str) or not NAME_RE.fullmatch(name):
            excluded.append({"name": str(name)[:128], "reason": "not a valid package name"})
            continue
        if not isinstance(version, str) or not version:
            excluded.append({"name": name[:128], "reason": "no version in its metadata"})
            continue
        packages.setdefault(canonical_name(name), version)
    return {
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "packages": dict(sorted(packages.items())),
        "excluded": excluded,
    }


def check_metadata(metadata: Mapping[str, Any] | None, where: str = "metadata") -> dict[str, Any]:
    """``metadata`` as a plain JSON object, or :class:`SDKConfigError` naming the bad key."""
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise SDKConfigError(
            f"{where} must be a mapping of names to JSON values, got {type(metadata).__name__}"
        )
    out = {str(k): _json_value(v, f"{where}[{k!r}]") for k, v in metadata.items()}
    size = len(json.dumps(out))
    if size > MAX_METADATA_BYTES:
        raise SDKConfigError(f"{where} is {size} bytes as JSON; at most {MAX_METADATA_BYTES}")
    return out


def _json_value(v: Any, where: str) -> Any:
    if v is None or isinstance(v, bool | str):
        return v
    if isinstance(v, int | float):
        if isinstance(v, float) and not math.isfinite(v):
            raise SDKConfigError(f"{where} is {v}: JSON has no NaN or infinity")
        return v
    if isinstance(v, Mapping):
        for k in v:
            if not isinstance(k, str):
                raise SDKConfigError(f"{where} has a key {k!r} that is not a string")
        return {k: _json_value(x, f"{where}[{k!r}]") for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_json_value(x, f"{where}[{i}]") for i, x in enumerate(v)]
    if hasattr(v, "item") and callable(v.item):  # numpy scalars
        return _json_value(v.item(), where)
    raise SDKConfigError(
        f"{where} is a {type(v).__name__}, which is not JSON-serialisable; "
        "use strings, numbers, booleans, None, lists and mappings"
    )


def runtime_record(
    model: str,
    version: str,
    role: str,
    runtime: Mapping[str, Any],
    metadata: Mapping[str, Any],
    event_id: str,
    timestamp: str,
) -> dict[str, Any]:
    """The wire record (``type: runtime``) the collector's ``POST /v1/runtime`` accepts."""
    return {
        "type": "runtime",
        "event_id": event_id,
        "timestamp": timestamp,
        "model": model,
        "version": version,
        "role": role,
        "runtime": dict(runtime),
        "metadata": dict(metadata),
    }
