"""One segment of one window: a dataset profile plus operational counters."""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from typing import Any, Self

import numpy as np
import pyarrow as pa

from driftline.schema import Schema
from driftline.stats._codec import pack, unpack
from driftline.stats.accumulators import Moments, QuantileSketch
from driftline.stats.accumulators.histogram import LogHistogram
from driftline.stats.profile import DatasetProfile
from driftline.windows.abuse import BurstCounter
from driftline.windows.columns import EventBlock
from driftline.windows.review import ReviewCandidates
from driftline.windows.service import ServiceStats

FORMAT_VERSION = 1


class WindowStats:
    """Accumulator of a window segment: ``update(events)``, ``merge``, ``to_bytes``.

    Updates buffer whole :class:`EventBlock` s (columns, not event objects);
    :meth:`fold` folds the buffer into the counters and the profile in one
    vectorised update (the counters are read after a fold, as ``merge`` and
    ``to_bytes`` do).
    Feature names outside the schema are counted, for at most
    ``max_unknown`` distinct names.
    """

    _KIND = "window_stats"

    def __init__(
        self, schema: Schema, reservoir_size: int = 1000, seed: int = 0, max_unknown: int = 100
    ) -> None:
        self.profile = DatasetProfile(schema, reservoir_size)
        self.max_unknown = max_unknown
        self.n_events = 0
        self.n_errors = 0
        self.n_shadow = 0
        self.latency = Moments()
        self.latency_q = QuantileSketch()
        #: exact counts of latency on fixed log-linear buckets: windows merge into exact
        #: range quantiles (None: merged from a partial saved before it existed)
        self.latency_h: LogHistogram | None = LogHistogram()
        self.unknown: dict[str, int] = {}
        self._buffer: list[EventBlock] = []
        self._buffered = 0
        self._rng = np.random.default_rng(seed)
        #: rows given an outlier score, and those above the outlier model's threshold
        self.n_scored = 0
        self.n_outliers = 0
        #: events that record an LLM request (the evaluator then writes windows/llm.py's points)
        self.n_llm = 0
        #: near-identical requests per client (windows/abuse.py)
        self.bursts = BurstCounter()
        #: stages, resources, error groups, input checks (windows/service.py)
        self.service = ServiceStats(seed)
        #: the window's most anomalous flagged events (windows/review.py)
        self.review = ReviewCandidates()

    def update(self, batch: EventBlock | Sequence[Mapping[str, Any]]) -> Self:
        """Add a block (or validated events) to the buffer; fold with :meth:`fold`."""
        if isinstance(batch, EventBlock):
            block = batch
        else:
            block = EventBlock.of(self.profile.schema, batch)
        if block.n_rows:
            self._buffer.append(block)
            self._buffered += block.n_rows
        return self

    @property
    def buffered(self) -> int:
        return self._buffered

    def take_buffer(self) -> list[EventBlock]:
        """Detach the buffered blocks (to fold with :meth:`fold_blocks`, maybe elsewhere).

        The live windows take the buffer under their ingest lock, an exact cut
        at a batch number, and fold it outside that lock.
        """
        blocks, self._buffer, self._buffered = self._buffer, [], 0
        return blocks

    def fold(self) -> Self:
        """Fold the buffered rows into the profile (one vectorised update)."""
        return self.fold_blocks(self.take_buffer())

    def fold_blocks(self, blocks: list[EventBlock]) -> Self:
        """Fold ``blocks`` (from :meth:`take_buffer`) into the counters and the profile."""
        if not blocks:
            return self
        for block in blocks:
            self.n_events += block.n_rows
            self.n_errors += int(np.count_nonzero(block.error))
            self.n_shadow += int(np.count_nonzero(block.shadow))
            if block.outliers is not None:
                self.n_scored += int(block.outliers.size)
                self.n_outliers += int(np.count_nonzero(block.outliers))
            if block.llm is not None:
                self.n_llm += int(np.count_nonzero(block.llm))
            if block.clients:
                self.bursts.update(block.clients.values())
            if block.service is not None:
                self.service.fold(block.service)
            if block.review:
                self.review.update(block.review)
            for names in block.unknown.values():
                for k in names:
                    if k in self.unknown or len(self.unknown) < self.max_unknown:
                        self.unknown[k] = self.unknown.get(k, 0) + 1
        # a block with odd values may carry a column as text: fold runs of equal schemas
        runs: list[list[pa.Table]] = []
        for b in blocks:
            if runs and runs[-1][0].schema.equals(b.table.schema):
                runs[-1].append(b.table)
            else:
                runs.append([b.table])
        for run in runs:
            table = run[0] if len(run) == 1 else pa.concat_tables(run).combine_chunks()
            self.profile.update(table, self._rng)
        lat = np.concatenate([b.latency for b in blocks])
        lat = lat[~np.isnan(lat)]
        if lat.size:
            self.latency.update(lat)
            self.latency_q.update(lat, self._rng)
            if self.latency_h is not None:
                self.latency_h.update(lat)
        return self

    def merge(self, other: WindowStats) -> Self:
        self.fold()
        other.fold()
        self.profile.merge(other.profile)
        self.n_events += other.n_events
        self.n_errors += other.n_errors
        self.n_shadow += other.n_shadow
        self.n_scored += other.n_scored
        self.n_outliers += other.n_outliers
        self.n_llm += other.n_llm
        self.bursts.merge(other.bursts)
        self.review.update(other.review.items)
        self.latency.merge(other.latency)
        self.latency_q.merge(other.latency_q)
        if self.latency_h is not None and other.latency_h is not None:
            self.latency_h.merge(other.latency_h)
        else:
            self.latency_h = None
        self.service.merge(other.service)
        for k, n in other.unknown.items():
            self.unknown[k] = self.unknown.get(k, 0) + n
        return self

    def to_bytes(self) -> bytes:
        return self.fold().folded_bytes()

    def folded_bytes(self) -> bytes:
        """The folded state only (the buffer is left alone): see :meth:`take_buffer`."""
        scalars = {
            "n_events": self.n_events,
            "n_errors": self.n_errors,
            "n_shadow": self.n_shadow,
            "unknown": self.unknown,
            "n_scored": self.n_scored,
            "n_outliers": self.n_outliers,
            "n_llm": self.n_llm,
            "bursts": self.bursts.to_dict(),
            "review": self.review.items,
        }
        arrays = {
            "profile": np.frombuffer(self.profile.to_bytes(), dtype=np.uint8),
            "latency": np.frombuffer(self.latency.to_bytes(), dtype=np.uint8),
            "latency_q": np.frombuffer(self.latency_q.to_bytes(), dtype=np.uint8),
        }
        if self.latency_h is not None:
            arrays["latency_h"] = np.frombuffer(self.latency_h.to_bytes(), dtype=np.uint8)
        if not self.service.empty:
            arrays["service"] = np.frombuffer(self.service.to_bytes(), dtype=np.uint8)
        return pack(self._KIND, FORMAT_VERSION, scalars, arrays)

    @classmethod
    def from_bytes(cls, data: bytes) -> WindowStats:
        _, s, a = unpack(cls._KIND, data, FORMAT_VERSION)
        profile = DatasetProfile.from_bytes(a["profile"].tobytes())
        out = cls(profile.schema, profile.reservoir_size)
        out.profile = profile
        out.n_events = int(s["n_events"])
        out.n_errors = int(s["n_errors"])
        out.n_shadow = int(s["n_shadow"])
        out.unknown = {str(k): int(v) for k, v in s["unknown"].items()}
        out.n_scored = int(s.get("n_scored", 0))  # absent in partials saved before outliers
        out.n_outliers = int(s.get("n_outliers", 0))
        out.n_llm = int(s.get("n_llm", 0))  # absent in partials saved before LLM signals
        out.bursts = BurstCounter.from_dict(s.get("bursts"))
        out.review = ReviewCandidates().update(
            (float(sc), str(eid)) for sc, eid in s.get("review") or []
        )
        out.latency = Moments.from_bytes(a["latency"].tobytes())
        out.latency_q = QuantileSketch.from_bytes(a["latency_q"].tobytes())
        out.latency_h = _latency_h(a)
        if "service" in a:  # absent in partials saved before stages or with none
            out.service = ServiceStats.from_bytes(a["service"].tobytes())
        return out


def _latency_h(arrays: Mapping[str, Any]) -> LogHistogram | None:
    # absent in partials saved before latency histograms (or merged with one)
    h = arrays.get("latency_h")
    return LogHistogram.from_bytes(h.tobytes()) if h is not None else None


def latency_histogram(data: bytes, segment: str) -> LogHistogram | bool | None:
    """The latency histogram of ``segment`` in a saved partial (:func:`pack_segments`),
    without decoding its profiles: None if the partial predates them, False if it has
    no such segment."""
    _, _, a = unpack("window_partial", zlib.decompress(data), FORMAT_VERSION)
    seg = a.get(f"seg:{segment}")
    if seg is None:
        return False
    _, _, arrays = unpack(WindowStats._KIND, seg.tobytes(), FORMAT_VERSION)
    return _latency_h(arrays)


def pack_segments(segments: Mapping[str, WindowStats], folded: bool = False) -> bytes:
    """The segments as one blob; ``folded``: their folded state only, buffers left alone."""
    arrays = {
        f"seg:{k}": np.frombuffer(v.folded_bytes() if folded else v.to_bytes(), dtype=np.uint8)
        for k, v in segments.items()
    }
    return zlib.compress(pack("window_partial", FORMAT_VERSION, {"n": len(arrays)}, arrays), 1)


def unpack_segments(data: bytes) -> dict[str, WindowStats]:
    _, _, a = unpack("window_partial", zlib.decompress(data), FORMAT_VERSION)
    return {k[4:]: WindowStats.from_bytes(v.tobytes()) for k, v in a.items()}
