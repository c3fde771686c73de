"""Column and dataset profiles: bundles of mergeable accumulators.

A :class:`ColumnProfile` keeps, for one column: row count, missing values,
type errors, non-finite values, moments and min/max, a KLL quantile sketch, an
exact histogram on fixed log-linear buckets, category counts, a distinct-count
sketch and a reservoir sample. Which parts are used depends on the column's
kind: numeric and datetime columns use the numeric parts (datetimes as epoch
seconds), text columns the numeric parts over string length, embeddings the
numeric parts over the vector norm plus a mean vector, categorical and boolean
columns the category counts.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from typing_extensions import Self

from driftline.errors import InputError, ProfileFormatError
from driftline.schema import ColumnSpec, Kind, Role, Schema, type_family
from driftline.stats._codec import pack, unpack
from driftline.stats.accumulators import (
    CategoryCounts,
    DistinctCount,
    LogHistogram,
    Moments,
    QuantileSketch,
    Reservoir,
    bottom_k_keys,
    hash_floats,
    hash_strings,
    mix64,
)
from driftline.stats.accumulators._kernels import kernels
from driftline.stats.performance.profile_part import PerformancePart, PerformanceSpec

NUMERIC_KINDS = frozenset({Kind.NUMERIC, Kind.DATETIME, Kind.TEXT, Kind.EMBEDDING})
CATEGORY_KINDS = frozenset({Kind.CATEGORICAL, Kind.BOOLEAN})
_NULL_CODE = np.uint64(0x9E3779B97F4A7C15)
_ROW_MULT = np.uint64(0xD6E8FEB86659FD93)
#: Columns profiled at once (numpy, Arrow and the kernels release the GIL).
_WORKERS = max(2, min(os.cpu_count() or 2, 8))
FORMAT_VERSION = 1
#: Dataset profiles with a performance part are written as version 2; without one
#: as version 1, which every driftline reads.
DATASET_FORMAT_VERSION = 2


class ColumnProfile:
    """The accumulators of one column; see the module docstring for what each kind keeps."""

    _KIND = "column"

    def __init__(self, spec: ColumnSpec, reservoir_size: int = 10_000) -> None:
        self.spec = spec
        self.count = 0
        self.missing = 0
        self.type_errors = 0
        self.non_finite = 0
        self.numeric = spec.kind in NUMERIC_KINDS
        self.moments = Moments()
        self.quantiles = QuantileSketch()
        self.histogram = LogHistogram()
        self.categories = CategoryCounts()
        self.distinct = DistinctCount()
        self.reservoir = Reservoir(reservoir_size, numeric=self.numeric)
        self.embedding_sum: np.ndarray | None = None
        self.embedding_n = 0

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def kind(self) -> Kind:
        return self.spec.kind

    @property
    def present(self) -> int:
        """Values that are neither missing nor type errors."""
        return self.count - self.missing - self.type_errors

    @property
    def missing_ratio(self) -> float:
        return self.missing / self.count if self.count else math.nan

    # -- update ---------------------------------------------------------------

    def update(
        self,
        column: pa.ChunkedArray,
        sample_idx: np.ndarray,
        sample_keys: np.ndarray,
        rng: np.random.Generator,
    ) -> np.ndarray | None:
        """Fold one batch of this column in; return per-row 64-bit codes for row hashing."""
        n = len(column)
        self.count += n
        if self.spec.kind in CATEGORY_KINDS:
            return self._update_categorical(column, sample_idx, sample_keys)
        values, codes = self._numeric_values(column)
        fused = kernels(values.size) if codes is None else None
        if fused is not None:
            return self._update_numeric_fused(fused, values, sample_idx, sample_keys, rng)
        finite = np.isfinite(values)
        all_finite = bool(finite.all())
        n_nan = 0 if all_finite else int(np.count_nonzero(np.isnan(values)))
        self.missing += n_nan - self._type_errors_in_batch
        self.type_errors += self._type_errors_in_batch
        good = values if all_finite else values[finite]
        self.non_finite += n - n_nan - int(good.size)
        self.moments.update(good)
        self.quantiles.update(good, rng)
        self.histogram.update(good)
        if codes is None:
            if all_finite:
                codes = hash_floats(values)
                self.distinct.update_hashes(codes)
            else:
                self.distinct.update_hashes(hash_floats(good))
                # inf keeps its own code; every missing value shares one
                codes = hash_floats(np.where(np.isnan(values), np.inf, values))
                codes[np.isnan(values)] = _NULL_CODE
        self.reservoir.update(sample_keys, values[sample_idx])
        return codes

    _type_errors_in_batch = 0

    def _update_numeric_fused(
        self,
        fused: ModuleType,
        values: np.ndarray,
        sample_idx: np.ndarray,
        sample_keys: np.ndarray,
        rng: np.random.Generator,
    ) -> np.ndarray:
        """The numeric update in two compiled passes (see accumulators._kernels)."""
        values = np.ascontiguousarray(values, dtype=np.float64)
        n = int(values.size)
        n_finite, n_nan, total, lo, hi = fused.numeric_scan(values)
        self.missing += int(n_nan) - self._type_errors_in_batch
        self.type_errors += self._type_errors_in_batch
        self.non_finite += n - int(n_nan) - int(n_finite)
        codes = np.empty(n, dtype=np.uint64)
        if n_finite:
            mean = float(total) / int(n_finite)
            key_lo, key_hi = self.histogram.key_range(float(lo), float(hi))
            counts = np.zeros(key_hi - key_lo + 1, dtype=np.int64)
        else:
            mean, key_lo, counts = 0.0, 0, np.zeros(1, dtype=np.int64)
        m2, misses = fused.numeric_fill(
            values,
            mean,
            key_lo,
            self.histogram.shift,
            counts,
            self.distinct.registers,
            self.distinct.p,
            codes,
            _NULL_CODE,
        )
        if misses:  # an internal error: key_range and the kernel disagree
            raise RuntimeError(f"column {self.name!r}: {misses} values outside the histogram")
        if n_finite:
            self.moments.combine(int(n_finite), mean, float(m2), float(lo), float(hi))
            self.histogram.add_dense(key_lo, counts)
            good = values if n_finite == n else values[np.isfinite(values)]
            self.quantiles.update(good, rng)
        self.reservoir.update(sample_keys, values[sample_idx])
        return codes

    def _numeric_values(self, column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray | None]:
        """Float values (NaN = missing or unparseable) and, for derived kinds, row codes."""
        self._type_errors_in_batch = 0
        kind, fam = self.spec.kind, type_family(column.type)
        if kind is Kind.TEXT:
            strings = _as_strings(column)
            lengths = pc.utf8_length(strings)
            values = _to_float(lengths)
            codes, uniques = _string_codes(strings)
            self.distinct.update_hashes(uniques)
            return values, codes
        if kind is Kind.EMBEDDING:
            return self._embedding_norms(column), None
        if fam == "temporal":
            return _temporal_seconds(column), None
        if fam == "string":
            values, errors = _parse_numbers(column)
            self._type_errors_in_batch = errors
            return values, None
        return _to_float(column), None

    def _embedding_norms(self, column: pa.ChunkedArray) -> np.ndarray:
        arr = column.combine_chunks()
        n = len(arr)
        if isinstance(arr, pa.FixedSizeListArray) and arr.null_count == 0:
            dim = arr.type.list_size
            mat = _to_float(arr.flatten()).reshape(n, dim)
        else:
            lengths = _to_float(pc.list_value_length(arr))
            valid = ~np.isnan(lengths)
            dims, dim_counts = np.unique(lengths[valid], return_counts=True)
            # the first batch fixes the dimension: its most common vector length
            expected = (
                self.embedding_sum.size
                if self.embedding_sum is not None
                else (int(dims[np.argmax(dim_counts)]) if dims.size else 0)
            )
            ok = valid & (lengths == expected)
            self._type_errors_in_batch = int(np.count_nonzero(valid & ~ok))
            flat = _to_float(pc.list_flatten(arr.filter(pa.array(ok)))) if ok.any() else None
            mat = np.full((n, expected), np.nan)
            if flat is not None and expected:
                mat[ok] = flat.reshape(-1, expected)
            dim = expected
        norms = np.sqrt(np.einsum("ij,ij->i", mat, mat)) if dim else np.full(n, np.nan)
        rows = ~np.isnan(norms)
        if rows.any():
            part = mat[rows].sum(axis=0)
            self.embedding_sum = part if self.embedding_sum is None else self.embedding_sum + part
            self.embedding_n += int(rows.sum())
        return norms

    def _update_categorical(
        self, column: pa.ChunkedArray, sample_idx: np.ndarray, sample_keys: np.ndarray
    ) -> np.ndarray:
        strings = _as_strings(column)
        encoded = pc.dictionary_encode(strings).combine_chunks()
        dictionary = encoded.dictionary.to_pylist()
        idx = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)
        hashes = hash_strings(dictionary)
        fused = kernels(idx.size)
        codes: np.ndarray
        if fused is not None:
            counts = np.zeros(len(dictionary), dtype=np.int64)
            codes = np.empty(idx.size, dtype=np.uint64)
            n_null = int(fused.category_fill(idx, hashes, _NULL_CODE, counts, codes))
        else:
            idx = idx.astype(np.int64)
            nulls = idx < 0
            n_null = int(np.count_nonzero(nulls))
            counts = np.bincount(idx[~nulls] if n_null else idx, minlength=len(dictionary))
            codes = np.append(hashes, _NULL_CODE)[idx]
        self.missing += n_null
        keep = counts > 0
        self.categories.update_counts(
            [d for d, k in zip(dictionary, keep.tolist(), strict=True) if k], counts[keep]
        )
        self.distinct.update_hashes(hashes[keep])
        dict_arr = np.array([*dictionary, None], dtype=object)
        self.reservoir.update(sample_keys, dict_arr[idx[sample_idx]])
        return codes

    # -- merge / serialise ----------------------------------------------------

    def merge(self, other: ColumnProfile) -> Self:
        if other.spec.kind is not self.spec.kind:
            raise InputError(
                f"cannot merge profiles of column {self.name!r}: kind "
                f"{self.spec.kind.value} vs {other.spec.kind.value}"
            )
        self.count += other.count
        self.missing += other.missing
        self.type_errors += other.type_errors
        self.non_finite += other.non_finite
        self.moments.merge(other.moments)
        self.quantiles.merge(other.quantiles)
        self.histogram.merge(other.histogram)
        self.categories.merge(other.categories)
        self.distinct.merge(other.distinct)
        self.reservoir.merge(other.reservoir)
        if other.embedding_sum is not None:
            self.embedding_sum = (
                other.embedding_sum.copy()
                if self.embedding_sum is None
                else self.embedding_sum + other.embedding_sum
            )
            self.embedding_n += other.embedding_n
        return self

    def to_bytes(self) -> bytes:
        parts = {
            "moments": self.moments.to_bytes(),
            "quantiles": self.quantiles.to_bytes(),
            "histogram": self.histogram.to_bytes(),
            "categories": self.categories.to_bytes(),
            "distinct": self.distinct.to_bytes(),
            "reservoir": self.reservoir.to_bytes(),
        }
        arrays = {k: np.frombuffer(v, dtype=np.uint8) for k, v in parts.items()}
        if self.embedding_sum is not None:
            arrays["embedding_sum"] = self.embedding_sum
        scalars = {
            "name": self.spec.name,
            "kind": self.spec.kind.value,
            "role": self.spec.role.value,
            "count": self.count,
            "missing": self.missing,
            "type_errors": self.type_errors,
            "non_finite": self.non_finite,
            "embedding_n": self.embedding_n,
        }
        return pack(self._KIND, FORMAT_VERSION, scalars, arrays)

    @classmethod
    def from_bytes(cls, data: bytes) -> ColumnProfile:
        _, s, a = unpack(cls._KIND, data, FORMAT_VERSION)
        spec = ColumnSpec(str(s["name"]), Kind(s["kind"]), Role(s["role"]))
        c = cls(spec)
        c.count, c.missing = int(s["count"]), int(s["missing"])
        c.type_errors, c.non_finite = int(s["type_errors"]), int(s["non_finite"])
        c.embedding_n = int(s["embedding_n"])
        c.moments = Moments.from_bytes(a["moments"].tobytes())
        c.quantiles = QuantileSketch.from_bytes(a["quantiles"].tobytes())
        c.histogram = LogHistogram.from_bytes(a["histogram"].tobytes())
        c.categories = CategoryCounts.from_bytes(a["categories"].tobytes())
        c.distinct = DistinctCount.from_bytes(a["distinct"].tobytes())
        c.reservoir = Reservoir.from_bytes(a["reservoir"].tobytes())
        c.embedding_sum = a.get("embedding_sum")
        return c


def _as_strings(column: pa.ChunkedArray) -> pa.ChunkedArray:
    t = column.type
    if pa.types.is_dictionary(t):
        column = column.cast(t.value_type)
        t = column.type
    if pa.types.is_string(t):
        return column
    if pa.types.is_large_string(t):
        return column
    if pa.types.is_string_view(t):
        return column.cast(pa.string())
    if pa.types.is_boolean(t):
        return pc.if_else(column, "true", "false")
    if pa.types.is_floating(t):
        # 1.0 and 1 are the same category
        ints = pc.equal(column, pc.floor(column))
        as_int = pc.if_else(ints, column.cast(pa.int64(), safe=False).cast(pa.string()), None)
        return pc.coalesce(as_int, column.cast(pa.string()))
    return column.cast(pa.string())


def _to_float(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    t = arr.type
    if pa.types.is_dictionary(t):
        arr = arr.cast(t.value_type)
    if pa.types.is_null(arr.type):
        return np.full(len(arr), np.nan)
    out = arr.cast(pa.float64()).to_numpy(zero_copy_only=False)
    return np.asarray(out, dtype=np.float64)


def _temporal_seconds(column: pa.ChunkedArray) -> np.ndarray:
    t = column.type
    if pa.types.is_timestamp(t) and t.tz is not None:
        column = column.cast(pa.timestamp("us", tz=t.tz))
    elif pa.types.is_timestamp(t) or pa.types.is_date(t):
        column = column.cast(pa.timestamp("us"))
    elif pa.types.is_duration(t):
        column = column.cast(pa.duration("us"))
    else:  # time of day
        column = column.cast(pa.time64("us"))
    return _to_float(column.cast(pa.int64())) / 1e6


def _parse_numbers(column: pa.ChunkedArray) -> tuple[np.ndarray, int]:
    """Parse a string column as numbers; count non-empty values that do not parse."""
    encoded = pc.dictionary_encode(_as_strings(column)).combine_chunks()
    parsed = np.empty(len(encoded.dictionary), dtype=np.float64)
    bad = np.zeros(len(encoded.dictionary), dtype=bool)
    for i, s in enumerate(encoded.dictionary.to_pylist()):
        text = s.strip()
        if text == "" or text.lower() in {"nan", "na", "null", "none"}:
            parsed[i] = np.nan
            continue
        try:
            parsed[i] = float(text)
        except ValueError:
            parsed[i] = np.nan
            bad[i] = True
    idx = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    values = np.append(parsed, np.nan)[idx]
    errors = int(np.count_nonzero(np.append(bad, False)[idx]))
    return values, errors


def _string_codes(strings: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    encoded = pc.dictionary_encode(strings).combine_chunks()
    hashes = hash_strings(encoded.dictionary.to_pylist())
    idx = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    return np.append(hashes, _NULL_CODE)[idx], hashes


class DatasetProfile:
    """One :class:`ColumnProfile` per column, the row count and a duplicate-row estimate.

    With a target and a prediction (or score) column in the schema it also
    keeps the realized prediction quality, ``performance``: a
    :class:`~driftline.stats.performance.profile_part.PerformancePart`
    (``performance="auto"`` infers it from the roles; pass a
    :class:`PerformanceSpec` to set the task or classes, or None for none).
    """

    _KIND = "dataset"

    def __init__(
        self,
        schema: Schema,
        reservoir_size: int = 10_000,
        performance: PerformanceSpec | str | None = "auto",
    ) -> None:
        self.schema = schema
        self.reservoir_size = reservoir_size
        self.n_rows = 0
        self.rows = DistinctCount(p=14)
        self.columns: dict[str, ColumnProfile] = {
            s.name: ColumnProfile(s, reservoir_size) for s in schema
        }
        self.mixed_type_columns: set[str] = set()
        if performance == "auto":
            performance = PerformanceSpec.infer(schema, strict=False)
        elif performance is not None and not isinstance(performance, PerformanceSpec):
            raise InputError(
                f"performance: expected 'auto', a PerformanceSpec or None, got {performance!r}"
            )
        self.performance = None if performance is None else PerformancePart(performance)

    def __repr__(self) -> str:
        return f"DatasetProfile(rows={self.n_rows}, columns={len(self.columns)})"

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
        missing = [c for c in self.columns if c not in table.column_names]
        if missing:
            raise InputError(f"batch lacks column(s) {', '.join(missing)} of the profile")
        if self.performance is not None:  # first: it checks everything before changing state
            self.performance.update(table)
        idx, keys = bottom_k_keys(n, self.reservoir_size, gen)
        names = list(self.columns)
        seeds = gen.integers(0, 2**63, size=len(names))

        def work(i: int) -> np.ndarray | None:
            col = self.columns[names[i]]
            return col.update(
                table.column(names[i]), idx, keys, np.random.default_rng(int(seeds[i]))
            )

        row_hash = np.zeros(n, dtype=np.uint64)
        fused = kernels(n)
        with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
            for codes in pool.map(work, range(len(names))):
                if codes is None:
                    continue
                if fused is not None:
                    fused.row_combine(row_hash, codes, _ROW_MULT)
                else:
                    row_hash *= _ROW_MULT
                    row_hash ^= codes
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


def build_profile(
    data: Any,
    schema: Schema | dict[str, Any] | str | Path | None = None,
    *,
    reservoir_size: int = 10_000,
    seed: int | None = None,
    batch_rows: int | None = None,
    progress: Any = None,
    performance: PerformanceSpec | str | Callable[[Schema], Any] | None = "auto",
) -> DatasetProfile:
    """Profile ``data`` in one pass; see :func:`driftline.profile`.

    ``performance``: "auto" (from the schema's roles), a :class:`PerformanceSpec`
    or None; a callable gets the resolved schema and returns one of those.
    """
    from driftline.io import DEFAULT_BATCH_ROWS, open_source

    source = open_source(data, batch_rows or DEFAULT_BATCH_ROWS)
    rng = np.random.default_rng(seed)
    prof: DatasetProfile | None = None
    for table in source.batches():
        if prof is None:  # the first batch is the sample the schema is inferred from
            resolved = resolve_schema(schema, source.schema, table)
            perf = performance(resolved) if callable(performance) else performance
            prof = DatasetProfile(resolved, reservoir_size, perf)
        prof.update(table.select(prof.schema.names), rng)
        if progress is not None:
            progress(table.num_rows)
    if prof is None:  # no batch at all: an empty file or frame
        resolved = resolve_schema(schema, source.schema, None)
        perf = performance(resolved) if callable(performance) else performance
        prof = DatasetProfile(resolved, reservoir_size, perf)
    prof.mixed_type_columns = set(source.mixed_columns)
    return prof


def resolve_schema(schema: Any, arrow_schema: pa.Schema, sample: Any = None) -> Schema:
    """Infer a schema from the data and apply the user's overrides (object, dict or YAML path).

    ``sample`` is a table of the first rows (or a :class:`driftline.io.Source`,
    whose first batch is then read): kinds and roles are inferred from it.
    """
    if sample is not None and not isinstance(sample, pa.Table):
        sample = next(iter(sample.batches()), None)
    if sample is not None and sample.num_rows > 1000:
        sample = sample.slice(0, 1000)
    inferred = Schema.infer(arrow_schema, sample)
    if schema is None:
        return inferred
    if isinstance(schema, Schema):
        return inferred.override(schema.columns, arrow_schema)
    if isinstance(schema, str | Path):
        return _yaml_on(schema, inferred, arrow_schema)
    return inferred.override(dict(schema).get("columns", schema), arrow_schema)


def _yaml_on(path: str | Path, inferred: Schema, arrow_schema: pa.Schema) -> Schema:
    import yaml

    from driftline.errors import SchemaError

    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text()) or {}
    except OSError as exc:
        raise SchemaError(f"cannot read schema file {p}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise SchemaError(f"schema file {p} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise SchemaError(f"schema file {p} must hold a mapping of column -> {{kind, role}}")
    return inferred.override(data.get("columns", data), arrow_schema)
