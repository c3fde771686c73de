"""The decoded size of an Arrow IPC stream, read from its metadata before any buffer is.

An Arrow IPC stream may compress its buffers (LZ4 or ZSTD, per record batch);
reading it decompresses them all, so a body within ``max_body_bytes`` could
decode to hundreds of times its size before the decoded table can be
measured (a 16 MB body of repeated values: tens of GB). Each compressed buffer
starts with its decompressed length (Arrow's columnar format, "Compression"):
:func:`decoded_bytes` adds those up from the batches' flatbuffer metadata
(``Message`` -> ``RecordBatch.buffers``, ``RecordBatch.compression``), reading
no buffer but those 8-byte prefixes.
"""

from __future__ import annotations

import struct

import pyarrow as pa

__all__ = ["decoded_bytes"]

_RECORD_BATCH, _DICTIONARY_BATCH = 3, 2  # MessageHeader union types
_I64 = struct.Struct("<q")


def decoded_bytes(body: bytes) -> int:
    """The bytes the stream's batches (and dictionaries) take decoded; raises ValueError
    (or an Arrow error) when the stream or its metadata is not well formed."""
    reader = pa.ipc.MessageReader.open_stream(pa.py_buffer(body))
    total = 0
    while True:
        try:
            msg = reader.read_next_message()
        except StopIteration:
            return total
        total += _message_bytes(msg.metadata.to_pybytes(), msg.body)


def _message_bytes(meta: bytes, body: pa.Buffer | None) -> int:
    fb = _Flatbuffer(meta)
    root = fb.u32(0)
    kind, header = fb.field(root, 1), fb.field(root, 2)
    if kind is None or header is None or body is None:
        return 0  # a schema: no buffers
    batch = fb.ref(header)
    if fb.u8(kind) == _DICTIONARY_BATCH:
        data = fb.field(batch, 1)
        if data is None:
            return 0
        batch = fb.ref(data)
    elif fb.u8(kind) != _RECORD_BATCH:
        return int(body.size)
    if fb.field(batch, 3) is None:  # no compression: the body as it is
        return int(body.size)
    buffers = fb.field(batch, 2)
    if buffers is None:
        return 0
    vector = fb.ref(buffers)
    total = 0
    for k in range(fb.u32(vector)):
        offset, length = fb.i64(vector + 4 + 16 * k), fb.i64(vector + 12 + 16 * k)
        if length == 0:
            continue
        if offset < 0 or length < 8 or offset + length > body.size:
            raise ValueError("a compressed buffer lies outside its message body")
        size = _I64.unpack(body.slice(offset, 8).to_pybytes())[0]
        if size < -1:  # would cancel out another buffer's length in the sum
            raise ValueError(f"a compressed buffer declares a negative length ({size})")
        total += length - 8 if size == -1 else size  # -1: stored uncompressed
    return total


class _Flatbuffer:
    """Bounds-checked reads of a flatbuffer's tables (little-endian)."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def _at(self, fmt: str, pos: int) -> int:
        if pos < 0 or pos + struct.calcsize(fmt) > len(self.data):
            raise ValueError("Arrow IPC metadata points outside itself")
        value: int = struct.unpack_from(fmt, self.data, pos)[0]
        return value

    def u8(self, pos: int) -> int:
        return self._at("<B", pos)

    def u32(self, pos: int) -> int:
        return self._at("<I", pos)

    def i64(self, pos: int) -> int:
        return self._at("<q", pos)

    def ref(self, pos: int) -> int:
        """Where the offset stored at ``pos`` points."""
        return pos + self.u32(pos)

    def field(self, table: int, slot: int) -> int | None:
        """The position of field ``slot`` of the table at ``table``; None when absent."""
        vtable = table - self._at("<i", table)
        if 4 + 2 * slot >= self._at("<H", vtable):
            return None
        offset = self._at("<H", vtable + 4 + 2 * slot)
        return None if offset == 0 else table + offset
