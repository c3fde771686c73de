"""One column's profile: a bundle of mergeable accumulators.

A :class:`ColumnProfile` keeps, for one column: row count, missing values,
type errors, non-finite values, moments and min/max, a KLL quantile sketch, an
exact histogram on fixed log-linear buckets, category counts, a distinct-count
sketch and a reservoir sample. Which parts are used depends on the column's
kind: numeric and datetime columns use the numeric parts (datetimes as epoch
seconds), text columns the numeric parts over string length (and a numeric profile per
text descriptor), image columns the numeric parts over pixels per image (and
a numeric profile per image descriptor), embeddings the
numeric parts over the vector norm plus a
:class:`~driftline.stats.accumulators.vectors.VectorSketch` (centroid, sample of
vectors, random projections), categorical and boolean
columns the category counts.
"""

from __future__ import annotations

import math
from types import ModuleType

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from typing_extensions import Self

from driftline.errors import InputError
from driftline.schema import ColumnSpec, Kind, Role, type_family
from driftline.stats._codec import pack, unpack
from driftline.stats.accumulators import (
    CategoryCounts,
    DistinctCount,
    LogHistogram,
    Moments,
    QuantileSketch,
    Reservoir,
    hash_floats,
    hash_strings,
)
from driftline.stats.accumulators._kernels import kernels
from driftline.stats.accumulators.vectors import VectorSketch, scan
from driftline.stats.accumulators.vocabulary import VocabularySketch
from driftline.timestamps import numbers_as_seconds, parse_iso

NUMERIC_KINDS = frozenset({Kind.NUMERIC, Kind.DATETIME, Kind.TEXT, Kind.EMBEDDING, Kind.IMAGE})
CATEGORY_KINDS = frozenset({Kind.CATEGORICAL, Kind.BOOLEAN})
_NULL_CODE = np.uint64(0x9E3779B97F4A7C15)
FORMAT_VERSION = 1
#: Vectors an embedding column's sketch keeps (the smallest-key part of its reservoir).
VECTOR_SAMPLE = 1000
#: A descriptor's reservoir holds this fraction of its column's (2,000 values by default).
DESCRIPTOR_SAMPLE_DIVISOR = 5
_VALID, _MISSING, _WRONG_DIM, _NON_FINITE = 0, 1, 2, 3


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
        self.vectors = VectorSketch(min(reservoir_size, VECTOR_SAMPLE))
        self._sample_idx = self._sample_keys = np.zeros(0, dtype=np.int64)
        self._rng = np.random.default_rng(0)
        #: text and image columns: one numeric profile per descriptor (``name.descriptor``)
        self.descriptors: dict[str, ColumnProfile] = {}
        self.vocabulary: VocabularySketch | None = None
        family = {Kind.TEXT: "text", Kind.IMAGE: "image"}.get(spec.kind)
        if family is not None and spec.role is not Role.ID:
            from driftline.stats.descriptors import descriptors_for

            size = max(100, reservoir_size // DESCRIPTOR_SAMPLE_DIVISOR)
            for d in descriptors_for(family):  # type: ignore[arg-type]
                if family == "text" and d.name == "chars":
                    continue  # the column's own numbers are its lengths
                child = ColumnSpec(f"{spec.name}.{d.name}", Kind.NUMERIC, spec.role)
                self.descriptors[d.name] = ColumnProfile(child, size)
        if spec.kind is Kind.TEXT and spec.role is not Role.ID:
            self.vocabulary = VocabularySketch()

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
        self._sample_idx, self._sample_keys, self._rng = sample_idx, sample_keys, rng
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
            self.histogram.add_dense(key_lo, counts, fused.nonzero_index)
            good = values if n_finite == n else values[np.isfinite(values)]
            self.quantiles.update(good, rng)
        self.reservoir.update(sample_keys, values[sample_idx])
        return codes

    def _numeric_values(self, column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray | None]:
        """Float values (NaN = missing or unparseable) and, for derived kinds, row codes."""
        self._type_errors_in_batch = 0
        kind, fam = self.spec.kind, type_family(column.type)
        if kind is Kind.TEXT:
            strings, self._type_errors_in_batch = decode_text(column)
            lengths = pc.utf8_length(strings)
            values = _to_float(lengths)
            codes, uniques = _string_codes(strings)
            self.distinct.update_hashes(uniques)
            self._update_descriptors(strings)
            if self.vocabulary is not None:
                self.vocabulary.update(strings)
            return values, codes
        if kind is Kind.EMBEDDING:
            return self._embedding_norms(column, self._sample_idx, self._sample_keys), None
        if kind is Kind.IMAGE:  # the column's own values: pixels per image
            from driftline.stats.descriptors import _images

            arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
            found = _images.features(arr)
            self._type_errors_in_batch = int(found["bad"].sum())
            self._update_descriptors(arr)
            return found["width"] * found["height"], None
        if fam == "temporal":
            return _temporal_seconds(column), None
        if kind is Kind.DATETIME and fam == "string":  # ISO 8601 text, with its time zone
            seconds, bad = parse_iso(column)
            self._type_errors_in_batch = int(np.count_nonzero(bad))
            return seconds, None
        if kind is Kind.DATETIME and fam == "numeric" and self.spec.unit:
            return numbers_as_seconds(_to_float(column), self.spec.unit), None
        if fam == "string":
            values, errors = _parse_numbers(column)
            self._type_errors_in_batch = errors
            return values, None
        return _to_float(column), None

    def _update_descriptors(self, values: pa.ChunkedArray | pa.Array) -> None:
        """Each descriptor's values, folded into its numeric profile (rows line up)."""
        if not self.descriptors:
            return
        from driftline.stats.descriptors import DESCRIPTORS

        arr = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
        # the same Array object for every descriptor: shared per-batch work is done once
        for i, (name, child) in enumerate(self.descriptors.items()):
            numbers = np.asarray(DESCRIPTORS[name].compute(arr), dtype=np.float64)
            rng = np.random.default_rng([int(self._rng.integers(2**31)), i])
            child.update(pa.chunked_array([numbers]), self._sample_idx, self._sample_keys, rng)

    def _embedding_norms(
        self, column: pa.ChunkedArray, sample_idx: np.ndarray, sample_keys: np.ndarray
    ) -> np.ndarray:
        """Each row's norm, the vector sketch updated; bad rows counted by reason.

        Missing rows are NaN (missing); rows of another length than the column's
        dimension are NaN and type errors; vectors with a NaN, infinite or missing
        component are +inf (non-finite, so neither their norm nor their direction
        is used).
        """
        mat, ok = vector_matrix(column, self.vectors.dim, self.name)
        n = len(ok)
        self._type_errors_in_batch = int(np.count_nonzero(ok == _WRONG_DIM))
        norms = np.full(n, np.nan)
        rows = ok == _VALID
        if mat.shape[1] == 0 or not rows.any():
            norms[ok == _NON_FINITE] = np.inf
            return norms
        good = mat if rows.all() else mat[rows]
        scanned = scan(good)
        bad = ~np.isfinite(scanned[0])
        if bad.any():  # a non-finite component, or float32 overflow of finite ones
            where = np.flatnonzero(rows)
            finite_rows = np.isfinite(good[bad]).all(axis=1)
            ok[where[np.flatnonzero(bad)[~finite_rows]]] = _NON_FINITE
            rows = ok == _VALID
            good = mat[rows].astype(np.float64)
            scanned = scan(good)
        good_norms = np.sqrt(scanned[0])
        norms[rows] = good_norms
        norms[ok == _NON_FINITE] = np.inf
        pos = np.cumsum(rows) - 1
        in_sample = rows[sample_idx]
        self.vectors.update(good, pos[sample_idx[in_sample]], sample_keys[in_sample], scanned)
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
        if self.spec.kind is Kind.EMBEDDING:
            self.vectors.merge(other.vectors)
        for name, child in other.descriptors.items():
            mine = self.descriptors.get(name)
            if mine is None:
                self.descriptors[name] = ColumnProfile.from_bytes(child.to_bytes())
            else:
                mine.merge(child)
        if other.vocabulary is not None:
            if self.vocabulary is None:
                self.vocabulary = VocabularySketch()
            self.vocabulary.merge(other.vocabulary)
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
        if self.spec.kind is Kind.EMBEDDING:
            arrays["vectors"] = np.frombuffer(self.vectors.to_bytes(), dtype=np.uint8)
        for name, child in self.descriptors.items():
            arrays[f"descriptor:{name}"] = np.frombuffer(child.to_bytes(), dtype=np.uint8)
        if self.vocabulary is not None:
            arrays["vocabulary"] = np.frombuffer(self.vocabulary.to_bytes(), dtype=np.uint8)
        scalars = {
            "name": self.spec.name,
            "kind": self.spec.kind.value,
            "role": self.spec.role.value,
            **({"unit": self.spec.unit} if self.spec.unit else {}),
            "count": self.count,
            "missing": self.missing,
            "type_errors": self.type_errors,
            "non_finite": self.non_finite,
        }
        return pack(self._KIND, FORMAT_VERSION, scalars, arrays)

    @classmethod
    def from_bytes(cls, data: bytes) -> ColumnProfile:
        _, s, a = unpack(cls._KIND, data, FORMAT_VERSION)
        spec = ColumnSpec(str(s["name"]), Kind(s["kind"]), Role(s["role"]), s.get("unit"))
        c = cls(spec)
        c.count, c.missing = int(s["count"]), int(s["missing"])
        c.type_errors, c.non_finite = int(s["type_errors"]), int(s["non_finite"])
        c.moments = Moments.from_bytes(a["moments"].tobytes())
        c.quantiles = QuantileSketch.from_bytes(a["quantiles"].tobytes())
        c.histogram = LogHistogram.from_bytes(a["histogram"].tobytes())
        c.categories = CategoryCounts.from_bytes(a["categories"].tobytes())
        c.distinct = DistinctCount.from_bytes(a["distinct"].tobytes())
        c.reservoir = Reservoir.from_bytes(a["reservoir"].tobytes())
        c.descriptors = {
            k.split(":", 1)[1]: ColumnProfile.from_bytes(v.tobytes())
            for k, v in a.items()
            if k.startswith("descriptor:")
        }
        c.vocabulary = (
            VocabularySketch.from_bytes(a["vocabulary"].tobytes()) if "vocabulary" in a else None
        )
        if "vectors" in a:
            c.vectors = VectorSketch.from_bytes(a["vectors"].tobytes())
        elif "embedding_sum" in a:  # written before the vector sketch: the sum only
            c.vectors.dim = int(a["embedding_sum"].size)
            c.vectors.total = a["embedding_sum"].astype(np.float64)
            c.vectors.n = int(s.get("embedding_n", 0))
            c.vectors.sample = np.zeros((0, c.vectors.dim), dtype=np.float32)
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


def vector_matrix(column: pa.ChunkedArray, dim: int, name: str) -> tuple[np.ndarray, np.ndarray]:
    """The rows of a list column as a float matrix, and each row's state.

    The state is ``_VALID``, ``_MISSING`` (a null row), ``_WRONG_DIM`` (not
    ``dim`` components; ``dim`` 0: the batch's most common length fixes it) or
    ``_NON_FINITE`` (a missing or non-numeric-valued component). Fixed-size lists
    of float32/float64 with no nulls are read without a copy.
    """
    arr: pa.Array = column
    if isinstance(column, pa.ChunkedArray):
        arr = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
    n = len(arr)
    state = np.zeros(n, dtype=np.int8)
    if pa.types.is_null(arr.type):
        return np.zeros((n, dim)), np.full(n, _MISSING, dtype=np.int8)
    if not (
        pa.types.is_list(arr.type)
        or pa.types.is_large_list(arr.type)
        or pa.types.is_fixed_size_list(arr.type)
    ):
        raise InputError(f"column {name!r}: an embedding needs lists of numbers, got {arr.type}")
    value_type = arr.type.value_type
    numbers = pa.types.is_floating(value_type) or pa.types.is_integer(value_type)
    if not numbers and not pa.types.is_null(value_type):
        raise InputError(
            f"column {name!r}: an embedding needs lists of numbers, got lists of {value_type}"
        )
    if arr.null_count:
        state[np.asarray(arr.is_null().to_numpy(zero_copy_only=False), dtype=bool)] = _MISSING
    if pa.types.is_fixed_size_list(arr.type):
        size = arr.type.list_size
        lengths = np.full(n, size)
    else:
        lengths = np.asarray(pc.list_value_length(arr).fill_null(-1).to_numpy(), dtype=np.int64)
    if dim == 0:
        present = lengths[(state == _VALID) & (lengths > 0)]
        if present.size:
            values, counts = np.unique(present, return_counts=True)
            dim = int(values[np.argmax(counts)])
    wrong = (state == _VALID) & (lengths != dim)
    state[wrong] = _WRONG_DIM
    if dim == 0:
        return np.zeros((n, 0)), state
    if pa.types.is_fixed_size_list(arr.type) and arr.null_count == 0:
        mat = _float_values(arr.flatten()).reshape(n, dim)
    else:
        take = state == _VALID
        mat = np.full((n, dim), np.nan, dtype=np.float64)
        if take.any():
            mat[take] = _float_values(arr.filter(pa.array(take)).flatten()).reshape(-1, dim)
    return mat, state


def _float_values(values: pa.Array) -> np.ndarray:
    """A flat numeric Arrow array as float32/float64 numpy (NaN for nulls), zero-copy if it can."""
    t = values.type
    if values.null_count == 0 and (pa.types.is_float32(t) or pa.types.is_float64(t)):
        out: np.ndarray = values.to_numpy(zero_copy_only=False)
        return out
    if pa.types.is_float16(t) or pa.types.is_float32(t):
        return np.asarray(values.cast(pa.float32()).to_numpy(zero_copy_only=False), np.float32)
    return _to_float(values)


def decode_text(column: pa.ChunkedArray) -> tuple[pa.ChunkedArray, int]:
    """A column as Arrow strings, and how many values were not valid UTF-8 (now null).

    Binary columns are decoded; a value whose bytes are not UTF-8 is a type error
    (counted, never guessed at with a replacement character).
    """
    t = column.type
    if pa.types.is_dictionary(t):
        column = column.cast(t.value_type)
        t = column.type
    if not (pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_binary_view(t)):
        return _as_strings(column), 0
    try:
        return column.cast(pa.large_string()), 0
    except pa.ArrowInvalid:  # some values are not UTF-8: decode one by one
        pass
    out: list[str | None] = []
    bad = 0
    for v in column.to_pylist():
        if v is None:
            out.append(None)
            continue
        try:
            out.append(bytes(v).decode("utf-8"))
        except UnicodeDecodeError:
            out.append(None)
            bad += 1
    return pa.chunked_array([pa.array(out, type=pa.large_string())]), bad
