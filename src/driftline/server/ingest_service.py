"""Validating the service fields of a prediction event: stages, error, resources, checks, trace.

Each is optional (docs/sdk.md lists them; the SDK sends them valid). A bad
one rejects the event with the field's path (``stages[2].name``) and what is
allowed, as every other field does.
"""

from __future__ import annotations

import math
import re
from typing import Any

from driftline.server.ingest import InvalidEventError, check_depth

STAGE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
HEX_RE = re.compile(r"^[0-9a-f]+$")
MAX_STAGES = 64
STAGE_STATUSES = ("ok", "error", "unclosed")
GPU_STATUSES = ("ok", "absent", "error")
VIOLATIONS = ("missing", "type", "out_of_range", "unseen_category", "unexpected")
FIELDS = ("stages", "error", "resources", "checks", "trace_id", "span_id")


def _num(where: str, v: Any, *, required: bool = True, lo: float = 0.0) -> float | None:
    if v is None and not required:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v < lo:
        raise InvalidEventError(where, f"{where} must be a finite number >= {lo:g}")
    return float(v)


def _count(where: str, v: Any, *, required: bool = True) -> int | None:
    if v is None and not required:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < 2**53:
        raise InvalidEventError(where, f"{where} must be a non-negative integer")
    return int(v)


def _text(where: str, v: Any, limit: int, *, required: bool = False) -> str | None:
    if v is None and not required:
        return None
    if not isinstance(v, str) or not 0 < len(v) <= limit or "\x00" in v:
        raise InvalidEventError(
            where, f"{where} must be a string of 1 to {limit} characters without NUL"
        )
    return v


def _hex(where: str, v: Any, length: int) -> str | None:
    if v is None:
        return None
    if not isinstance(v, str) or len(v) != length or not HEX_RE.fullmatch(v):
        raise InvalidEventError(where, f"{where} must be {length} lowercase hex digits")
    return v


def stages(v: Any, max_depth: int) -> list[dict[str, Any]]:
    if not isinstance(v, list) or len(v) > MAX_STAGES:
        raise InvalidEventError("stages", f"stages must be a list of at most {MAX_STAGES} objects")
    out = []
    for i, st in enumerate(v):
        at = f"stages[{i}]"
        if not isinstance(st, dict):
            raise InvalidEventError(at, f"{at} must be an object with name and latency_ms")
        name = st.get("name")
        if not isinstance(name, str) or not STAGE_NAME_RE.fullmatch(name):
            raise InvalidEventError(
                f"{at}.name",
                f"{at}.name={str(name)[:70]!r}: 1 to 64 characters of letters, digits and "
                "_.:- starting with a letter or digit (the SDK rewrites other names)",
            )
        status = st.get("status", "ok")
        if status not in STAGE_STATUSES:
            raise InvalidEventError(
                f"{at}.status", f"{at}.status={status!r}; allowed: {', '.join(STAGE_STATUSES)}"
            )
        rec: dict[str, Any] = {
            "name": name,
            "latency_ms": _num(f"{at}.latency_ms", st.get("latency_ms")),
            "status": status,
        }
        start = _num(f"{at}.start_ms", st.get("start_ms"), required=False)
        if start is not None:
            rec["start_ms"] = start
        et = _text(f"{at}.error_type", st.get("error_type"), 256)
        if et is not None:
            rec["error_type"] = et
        parent = st.get("parent")
        if parent is not None:
            if isinstance(parent, bool) or not isinstance(parent, int) or not 0 <= parent < i:
                raise InvalidEventError(
                    f"{at}.parent", f"{at}.parent must be the index of an earlier stage"
                )
            rec["parent"] = parent
        attrs = st.get("attributes")
        if attrs is not None:
            if not isinstance(attrs, dict) or len(attrs) > 32:
                raise InvalidEventError(
                    f"{at}.attributes", f"{at}.attributes must be an object of at most 32 keys"
                )
            check_depth(f"{at}.attributes", attrs, max_depth)
            rec["attributes"] = attrs
        usage = st.get("usage")
        if usage is not None:
            rec["usage"] = _usage(f"{at}.usage", usage)
        out.append(rec)
    return out


def _usage(at: str, u: Any) -> dict[str, Any]:
    if not isinstance(u, dict):
        raise InvalidEventError(at, f"{at} must be an object (model, input_tokens, output_tokens)")
    out: dict[str, Any] = {}
    for key in ("model", "provider", "operation"):
        t = _text(f"{at}.{key}", u.get(key), 128)
        if t is not None:
            out[key] = t
    for key in ("input_tokens", "output_tokens"):
        n = _count(f"{at}.{key}", u.get(key), required=False)
        if n is not None:
            out[key] = n
    return out


def error(v: Any) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise InvalidEventError("error", "error must be an object (type, fingerprint, ...)")
    frames = v.get("frames") or []
    if not isinstance(frames, list) or len(frames) > 64:
        raise InvalidEventError("error.frames", "error.frames must be a list of at most 64")
    clean = []
    for i, f in enumerate(frames):
        at = f"error.frames[{i}]"
        if not isinstance(f, dict):
            raise InvalidEventError(at, f"{at} must be an object (module, function, line)")
        clean.append(
            {
                "module": _text(f"{at}.module", f.get("module"), 256) or "",
                "function": _text(f"{at}.function", f.get("function"), 256) or "",
                "line": _count(f"{at}.line", f.get("line"), required=False) or 0,
            }
        )
    message = v.get("message")
    if message is not None and not isinstance(message, str):
        raise InvalidEventError("error.message", "error.message must be a string or null")
    if message is not None and "\x00" in message:
        message = message.replace("\x00", "")
    fp = v.get("fingerprint")
    if not isinstance(fp, str) or not 0 < len(fp) <= 64 or not HEX_RE.fullmatch(fp):
        raise InvalidEventError("error.fingerprint", "error.fingerprint must be 1 to 64 hex digits")
    return {
        "type": _text("error.type", v.get("type"), 256, required=True),
        "fingerprint": fp,
        "message": None if message is None else message[:2000],
        "frames": clean,
    }


def resources(v: Any) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise InvalidEventError("resources", "resources must be an object")
    gpus = v.get("gpus") or []
    if not isinstance(gpus, list) or len(gpus) > 64:
        raise InvalidEventError("resources.gpus", "resources.gpus must be a list of at most 64")
    clean = []
    for i, g in enumerate(gpus):
        at = f"resources.gpus[{i}]"
        if not isinstance(g, dict):
            raise InvalidEventError(at, f"{at} must be an object (index, utilization, ...)")
        util = _num(f"{at}.utilization", g.get("utilization"), required=False)
        if util is not None and util > 1:
            raise InvalidEventError(f"{at}.utilization", f"{at}.utilization must be in 0..1")
        clean.append(
            {
                "index": _count(f"{at}.index", g.get("index"), required=False) or i,
                "utilization": util,
                "memory_bytes": _num(f"{at}.memory_bytes", g.get("memory_bytes"), required=False),
            }
        )
    status = v.get("gpu_status", "absent")
    if status not in GPU_STATUSES:
        raise InvalidEventError(
            "resources.gpu_status",
            f"resources.gpu_status={status!r}; allowed: {', '.join(GPU_STATUSES)}",
        )
    share = _num("resources.share", v.get("share"), required=False)
    if share is not None and share > 1:
        raise InvalidEventError("resources.share", "resources.share must be in 0..1")
    return {
        "instance": _text("resources.instance", v.get("instance"), 64, required=True),
        "interval_s": _num("resources.interval_s", v.get("interval_s")),
        "cpu_seconds": _num("resources.cpu_seconds", v.get("cpu_seconds")),
        "gpu_seconds": _num("resources.gpu_seconds", v.get("gpu_seconds"), required=False),
        "rss_bytes": _num("resources.rss_bytes", v.get("rss_bytes"), required=False),
        "gpu_status": status,
        "gpus": clean,
        "n_gpus": _count("resources.n_gpus", v.get("n_gpus"), required=False) or len(clean),
        "share": share,
    }


def checks(v: Any) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise InvalidEventError("checks", "checks must be an object (calls, violating, ...)")
    calls = _count("checks.calls", v.get("calls")) or 0
    violating = _count("checks.violating", v.get("violating")) or 0
    if violating > calls:
        raise InvalidEventError("checks.violating", "checks.violating must be <= checks.calls")
    bad = v.get("violations") or {}
    if not isinstance(bad, dict):
        raise InvalidEventError("checks.violations", "checks.violations must be an object")
    out = {}
    for k, n in bad.items():
        if k not in VIOLATIONS:
            raise InvalidEventError(
                f"checks.violations.{str(k)[:40]}",
                f"violation kind {str(k)[:40]!r}; allowed: {', '.join(VIOLATIONS)}",
            )
        out[k] = _count(f"checks.violations.{k}", n) or 0
    return {"calls": calls, "violating": violating, "violations": out}


def service_fields(e: dict[str, Any], out: dict[str, Any], max_depth: int) -> None:
    """Validate the service fields ``e`` has and copy them, normalised, into ``out``."""
    v = e.get("stages")
    if v is not None:
        out["stages"] = stages(v, max_depth)
    v = e.get("error")
    if v is not None:
        out["error"] = error(v)
    v = e.get("resources")
    if v is not None:
        out["resources"] = resources(v)
    v = e.get("checks")
    if v is not None:
        out["checks"] = checks(v)
    trace = _hex("trace_id", e.get("trace_id"), 32)
    if trace is not None:
        out["trace_id"] = trace
    span = _hex("span_id", e.get("span_id"), 16)
    if span is not None:
        out["span_id"] = span
