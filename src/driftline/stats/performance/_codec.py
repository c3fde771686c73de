"""Versioned binary format shared by the performance accumulators.

Layout (all integers little-endian)::

    magic    4 bytes   b"DLPM"
    version  uint16    format version of this accumulator kind
    kind     uint8     length of the kind name, then the ASCII kind name
    length   uint32    length of the JSON header
    header   JSON      scalars + an index of the arrays and blobs that follow
    payload  bytes     arrays (raw little-endian) and blobs, back to back
    crc32    uint32    CRC-32 of everything before it

Anything that does not parse, fails the checksum, names another kind or an
unknown version raises :class:`~driftline.errors.ProfileFormatError`.
"""

from __future__ import annotations

import json
import struct
import zlib
from typing import Any

import numpy as np
import numpy.typing as npt

from driftline.errors import ProfileFormatError

MAGIC = b"DLPM"
_ALLOWED_DTYPES = {"<i8", "<f8", "|b1"}


def encode(
    kind: str,
    version: int,
    meta: dict[str, Any],
    arrays: dict[str, npt.NDArray[Any]] | None = None,
    blobs: dict[str, bytes] | None = None,
) -> bytes:
    """Serialise ``meta`` (JSON-able), named numpy arrays and opaque blobs."""
    payload = bytearray()
    index: list[dict[str, Any]] = []
    for name, arr in (arrays or {}).items():
        a = np.ascontiguousarray(arr)
        a = a.astype(a.dtype.newbyteorder("<"), copy=False)
        raw = a.tobytes()
        index.append(
            {"name": name, "type": "array", "dtype": a.dtype.str, "shape": list(a.shape)}
            | {"offset": len(payload), "nbytes": len(raw)}
        )
        payload += raw
    for name, blob in (blobs or {}).items():
        index.append({"name": name, "type": "blob", "offset": len(payload), "nbytes": len(blob)})
        payload += blob
    header = json.dumps({"meta": meta, "index": index}, separators=(",", ":")).encode()
    kind_b = kind.encode("ascii")
    body = (
        MAGIC
        + struct.pack("<HB", version, len(kind_b))
        + kind_b
        + struct.pack("<I", len(header))
        + header
        + bytes(payload)
    )
    return body + struct.pack("<I", zlib.crc32(body))


def decode(
    data: bytes, kind: str, versions: tuple[int, ...]
) -> tuple[int, dict[str, Any], dict[str, npt.NDArray[Any]], dict[str, bytes]]:
    """Parse bytes made by :func:`encode`; returns (version, meta, arrays, blobs)."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ProfileFormatError(f"{kind}: expected bytes, got {type(data).__name__}")
    buf = bytes(data)
    if len(buf) < 4 + 3 + 4 + 4 or buf[:4] != MAGIC:
        raise ProfileFormatError(f"{kind}: not a driftline performance accumulator (bad magic)")
    body, (crc,) = buf[:-4], struct.unpack("<I", buf[-4:])
    if zlib.crc32(body) != crc:
        raise ProfileFormatError(f"{kind}: corrupt data (checksum mismatch)")
    version, klen = struct.unpack("<HB", body[4:7])
    got_kind = body[7 : 7 + klen].decode("ascii", errors="replace")
    if got_kind != kind:
        raise ProfileFormatError(f"expected a {kind} accumulator, got {got_kind!r}")
    if version not in versions:
        raise ProfileFormatError(
            f"{kind}: unknown format version {version}; this driftline reads {list(versions)}"
        )
    pos = 7 + klen
    try:
        (hlen,) = struct.unpack("<I", body[pos : pos + 4])
        header = json.loads(body[pos + 4 : pos + 4 + hlen])
        payload = body[pos + 4 + hlen :]
        arrays: dict[str, npt.NDArray[Any]] = {}
        blobs: dict[str, bytes] = {}
        for item in header["index"]:
            start, n = int(item["offset"]), int(item["nbytes"])
            if start < 0 or start + n > len(payload):
                raise ValueError("index points outside the payload")
            raw = payload[start : start + n]
            if item["type"] == "array":
                if item["dtype"] not in _ALLOWED_DTYPES:
                    raise ValueError(f"dtype {item['dtype']} not allowed")
                shape = tuple(int(s) for s in item["shape"])
                arrays[item["name"]] = np.frombuffer(raw, dtype=item["dtype"]).reshape(shape).copy()
            else:
                blobs[item["name"]] = raw
        meta = header["meta"]
        if not isinstance(meta, dict):
            raise ValueError("meta is not an object")
    except (ValueError, KeyError, TypeError, struct.error) as exc:
        raise ProfileFormatError(f"{kind}: corrupt data ({exc})") from exc
    return version, meta, arrays, blobs
