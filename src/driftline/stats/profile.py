"""Dataset profiles: the column profiles of a table, its row count and duplicate estimate.

:class:`DatasetProfile` updates its :class:`~driftline.stats.column_profile.ColumnProfile`
objects from Arrow batches (several columns at once), merges, serialises and
saves; :func:`build_profile` profiles dataframes, tables and files in batches.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor, wait
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from typing_extensions import Self

from driftline.errors import InputError, ProfileFormatError
from driftline.schema import ColumnSpec, Role, Schema, check_spec, settle_task
from driftline.stats._codec import pack, unpack
from driftline.stats.accumulators import (
    DistinctCount,
    bottom_k_keys,
    mix64,
)
from driftline.stats.accumulators._kernels import kernels
from driftline.stats.column_profile import (
    CATEGORY_KINDS,
    FORMAT_VERSION,
    NUMERIC_KINDS,
    ColumnProfile,
)
from driftline.stats.performance.profile_part import PerformancePart, PerformanceSpec

_ROW_MULT = np.uint64(0xD6E8FEB86659FD93)
#: Columns profiled at once (numpy, Arrow and the kernels release the GIL).
_WORKERS = max(2, min(os.cpu_count() or 2, 8))
#: The seed of the samples when none is given: same input, same profile, in any process.
DEFAULT_SEED = 0
#: Dataset profiles with a performance part are written as version 2; without one
#: as version 1, which every driftline reads.
DATASET_FORMAT_VERSION = 2
#: Rows :func:`build_profile` keeps of the columns performance estimation is fitted on
#: (target, prediction, scores; features too for regression), so that CBPE/DLE fitted on
#: a reference profile see every row of references up to this size (issue 12, item 6).
ESTIMATION_ROWS = 100_000

__all__ = [
    "CATEGORY_KINDS",
    "NUMERIC_KINDS",
    "ColumnProfile",
    "DatasetProfile",
    "build_profile",
    "is_profile_file",
    "resolve_schema",
]


@cache
def _pool(pid: int) -> ThreadPoolExecutor:
    """The column workers of this process (``pid``: a forked child makes its own).

    One pool for every update: a pool per update cost 0.4-0.8 ms of CPU (threads
    started and joined), a tenth of a small fold's (a segment's few thousand rows).
    """
    return ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="driftline-profile")


class DatasetProfile:
    """One :class:`ColumnProfile` per column, the row count and a duplicate-row estimate.

    With a target and a prediction (or score) column in the schema it also
    keeps the realized prediction quality, ``performance``: a
    :class:`~driftline.stats.performance.profile_part.PerformancePart`
    (``performance="auto"`` infers it from the roles; pass a
    :class:`PerformanceSpec` to set the task or classes, or None for none).

    ``estimation_size``: with a performance part, the columns CBPE/DLE are
    fitted on (target, prediction, scores, and the features of a regression
    model) keep a uniform sample of this many rows instead of
    ``reservoir_size`` (None: the same). The two samples are nested: the
    other columns' sample is the part of the larger one with the smallest
    keys, so joint samples across all columns still line up.
    """

    _KIND = "dataset"

    def __init__(
        self,
        schema: Schema,
        reservoir_size: int = 10_000,
        performance: PerformanceSpec | str | None = "auto",
        estimation_size: int | None = None,
    ) -> None:
        self.schema = schema
        self.reservoir_size = reservoir_size
        self.n_rows = 0
        self.rows = DistinctCount(p=14)
        self.mixed_type_columns: set[str] = set()
        if performance == "auto":
            performance = PerformanceSpec.infer(schema, strict=False)
        elif performance is not None and not isinstance(performance, PerformanceSpec):
            raise InputError(
                f"performance: expected 'auto', a PerformanceSpec or None, got {performance!r}"
            )
        self.performance = None if performance is None else PerformancePart(performance)
        big = max(estimation_size or 0, reservoir_size)
        spec = self.performance.spec if self.performance is not None else None
        wide = estimation_columns(schema, spec) if big > reservoir_size else set()
        self.columns: dict[str, ColumnProfile] = {
            s.name: ColumnProfile(s, big if s.name in wide else reservoir_size) for s in schema
        }

    @property
    def estimation_size(self) -> int:
        """Rows the largest column sample keeps (``reservoir_size`` unless widened)."""
        return max([self.reservoir_size, *(c.reservoir.size for c in self.columns.values())])

    def __repr__(self) -> str:
        return f"DatasetProfile(rows={self.n_rows}, columns={len(self.columns)})"

    def _repr_html_(self) -> str:
        """Jupyter's view: one row per column (kind, role, missing, distinct, values)."""
        from driftline.stats.profile_view import profile_html

        return profile_html(self)

    def __getitem__(self, name: str) -> ColumnProfile:
        try:
            return self.columns[name]
        except KeyError:
            raise KeyError(f"no column {name!r} in this profile") from None

    @property
    def duplicate_rows(self) -> int:
        """Estimated rows that repeat an earlier row (all columns but embeddings)."""
        if self.n_rows == 0:
            return 0
        return max(0, round(self.n_rows - min(self.rows.estimate, self.n_rows)))

    @property
    def duplicate_ratio(self) -> float:
        return self.duplicate_rows / self.n_rows if self.n_rows else math.nan

    def update(self, table: pa.Table, rng: np.random.Generator | None = None) -> Self:
        """Fold one Arrow table (all columns of the schema) in."""
        gen = rng if rng is not None else np.random.default_rng()
        n = table.num_rows
        if n == 0:
            return self
        present = set(table.column_names)  # a set: ``column_names`` is a new list per call
        missing = [c for c in self.columns if c not in present]
        if missing:
            raise InputError(f"batch lacks column(s) {', '.join(missing)} of the profile")
        if self.performance is not None:  # first: it checks everything before changing state
            self.performance.update(table)
        size = self.reservoir_size
        idx, keys = bottom_k_keys(n, self.estimation_size, gen)
        small_idx, small_keys = idx, keys
        if idx.size > size:  # the usual sample: the smallest keys of the wider one
            keep = np.argpartition(keys, size - 1)[:size]
            small_idx, small_keys = idx[keep], keys[keep]
        names = list(self.columns)
        seeds = gen.integers(0, 2**63, size=len(names))

        def work(i: int) -> np.ndarray | None:
            col = self.columns[names[i]]
            wide = col.reservoir.size > size
            return col.update(
                table.column(names[i]),
                idx if wide else small_idx,
                keys if wide else small_keys,
                np.random.default_rng(int(seeds[i])),
            )

        row_hash = np.zeros(n, dtype=np.uint64)
        fused = kernels(n)
        jobs = [_pool(os.getpid()).submit(work, i) for i in range(len(names))]
        try:
            for job in jobs:
                codes = job.result()
                if codes is None:
                    continue
                if fused is not None:
                    fused.row_combine(row_hash, codes, _ROW_MULT)
                else:
                    row_hash *= _ROW_MULT
                    row_hash ^= codes
        finally:  # no column is still being updated once this returns or raises
            wait(jobs)
        if fused is not None:
            fused.mix_inplace(row_hash)
            fused.hll_update(self.rows.registers, row_hash, self.rows.p)
        else:
            self.rows.update_hashes(mix64(row_hash))
        self.n_rows += n
        return self

    def merge(self, other: DatasetProfile) -> Self:
        """Fold another profile of the same columns in (columns on one side only are an error)."""
        if set(other.columns) != set(self.columns):
            only_a = sorted(set(self.columns) - set(other.columns))
            only_b = sorted(set(other.columns) - set(self.columns))
            raise InputError(
                f"cannot merge profiles with different columns: only in this one {only_a}, "
                f"only in the other {only_b}"
            )
        self._merge_performance(other)
        for name, col in other.columns.items():
            self.columns[name].merge(col)
        self.n_rows += other.n_rows
        self.rows.merge(other.rows)
        self.mixed_type_columns |= other.mixed_type_columns
        return self

    def _merge_performance(self, other: DatasetProfile) -> None:
        mine, theirs = self.performance, other.performance
        if theirs is None or (mine is None and other.n_rows == 0):
            if mine is not None and other.n_rows and theirs is None:
                raise InputError(
                    "cannot merge a profile with performance state with one without it "
                    "(profiled with performance=None, or saved by an older driftline)"
                )
            return
        if mine is None:
            if self.n_rows:
                raise InputError(
                    "cannot merge a profile without performance state with one with it"
                )
            self.performance = PerformancePart.from_bytes(theirs.to_bytes())
            return
        mine.merge(theirs)

    def to_bytes(self) -> bytes:
        arrays = {
            f"col:{name}": np.frombuffer(c.to_bytes(), dtype=np.uint8)
            for name, c in self.columns.items()
        }
        arrays["rows"] = np.frombuffer(self.rows.to_bytes(), dtype=np.uint8)
        scalars = {
            "n_rows": self.n_rows,
            "reservoir_size": self.reservoir_size,
            "columns": list(self.columns),
            "mixed_type_columns": sorted(self.mixed_type_columns),
        }
        version = FORMAT_VERSION
        if self.performance is not None:
            arrays["performance"] = np.frombuffer(self.performance.to_bytes(), dtype=np.uint8)
            version = DATASET_FORMAT_VERSION
        return pack(self._KIND, version, scalars, arrays)

    @classmethod
    def from_bytes(cls, data: bytes) -> DatasetProfile:
        _, s, a = unpack(cls._KIND, data, DATASET_FORMAT_VERSION)
        cols = [ColumnProfile.from_bytes(a[f"col:{n}"].tobytes()) for n in s["columns"]]
        p = cls(Schema.from_specs(c.spec for c in cols), int(s["reservoir_size"]), None)
        if "performance" in a:
            p.performance = PerformancePart.from_bytes(a["performance"].tobytes())
        p.columns = {c.name: c for c in cols}
        p.n_rows = int(s["n_rows"])
        p.rows = DistinctCount.from_bytes(a["rows"].tobytes())
        p.mixed_type_columns = set(s["mixed_type_columns"])
        return p

    def save(self, path: str | Path) -> Path:
        """Write the profile to ``path`` (conventionally ``*.profile``)."""
        p = Path(path)
        p.write_bytes(self.to_bytes())
        return p

    @classmethod
    def load(cls, path: str | Path) -> DatasetProfile:
        p = Path(path)
        try:
            data = p.read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read profile {p}: {exc.strerror}") from exc
        try:
            return cls.from_bytes(data)
        except ProfileFormatError as exc:
            raise ProfileFormatError(f"{p}: {exc}") from exc


def is_profile_file(path: str | Path) -> bool:
    """True when ``path`` holds a serialised DatasetProfile (checks the magic bytes)."""
    try:
        with Path(path).open("rb") as fh:
            head = fh.read(13)
    except OSError:
        return False
    return head[:4] == b"DLA1" and head[6:13] == b"dataset"


def estimation_columns(schema: Schema, performance: PerformanceSpec | None) -> set[str]:
    """The columns CBPE/DLE are fitted on: target, prediction, scores (+ features for DLE)."""
    if performance is None:
        return set()
    out = set(performance.columns)
    if performance.task == "regression":
        out |= {s.name for s in schema if s.role is Role.FEATURE}
    return out & set(schema.names)


def build_profile(
    data: Any,
    schema: Schema | dict[str, Any] | str | Path | None = None,
    *,
    reservoir_size: int = 10_000,
    seed: int | None = None,
    batch_rows: int | None = None,
    progress: Any = None,
    performance: PerformanceSpec | str | Callable[[Schema], Any] | None = "auto",
    task: str | None = None,
    like: Schema | None = None,
    estimation_size: int | None = ESTIMATION_ROWS,
) -> DatasetProfile:
    """Profile ``data`` in one pass; see :func:`driftline.profile`.

    ``performance``: "auto" (from the schema's roles), a :class:`PerformanceSpec`
    or None; a callable gets the resolved schema and returns one of those.
    ``seed`` seeds the samples (reservoirs, large-batch quantile draws); None is
    :data:`DEFAULT_SEED`, so the same data always gives the same profile.
    ``task`` and ``like`` (the reference's schema): see :func:`resolve_schema`.
    ``estimation_size``: rows kept of the columns CBPE/DLE are fitted on
    (:data:`ESTIMATION_ROWS` by default; see :class:`DatasetProfile`).
    """
    from driftline.io import DEFAULT_BATCH_ROWS, open_source

    source = open_source(data, batch_rows or DEFAULT_BATCH_ROWS)
    rng = np.random.default_rng(DEFAULT_SEED if seed is None else seed)
    performance = with_task(performance, task)
    prof: DatasetProfile | None = None
    for table in source.batches():
        if prof is None:  # the first batch is the sample the schema is inferred from
            resolved = resolve_schema(schema, source.schema, table, task, like)
            perf = performance(resolved) if callable(performance) else performance
            prof = DatasetProfile(resolved, reservoir_size, perf, estimation_size)
        prof.update(table.select(prof.schema.names), rng)
        if progress is not None:
            progress(table.num_rows)
    if prof is None:  # no batch at all: an empty file or frame
        resolved = resolve_schema(schema, source.schema, None, task, like)
        perf = performance(resolved) if callable(performance) else performance
        prof = DatasetProfile(resolved, reservoir_size, perf, estimation_size)
    prof.mixed_type_columns = set(source.mixed_columns)
    return prof


def with_task(performance: Any, task: str | None) -> Any:
    """``performance="auto"`` with an explicit ``task``: the spec infers with that task."""
    if task is None or not (isinstance(performance, str) and performance == "auto"):
        return performance
    return lambda schema: PerformanceSpec.infer(schema, task=task)


def resolve_schema(
    schema: Any,
    arrow_schema: pa.Schema,
    sample: Any = None,
    task: str | None = None,
    like: Schema | None = None,
) -> Schema:
    """Infer a schema from the data and apply the user's overrides (object, dict or YAML path).

    ``sample`` is a table of the first rows (or a :class:`driftline.io.Source`,
    whose first batch is then read): kinds and roles are inferred from it.
    ``like`` is the reference's schema when this is the current side: its
    kind and role are taken for every shared column whose type allows them,
    so a column is read the same way on both sides (an all-empty current
    target stays the reference's classes), and a target column the current
    data lacks (labels come later) is no error. The target's and prediction's
    kinds then follow the task (``task``, or what the roles and values imply:
    :func:`driftline.schema.settle_task`).
    """
    if sample is not None and not isinstance(sample, pa.Table):
        sample = next(iter(sample.batches()), None)
    if sample is not None and sample.num_rows > 1000:
        sample = sample.slice(0, 1000)
    inferred = Schema.infer(arrow_schema, sample)
    overrides: Any = {}
    if isinstance(schema, Schema):
        overrides = schema.columns
    elif isinstance(schema, str | Path):
        overrides = _yaml_of(schema)
    elif schema is not None:
        overrides = dict(schema).get("columns", schema)
    explicit = [
        str(c)
        for c, spec in (overrides.items() if isinstance(overrides, Mapping) else [])
        if not isinstance(spec, Mapping) or "kind" in spec
    ]
    if like is not None:
        inferred = _follow(inferred, like, arrow_schema)
        explicit += [c for c in like.names if c in arrow_schema.names]
        absent = absent_targets(like, overrides, arrow_schema.names)
        if absent and isinstance(overrides, Mapping):
            overrides = {c: s for c, s in overrides.items() if c not in absent}
    resolved = inferred.override(overrides, arrow_schema, sample) if overrides else inferred
    return settle_task(resolved, arrow_schema, sample, task, explicit)


def absent_targets(like: Schema | None, overrides: Any, names: list[str]) -> set[str]:
    """Target columns (by the reference or the overrides) that the current data lacks."""
    out = {c for c in (like.with_role(Role.TARGET) if like is not None else []) if c not in names}
    for c, spec in overrides.items() if isinstance(overrides, Mapping) else []:
        role = spec.role.value if isinstance(spec, ColumnSpec) else dict(spec).get("role")
        if c not in names and str(role).lower() == "target":
            out.add(str(c))
    return out


def _follow(inferred: Schema, like: Schema, arrow_schema: pa.Schema) -> Schema:
    from driftline.errors import SchemaError

    cols = dict(inferred.columns)
    for spec in like:
        if spec.name not in cols:
            continue
        try:
            check_spec(spec, arrow_schema.field(spec.name).type)
        except SchemaError:  # the type changed: the quality check says so
            continue
        cols[spec.name] = spec
    return Schema(cols)


def _yaml_of(path: str | Path) -> Any:
    from driftline._yaml import read_yaml
    from driftline.errors import SchemaError

    p = Path(path)
    data = read_yaml(p, what="schema file", error=SchemaError) or {}
    if not isinstance(data, dict):
        raise SchemaError(f"schema file {p} must hold a mapping of column -> {{kind, role}}")
    return data.get("columns", data)
