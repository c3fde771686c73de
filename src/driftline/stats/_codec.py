"""A small, versioned binary container for accumulator state.

Layout: ``MAGIC (4 bytes) | kind length (u16) | kind | header length (u32) |
JSON header | array bytes``. The JSON header holds the scalar state and, for
each numpy array, its dtype, shape and byte range. No pickle: loading a profile
never executes code.
"""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np

from driftline.errors import ProfileFormatError

MAGIC = b"DLA1"
_ALLOWED_DTYPES = {"<f8", "<i8", "<u8", "<f4", "<i4", "|u1", "|b1"}


def pack(kind: str, version: int, scalars: dict[str, Any], arrays: dict[str, np.ndarray]) -> bytes:
    """Serialise scalars (JSON-able) and numpy arrays under a kind tag and version."""
    layout: dict[str, Any] = {}
    chunks: list[bytes] = []
    offset = 0
    for name, arr in arrays.items():
        a = np.ascontiguousarray(arr)
        if a.dtype.byteorder == ">":
            a = a.astype(a.dtype.newbyteorder("<"))
        data = a.tobytes()
        layout[name] = {
            "dtype": a.dtype.str,
            "shape": list(a.shape),
            "start": offset,
            "len": len(data),
        }
        chunks.append(data)
        offset += len(data)
    header = json.dumps(
        {"version": version, "scalars": scalars, "arrays": layout}, separators=(",", ":")
    ).encode()
    kind_b = kind.encode()
    head = [MAGIC, struct.pack("<H", len(kind_b)), kind_b, struct.pack("<I", len(header))]
    return b"".join([*head, header, *chunks])


def unpack(
    kind: str, data: bytes, max_version: int
) -> tuple[int, dict[str, Any], dict[str, np.ndarray]]:
    """Inverse of :func:`pack`; checks the magic, kind tag and version."""
    try:
        if data[:4] != MAGIC:
            raise ProfileFormatError(
                f"not a driftline {kind} (bad magic {data[:4]!r}, expected {MAGIC!r})"
            )
        (klen,) = struct.unpack_from("<H", data, 4)
        got_kind = data[6 : 6 + klen].decode()
        if got_kind != kind:
            raise ProfileFormatError(f"expected a serialised {kind}, got a {got_kind}")
        pos = 6 + klen
        (hlen,) = struct.unpack_from("<I", data, pos)
        pos += 4
        header = json.loads(data[pos : pos + hlen])
        pos += hlen
    except ProfileFormatError:
        raise
    except (struct.error, UnicodeDecodeError, ValueError) as exc:
        raise ProfileFormatError(f"corrupt serialised {kind}: {exc}") from exc
    version = int(header.get("version", -1))
    if not 1 <= version <= max_version:
        raise ProfileFormatError(
            f"serialised {kind} has format version {version}; this driftline reads 1..{max_version}"
        )
    arrays: dict[str, np.ndarray] = {}
    body = memoryview(data)[pos:]
    for name, spec in header["arrays"].items():
        if spec["dtype"] not in _ALLOWED_DTYPES:
            raise ProfileFormatError(f"serialised {kind}: array {name!r} has dtype {spec['dtype']}")
        start, length = int(spec["start"]), int(spec["len"])
        if start + length > len(body):
            raise ProfileFormatError(f"serialised {kind} is truncated (array {name!r})")
        arr = np.frombuffer(body[start : start + length], dtype=np.dtype(spec["dtype"]))
        arrays[name] = arr.reshape(spec["shape"]).copy()
    return version, header["scalars"], arrays
