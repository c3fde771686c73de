"""Diffs of runtime captures and metadata: training vs serving, version vs version.

A capture (:func:`driftline.sdk.runtime.capture_runtime`) holds ``python``,
``platform`` and ``packages`` ({PEP 503 name: version}); metadata may hold
``features`` (a list) and ``hyperparameters`` (a mapping). :func:`diff_environment`
says what was added, removed or changed, and classifies each package change as
``major``, ``minor``, ``patch`` or ``other`` (pre-releases, local versions and
schemes that are not dotted numbers).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

_RELEASE = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?")


def change_kind(a: str, b: str) -> str:
    """``major``, ``minor``, ``patch`` or ``other``: the first release number that differs."""
    ma, mb = _RELEASE.match(a.strip()), _RELEASE.match(b.strip())
    if ma is None or mb is None:
        return "other"
    ra = [int(x or 0) for x in ma.groups()]
    rb = [int(x or 0) for x in mb.groups()]
    for kind, x, y in zip(("major", "minor", "patch"), ra, rb, strict=True):
        if x != y:
            return kind
    return "other"  # same release, different suffix (rc, post, local)


def diff_packages(
    a: Mapping[str, str], b: Mapping[str, str], only: Iterable[str] | None = None
) -> dict[str, Any]:
    """Packages added in ``b``, removed from ``a`` and changed (with the change's kind)."""
    if only is not None:
        keep = {re.sub(r"[-_.]+", "-", n).lower() for n in only}
        a = {k: v for k, v in a.items() if k in keep}
        b = {k: v for k, v in b.items() if k in keep}
    changed = {
        k: {"a": a[k], "b": b[k], "change": change_kind(a[k], b[k])}
        for k in sorted(set(a) & set(b))
        if a[k] != b[k]
    }
    return {
        "added": {k: b[k] for k in sorted(set(b) - set(a))},
        "removed": {k: a[k] for k in sorted(set(a) - set(b))},
        "changed": changed,
        "major": sorted(k for k, c in changed.items() if c["change"] == "major"),
    }


def diff_environment(
    a: Mapping[str, Any] | None, b: Mapping[str, Any] | None, only: Iterable[str] | None = None
) -> dict[str, Any] | None:
    """The difference between two captures with their metadata (None if either is missing).

    ``a`` and ``b`` are ``{"runtime": capture, "metadata": {...}}``; ``only``: the
    packages the model uses (others are not compared).
    """
    if not a or not b:
        return None
    ra, rb = a.get("runtime") or {}, b.get("runtime") or {}
    out: dict[str, Any] = {
        "python": None
        if ra.get("python") == rb.get("python")
        else {
            "a": ra.get("python"),
            "b": rb.get("python"),
            "change": change_kind(str(ra.get("python")), str(rb.get("python"))),
        },
        "platform": None
        if ra.get("platform") == rb.get("platform")
        else {"a": ra.get("platform"), "b": rb.get("platform")},
        "packages": diff_packages(ra.get("packages") or {}, rb.get("packages") or {}, only),
    }
    ma, mb = a.get("metadata") or {}, b.get("metadata") or {}
    fa, fb = ma.get("features"), mb.get("features")
    if isinstance(fa, list) and isinstance(fb, list):
        out["features"] = {
            "added": [f for f in fb if f not in fa],
            "removed": [f for f in fa if f not in fb],
        }
    ha, hb = ma.get("hyperparameters"), mb.get("hyperparameters")
    if isinstance(ha, Mapping) and isinstance(hb, Mapping):
        out["hyperparameters"] = {
            k: {"a": ha.get(k), "b": hb.get(k)}
            for k in sorted(set(ha) | set(hb))
            if ha.get(k) != hb.get(k)
        }
    others = sorted((set(ma) | set(mb)) - {"features", "hyperparameters", "metrics"})
    out["metadata"] = {
        k: {"a": ma.get(k), "b": mb.get(k)} for k in others if ma.get(k) != mb.get(k)
    }
    return out


def environment_of(meta: Mapping[str, Any]) -> dict[str, Any]:
    """Training against serving of one version's metadata (``runtime.training`` and
    ``runtime.serving``, as the collector keeps them); ``diff`` is None until both exist.
    Only the packages named in the training metadata's ``packages_used`` are compared
    when it lists them."""
    rt = meta.get("runtime") or {}
    training, serving = rt.get("training"), rt.get("serving")
    only = ((training or {}).get("metadata") or {}).get("packages_used")
    return {
        "training": training,
        "serving": serving,
        "diff": diff_environment(training, serving, only if isinstance(only, list) else None),
    }


def major_differences(diff: Mapping[str, Any] | None) -> int | None:
    """Packages (and Python) whose major version differs; None without a diff."""
    if diff is None:
        return None
    python = diff.get("python") or {}
    return len(diff["packages"]["major"]) + (python.get("change") == "major")
