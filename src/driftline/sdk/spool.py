"""Bounded holding areas for batches the collector could not take yet.

A spool keeps encoded batches in arrival order and gives them back oldest
first. :class:`DiskSpool` survives a restart of the service: each process
claims a slot directory under the spool directory with an exclusive lock, so
several workers can share one spool directory and a new process replays what
a dead one left behind. When a spool is full, the new batch is refused and the
caller counts its events as dropped.
"""

from __future__ import annotations

import fcntl
import os
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from driftline.sdk.errors import SDKConfigError


@dataclass(frozen=True)
class Batch:
    """One encoded request body: ``count`` records of ``kind``, maybe gzipped.

    ``arrow``: the body is an Arrow IPC stream (predictions; sdk/arrow_batch.py), else JSON.
    """

    kind: str
    body: bytes
    count: int
    gzipped: bool
    arrow: bool = False


class Spool(Protocol):
    def push(self, batch: Batch) -> bool:
        """Keep ``batch``; False (and nothing kept) if that would pass the size bound."""
        ...

    def peek(self) -> Batch | None:
        """The oldest batch, or None."""
        ...

    def pop(self) -> None:
        """Forget the oldest batch."""
        ...

    def __len__(self) -> int: ...

    @property
    def nbytes(self) -> int: ...

    @property
    def durable(self) -> bool:
        """True if batches outlive the process."""
        ...

    def close(self) -> None: ...


class MemorySpool:
    """A spool in memory, bounded by ``max_bytes``; lost when the process ends."""

    durable = False

    def __init__(self, max_bytes: int = 32 * 2**20) -> None:
        self.max_bytes = max_bytes
        self._batches: deque[Batch] = deque()
        self._nbytes = 0

    def push(self, batch: Batch) -> bool:
        if self._nbytes + len(batch.body) > self.max_bytes:
            return False
        self._batches.append(batch)
        self._nbytes += len(batch.body)
        return True

    def peek(self) -> Batch | None:
        return self._batches[0] if self._batches else None

    def pop(self) -> None:
        batch = self._batches.popleft()
        self._nbytes -= len(batch.body)

    def __len__(self) -> int:
        return len(self._batches)

    @property
    def nbytes(self) -> int:
        return self._nbytes

    def events(self) -> int:
        return sum(b.count for b in self._batches)

    def close(self) -> None:
        pass


class DiskSpool:
    """A spool of one file per batch under ``directory/slot-N``, bounded by ``max_bytes``.

    File names are ``<sequence>-<kind>-<count>.json[.gz]`` (``.arrow`` for Arrow batches);
    writes go to a temporary name first and are renamed into place, so a crash never leaves
    half a batch to replay.
    """

    durable = True

    def __init__(
        self, directory: str | os.PathLike[str], max_bytes: int = 256 * 2**20, max_slots: int = 256
    ) -> None:
        self.root = Path(directory)
        self.max_bytes = max_bytes
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SDKConfigError(f"spool_dir={str(directory)!r} cannot be created: {exc}") from exc
        self._lock_file: IO[bytes] | None = None
        self.slot = self._claim(max_slots)
        self._files: deque[tuple[Path, int]] = deque()
        self._nbytes = 0
        self._seq = 0
        for path in sorted(
            p for p in self.slot.glob("*-*-*") if ".json" in p.name or ".arrow" in p.name
        ):
            if path.name.endswith(".tmp"):
                path.unlink(missing_ok=True)
                continue
            size = path.stat().st_size
            self._files.append((path, size))
            self._nbytes += size
            self._seq = max(self._seq, int(path.name.split("-", 1)[0]) + 1)

    def _claim(self, max_slots: int) -> Path:
        for i in range(max_slots):
            slot = self.root / f"slot-{i}"
            slot.mkdir(exist_ok=True)
            handle = open(slot / ".lock", "wb")  # noqa: SIM115 - held for the spool's life
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                continue
            self._lock_file = handle
            return slot
        raise SDKConfigError(f"spool_dir={str(self.root)!r}: all {max_slots} slots are in use")

    def push(self, batch: Batch) -> bool:
        size = len(batch.body)
        if self._nbytes + size > self.max_bytes:
            return False
        suffix = (".arrow" if batch.arrow else ".json") + (".gz" if batch.gzipped else "")
        path = self.slot / f"{self._seq:016d}-{batch.kind}-{batch.count}{suffix}"
        self._seq += 1
        tmp = path.with_name(path.name + ".tmp")
        try:
            with open(tmp, "wb") as f:
                f.write(batch.body)
            os.replace(tmp, path)
        except OSError:
            tmp.unlink(missing_ok=True)
            return False
        self._files.append((path, size))
        self._nbytes += size
        return True

    def peek(self) -> Batch | None:
        while self._files:
            path, _size = self._files[0]
            try:
                body = path.read_bytes()
            except OSError:
                self.pop()
                continue
            _seq, kind, rest = path.name.split("-", 2)
            count = int(rest.split(".", 1)[0])
            return Batch(kind, body, count, path.name.endswith(".gz"), ".arrow" in path.name)
        return None

    def pop(self) -> None:
        path, size = self._files.popleft()
        self._nbytes -= size
        path.unlink(missing_ok=True)

    def __len__(self) -> int:
        return len(self._files)

    @property
    def nbytes(self) -> int:
        return self._nbytes

    def close(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None
