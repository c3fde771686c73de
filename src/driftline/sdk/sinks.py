"""Where events go: the :class:`Sink` protocol, an in-memory sink and a JSON-lines file.

The HTTP collector sink lives in :mod:`driftline.sdk.http_sink`. A sink's
``write`` is only ever called from the shipper thread, so sinks need no locks
of their own beyond what readers on other threads need.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any, Protocol

from driftline.sdk.events import KINDS, encode_json, encode_lines


class DeliveryReport(Protocol):
    """What a sink tells the Monitor about delivery; backed by metrics and counters."""

    def sent(self, kind: str, count: int) -> None: ...

    def dropped(self, reason: str, count: int) -> None: ...

    def spooled(self, count: int) -> None: ...

    def failed(self) -> None: ...

    def spool_size(self, nbytes: int) -> None: ...


class Sink(Protocol):
    """Receives batches of wire records of one kind, on the shipper thread."""

    def open(self, report: DeliveryReport) -> None:
        """Called once by the Monitor before the first write."""
        ...

    def write(self, kind: str, records: list[dict[str, Any]]) -> None:
        """Deliver (or spool) one batch; must not raise for delivery problems."""
        ...

    def pump(self, force: bool) -> None:
        """Retry what is waiting when it is due (``force``: now, ignoring backoff)."""
        ...

    def pending(self) -> int:
        """Batches accepted but not yet delivered."""
        ...

    def close(self) -> None:
        """Release resources; batches still pending are counted by the sink."""
        ...


class _NullReport:
    def sent(self, kind: str, count: int) -> None:
        pass

    def dropped(self, reason: str, count: int) -> None:
        pass

    def spooled(self, count: int) -> None:
        pass

    def failed(self) -> None:
        pass

    def spool_size(self, nbytes: int) -> None:
        pass


class MemorySink:
    """Keeps every record in memory, by kind; for tests and notebooks (unbounded)."""

    def __init__(self) -> None:
        self._records: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
        self._lock = threading.Lock()
        self._report: DeliveryReport = _NullReport()

    def open(self, report: DeliveryReport) -> None:
        self._report = report

    def write(self, kind: str, records: list[dict[str, Any]]) -> None:
        # A JSON round trip, so tests see exactly what a collector would.
        decoded = json.loads(encode_json(records))
        with self._lock:
            self._records.setdefault(kind, []).extend(decoded)
        self._report.sent(kind, len(records))

    def pump(self, force: bool) -> None:
        pass

    def pending(self) -> int:
        return 0

    def close(self) -> None:
        pass

    def records(self, kind: str = "prediction") -> list[dict[str, Any]]:
        """A copy of the records of ``kind`` received so far."""
        with self._lock:
            return list(self._records.get(kind, []))

    @property
    def events(self) -> list[dict[str, Any]]:
        return self.records("prediction")

    @property
    def labels(self) -> list[dict[str, Any]]:
        return self.records("label")

    @property
    def feedback(self) -> list[dict[str, Any]]:
        return self.records("feedback")

    @property
    def kpis(self) -> list[dict[str, Any]]:
        return self.records("kpi")

    @property
    def jobs(self) -> list[dict[str, Any]]:
        return self.records("job_run")

    def clear(self) -> None:
        with self._lock:
            for records in self._records.values():
                records.clear()


class JSONLinesSink:
    """One JSON object per line in a file that rotates at ``max_bytes``.

    ``events.jsonl`` is renamed ``events.jsonl.1`` (and ``.1`` to ``.2`` ...)
    when it would grow past ``max_bytes``; ``backups`` old files are kept.
    Every kind goes to the same file; the ``type`` field tells them apart.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, max_bytes: int = 100 * 2**20, backups: int = 5
    ) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.backups = backups
        self._file: Any = None
        self._size = 0
        self._report: DeliveryReport = _NullReport()

    def open(self, report: DeliveryReport) -> None:
        self._report = report
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._reopen()

    def _reopen(self) -> None:
        self._file = open(self.path, "ab")  # noqa: SIM115 - kept open across writes
        self._size = self._file.tell()

    def _rotate(self) -> None:
        self._file.close()
        for i in range(self.backups - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{i}")
            if older.exists():
                os.replace(older, self.path.with_name(f"{self.path.name}.{i + 1}"))
        if self.backups > 0:
            os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))
        else:
            self.path.unlink(missing_ok=True)
        self._reopen()

    def write(self, kind: str, records: list[dict[str, Any]]) -> None:
        if self._file is None:
            self.open(self._report)
        for line in encode_lines(records):
            if self._size > 0 and self._size + len(line) + 1 > self.max_bytes:
                self._rotate()
            self._file.write(line + b"\n")
            self._size += len(line) + 1
        self._file.flush()
        self._report.sent(kind, len(records))

    def pump(self, force: bool) -> None:
        pass

    def pending(self) -> int:
        return 0

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
