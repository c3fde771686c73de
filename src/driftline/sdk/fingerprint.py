"""Error groups: an exception's type and a stable fingerprint of its stack (docs/sdk.md, "Errors").

On the request thread, only when a prediction fails: the traceback is walked
once for (module, function, line) of each frame (code objects and the
module's ``__name__``; no local variable is ever read) and the message is
taken as text, cut at :data:`MAX_MESSAGE` characters. Everything else runs on
the shipper thread: the fingerprint, the privacy policy on the message.

The fingerprint is the first 16 hex digits of SHA-256 over the exception's
qualified type and the (module, function) of each frame, without line numbers:
editing a file keeps its errors' groups; renaming or moving the failing
function starts a new group. Consecutive repeats of a frame (recursion) count
once, and the SDK's own frames are left out, so a recursion depth or the
``@track`` wrapper does not split a group.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

#: Frames kept per error (the innermost ones).
MAX_FRAMES = 32
#: Characters of the exception message kept before the privacy policy.
MAX_MESSAGE = 1000


@dataclass(frozen=True, slots=True)
class Captured:
    """What the request thread keeps of an exception."""

    type: str
    message: str
    frames: tuple[tuple[str, str, int], ...]


def capture_frames(exc: BaseException) -> Captured:
    """The exception's type, message and frames (module, function, line); no locals."""
    frames: list[tuple[str, str, int]] = []
    tb = exc.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        code = frame.f_code
        module = frame.f_globals.get("__name__", "") if frame.f_globals is not None else ""
        name = getattr(code, "co_qualname", code.co_name)
        if not str(module).startswith("driftline.sdk."):
            frames.append((str(module), str(name), int(tb.tb_lineno or 0)))
        tb = tb.tb_next
    try:
        message = str(exc)[:MAX_MESSAGE]
    except Exception:  # a __str__ that fails
        message = ""
    kind = type(exc)
    module = kind.__module__
    qualified = (
        kind.__qualname__ if module in ("builtins", "__main__") else f"{module}.{kind.__qualname__}"
    )
    return Captured(qualified, message, tuple(frames[-MAX_FRAMES:]))


def fingerprint(kind: str, frames: tuple[tuple[str, str, int], ...]) -> str:
    """16 hex digits naming the group of an error: its type and stack, no line numbers."""
    h = hashlib.sha256(kind.encode())
    last = None
    for module, function, _ in frames:
        key = (module, function)
        if key == last:
            continue
        last = key
        h.update(b"\n" + module.encode() + b":" + function.encode())
    return h.hexdigest()[:16]


def encode_error(captured: Captured, policy: Any) -> dict[str, Any]:
    """The ``error`` field of a failed prediction's event (shipper thread)."""
    message: Any = policy.mask(captured.message) if captured.message else ""
    message = policy.apply_field("error_message", message)
    return {
        "type": captured.type,
        "fingerprint": fingerprint(captured.type, captured.frames),
        "message": message if isinstance(message, str) else None,
        "frames": [{"module": m, "function": f, "line": n} for m, f, n in captured.frames],
    }
