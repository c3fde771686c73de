"""Fast random identifiers in uuid4 hex form (32 lowercase hex digits)."""

from __future__ import annotations

import os

_VERSION_CLEAR = ~((0xF << 76) | (0x3 << 62))
_VERSION_SET = (0x4 << 76) | (0x2 << 62)


def uuid4_hex() -> str:
    """A random RFC 4122 version-4 UUID as 32 hex digits, without building a UUID object."""
    n = int.from_bytes(os.urandom(16), "big")
    return f"{(n & _VERSION_CLEAR) | _VERSION_SET:032x}"


def uuid4_hex_batch(count: int) -> list[str]:
    """``count`` uuid4 hex strings from one call to the OS random source."""
    raw = os.urandom(16 * count)
    out = []
    for i in range(0, 16 * count, 16):
        n = int.from_bytes(raw[i : i + 16], "big")
        out.append(f"{(n & _VERSION_CLEAR) | _VERSION_SET:032x}")
    return out
