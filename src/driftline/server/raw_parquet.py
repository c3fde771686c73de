"""Raw prediction events as Parquet, partitioned by model, version and date (docs/collector.md).

    ingest ──add(new events)──> in-memory buffer ──background thread, every flush_seconds──>
        <root>/model=<m>/version=<v>/date=<YYYY-MM-DD>/part-<replica>-<n>.parquet

Each file is written to a temporary name and renamed, so a reader (Spark,
DuckDB, a warehouse's external table with Hive partitioning) never sees half a
file. Only new events are added (a duplicate ``event_id`` is not written
twice by one replica). The ingest path only appends to a list; the writing
happens on the writer's thread. When a write fails (full disk, no permission)
the rows stay buffered, up to ``max_buffered_rows``, and are retried at the
next flush; past that bound the oldest are dropped and counted
(``driftline_raw_parquet_rows_total{outcome="dropped"}``): the events stay in
the store either way, and the collector keeps serving.

Columns: event_id, prediction_id (strings), ts (timestamp[us, UTC], the event's
time), received_at (float seconds), status, shadow, latency_ms, error_type, and
features, prediction, scores, segment, tags as JSON text (their shapes vary by
model; ``json_extract`` in DuckDB, ``from_json`` in Spark). The partition
columns are model, version and date (the event's UTC date).
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson

log = logging.getLogger("driftline.server")

__all__ = ["SCHEMA_FIELDS", "RawParquetWriter"]

#: The files' columns (the partition columns model, version, date come from the path).
SCHEMA_FIELDS = (
    "event_id", "prediction_id", "ts", "received_at", "status", "shadow", "latency_ms",
    "error_type", "features", "prediction", "scores", "segment", "tags",
)  # fmt: skip
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def _part(value: str) -> str:
    """A partition value safe in a path (Hive-style escaping of other characters)."""
    return _UNSAFE.sub(lambda m: f"%{ord(m.group()):02X}", value) or "%00"


class RawParquetWriter:
    """Buffers new prediction events and writes them as partitioned Parquet in the background."""

    def __init__(
        self,
        root: str | Path,
        *,
        replica: str,
        flush_seconds: float = 60.0,
        max_buffered_rows: int = 1_000_000,
        registry: Any = None,
    ) -> None:
        from prometheus_client import Counter

        self.root = Path(root)
        self.replica = _part(replica)
        self.flush_seconds = flush_seconds
        self.max_buffered_rows = max_buffered_rows
        self._rows: list[tuple[dict[str, Any], float]] = []
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._seq = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None
        self.counter = Counter(
            "driftline_raw_parquet_rows",
            "Raw prediction events written as Parquet, by outcome (written, dropped after "
            "failed writes filled the buffer).",
            ["outcome"],
            registry=registry,
        )
        for outcome in ("written", "dropped"):
            self.counter.labels(outcome)

    def add(self, events: list[dict[str, Any]], received_at: float) -> None:
        """Queue validated prediction events (the ingest path: an append, no I/O)."""
        if events:
            with self._lock:
                self._rows.extend((e, received_at) for e in events)

    def start(self) -> RawParquetWriter:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._loop, name="driftline-parquet", daemon=True
            )
            self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.flush_seconds):
            self.flush()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.flush()

    def flush(self) -> int:
        """Write what is buffered; return the rows written (failures keep the rows)."""
        with self._flush_lock:
            with self._lock:
                rows, self._rows = self._rows, []
            if not rows:
                return 0
            groups: dict[tuple[str, str, str], list[tuple[dict[str, Any], float]]] = {}
            for e, at in rows:
                day = datetime.fromtimestamp(float(e["ts"]), tz=timezone.utc).strftime("%Y-%m-%d")
                groups.setdefault((str(e["model"]), str(e["version"]), day), []).append((e, at))
            written, failed = 0, []
            for key, part in groups.items():
                try:
                    self._write(key, part)
                    written += len(part)
                except OSError as exc:
                    self.last_error = f"{type(exc).__name__}: {exc}"
                    log.warning("driftline: cannot write raw events as Parquet under %s (%s); "
                                "kept in memory, retried", self.root, self.last_error)  # fmt: skip
                    failed += part
            self.counter.labels("written").inc(written)
            if failed:
                with self._lock:
                    self._rows[:0] = failed
                    over = len(self._rows) - self.max_buffered_rows
                    if over > 0:
                        del self._rows[:over]
                        self.counter.labels("dropped").inc(over)
            return written

    def _write(self, key: tuple[str, str, str], rows: list[tuple[dict[str, Any], float]]) -> Path:
        import pyarrow as pa
        import pyarrow.parquet as pq

        model, version, day = key
        folder = self.root / f"model={_part(model)}" / f"version={_part(version)}" / f"date={day}"
        folder.mkdir(parents=True, exist_ok=True)

        events = [e for e, _ in rows]

        def js(v: Any) -> str | None:
            return None if v is None else orjson.dumps(v).decode()

        table = pa.table(
            {
                "event_id": pa.array([e["event_id"] for e in events], pa.string()),
                "prediction_id": pa.array([e["prediction_id"] for e in events], pa.string()),
                "ts": pa.array(
                    [int(float(e["ts"]) * 1_000_000) for e in events], pa.timestamp("us", "UTC")
                ),
                "received_at": pa.array([at for _, at in rows], pa.float64()),
                "status": pa.array([e.get("status", "ok") for e in events], pa.string()),
                "shadow": pa.array([bool(e.get("shadow")) for e in events], pa.bool_()),
                "latency_ms": pa.array([e.get("latency_ms") for e in events], pa.float64()),
                "error_type": pa.array([e.get("error_type") for e in events], pa.string()),
                **{
                    name: pa.array([js(e.get(name)) for e in events], pa.string())
                    for name in ("features", "prediction", "scores", "segment", "tags")
                },
            }
        )
        self._seq += 1
        name = f"part-{self.replica}-{int(time.time() * 1000)}-{self._seq:06d}"
        tmp = folder / f".{name}.{uuid.uuid4().hex[:6]}.tmp"
        try:
            pq.write_table(table, tmp, compression="zstd")
            os.replace(tmp, folder / f"{name}.parquet")
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return folder / f"{name}.parquet"
