"""Fast, time-ordered identifiers: RFC 9562 version-7 UUIDs as 32 lowercase hex digits.

A version-7 UUID starts with the Unix time in milliseconds (48 bits), then
the version (7), 12 random bits, the RFC 4122 variant and 62 more random bits.
Ids made later sort later, so the collector's unique index on ``event_id``
grows at its right edge: with random (version-4) ids every insert touches a
random page of that index, which made SQLite ingest four times slower once the
index outgrew the page cache (benchmarks/RESULTS.md, collector ingest). The 74
random bits keep ids unique across processes and machines.
"""

from __future__ import annotations

import os
import re
import time

_ID = re.compile(".{32}", re.DOTALL)

_RAND_MASK = (1 << 80) - 1
_VERSION_CLEAR = ~((0xF << 76) | (0x3 << 62))
_VERSION_SET = (0x7 << 76) | (0x2 << 62)


def uuid7_hex(ms: int | None = None) -> str:
    """A version-7 UUID (``ms``: Unix milliseconds, default now) as 32 hex digits."""
    if ms is None:
        ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    n = (ms << 80) | rand
    return f"{(n & _VERSION_CLEAR) | _VERSION_SET:032x}"


def uuid7_hex_batch(count: int, ms: int | None = None) -> list[str]:
    """``count`` version-7 UUIDs of the same millisecond from one call to the OS random source.

    Within the millisecond their order is random (RFC 9562 leaves it open);
    they all land at the same end of an index.
    """
    import numpy as np  # batches only: `import driftline.sdk` does not load numpy

    if ms is None:
        ms = time.time_ns() // 1_000_000
    raw = np.frombuffer(os.urandom(16 * count), dtype=np.uint8).reshape(count, 16).copy()
    raw[:, :6] = np.frombuffer((ms & (1 << 48) - 1).to_bytes(6, "big"), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x70  # version 7
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    return _ID.findall(raw.tobytes().hex())  # split in C: faster than slicing in a loop


def uuid7_ms(hex_id: str) -> int:
    """The Unix milliseconds a version-7 hex id was made at."""
    return int(hex_id[:12], 16)
