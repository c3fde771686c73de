"""A fitted outlier model as plain data, and its scores from plain rows (numpy only).

The collector fits an outlier model on a version's reference
(:class:`driftline.stats.outliers.OutlierModel`) and serves it as the JSON
document :meth:`WireModel.to_dict` builds (``GET /v1/models/{m}/versions/{v}/
outlier-model``, docs/collector.md, "Outlier scores in the SDK"); the SDK
(:mod:`driftline.sdk.outliers`) scores its events with it on its background
thread and sends each event's score with the model's :attr:`WireModel.tag`.
This module is shared by both sides and imports only numpy, so the SDK needs
no scikit-learn, scipy or pyarrow to score.

The document holds numbers only: names, levels, and arrays encoded as
base64 little-endian bytes with their dtype (one of :data:`DTYPES`) and shape:
nothing in it is executed or unpickled, and every array's size is checked
against its shape. The tag is the SHA-256 of the canonical document: the same
reference, method and column kinds give the same tag on every replica.

Scores are the collector's to 1e-9 (tests/sdk/test_outliers.py): each value
becomes what the collector's Arrow column of the version's live column kind
would hold (:meth:`WireModel.cell`), then the same encoding (missing numbers
-> reference median, standardised; categories -> their standardised reference
frequency, unseen levels share "other") and the same distance (robust
Mahalanobis) or isolation-forest path lengths (the trees walked in numpy, with
float32 inputs compared to float64 thresholds, as scikit-learn's trees do).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from driftline.errors import InputError

#: Version of the document's layout; a reader refuses another.
FORMAT = 1
#: The only dtypes an array of the document may have.
DTYPES = ("<f8", "<i4", "|b1")
METHODS = ("mahalanobis", "isolation_forest")
_MISSING = "\x00missing"
_OTHER = "\x00other"
#: Live column kinds the SDK turns into the collector's column values; others are missing.
KINDS = ("numeric", "categorical", "text", "boolean")

Floats = npt.NDArray[np.float64]


def _nothing() -> None:
    pass


def encode_array(a: np.ndarray) -> dict[str, Any]:
    """``{"dtype", "shape", "data"}``: the array's little-endian bytes in base64."""
    arr = np.asarray(a)
    dtype = {"f": "<f8", "i": "<i4", "b": "|b1"}[arr.dtype.kind]
    data = np.ascontiguousarray(arr, dtype=np.dtype(dtype)).tobytes()
    return {"dtype": dtype, "shape": list(arr.shape), "data": base64.b64encode(data).decode()}


def decode_array(d: Any, name: str) -> np.ndarray:
    """The array :func:`encode_array` wrote; :class:`InputError` naming ``name`` if malformed."""
    if not isinstance(d, dict) or d.get("dtype") not in DTYPES:
        raise InputError(f"outlier model: {name} is not an array of dtype {', '.join(DTYPES)}")
    shape = d.get("shape")
    if not isinstance(shape, list) or not all(type(s) is int and s >= 0 for s in shape):
        raise InputError(f"outlier model: {name}.shape must be a list of sizes, got {shape!r}")
    dtype = np.dtype(d["dtype"])
    try:
        raw = base64.b64decode(str(d.get("data", "")), validate=True)
    except ValueError:
        raise InputError(f"outlier model: {name}.data is not base64") from None
    if len(raw) != math.prod(shape) * dtype.itemsize:
        raise InputError(
            f"outlier model: {name} holds {len(raw)} bytes; shape {shape} of {d['dtype']} "
            f"needs {math.prod(shape) * dtype.itemsize}"
        )
    return np.frombuffer(raw, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def _text(v: Any) -> str:
    """A non-string value as the collector's string column holds it (windows/columns.py)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    try:
        import orjson

        return orjson.dumps(v).decode()
    except ImportError:  # pragma: no cover - the SDK without its orjson extra
        return json.dumps(v, separators=(",", ":"), ensure_ascii=False)
    except TypeError:
        return str(v)


def to_float(v: Any) -> float:
    """A cell as a number: numbers as they are, text parsed; anything else NaN."""
    if v is None:
        return math.nan
    if isinstance(v, bool | np.bool_):
        return 1.0 if v else 0.0
    if isinstance(v, int | float | np.integer | np.floating):
        try:
            return float(v)
        except OverflowError:
            return math.nan
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            # a boolean in a batch whose numeric column fell back to text ("true")
            return 1.0 if v == "true" else 0.0 if v == "false" else math.nan
    return math.nan


def standardised_frequency(freq: Floats, codes: npt.NDArray[np.int64]) -> Floats:
    """Each row's level frequency, standardised by the reference's mean and spread."""
    col = freq[codes]
    ref_mean = float((freq * freq).sum())
    ref_sd = float(np.sqrt(max(float((freq**3).sum()) - ref_mean**2, 1e-12)))
    out: Floats = (col - ref_mean) / ref_sd
    return out


def mahalanobis(x: Floats, centre: Floats, precision: Floats, *, blas: bool = True) -> Floats:
    """Distance of each row of ``x`` from ``centre`` under ``precision`` (inverse covariance).

    ``blas=False``: the product in numpy's own loop (``einsum``), on the calling thread only.
    The SDK scores so inside the user's service: a matrix product there went to OpenBLAS,
    whose worker threads ran it on the service's other cores and then spin-waited (a batch of
    500 rows, 60 columns: 2.8-4.2 ms of process CPU against 0.8 with ``einsum``; 200 columns
    about equal, 6 ms; benchmarks/sdk_outlier_blas.py). The collector runs BLAS on one
    thread (``one_blas_thread``) and keeps the product.
    """
    d = x - centre
    dp = d @ precision if blas else np.einsum("ij,jk->ik", d, precision)
    out: Floats = np.sqrt(np.maximum((dp * d).sum(axis=1), 0.0))
    return out


class WireModel:
    """A fitted outlier model as data: :meth:`score_rows` scores feature mappings."""

    def __init__(self, doc: Mapping[str, Any]) -> None:
        if not isinstance(doc, Mapping):
            raise InputError("outlier model: the document must be a JSON object")
        if doc.get("format") != FORMAT:
            raise InputError(
                f"outlier model: format {doc.get('format')!r}; this driftline reads {FORMAT}"
            )
        method = doc.get("method")
        if method not in METHODS:
            raise InputError(f"outlier model: method {method!r}; allowed: {', '.join(METHODS)}")
        self.method: str = method
        self.threshold = _finite(doc.get("threshold"), "threshold")
        self.contamination = _finite(doc.get("contamination"), "contamination")
        self.n_reference = int(_finite(doc.get("n_reference"), "n_reference"))
        kinds = doc.get("kinds")
        if not isinstance(kinds, dict):
            raise InputError("outlier model: kinds must map column names to kinds")
        self.kinds: dict[str, str] = {str(k): str(v) for k, v in kinds.items()}
        num = doc.get("numeric")
        if not isinstance(num, dict) or not isinstance(num.get("columns"), list):
            raise InputError("outlier model: numeric must hold columns, median, mean and std")
        self.numeric: list[str] = [str(c) for c in num["columns"]]
        k = len(self.numeric)
        self.median = self._vector(num, "median", k, "numeric")
        self.mean = self._vector(num, "mean", k, "numeric")
        self.std = self._vector(num, "std", k, "numeric")
        cats = doc.get("categorical")
        if not isinstance(cats, list):
            raise InputError("outlier model: categorical must be a list of columns")
        self.categorical: list[str] = []
        self.lookup: list[dict[str, int]] = []
        self.freq: list[Floats] = []
        for i, c in enumerate(cats):
            levels = c.get("levels") if isinstance(c, dict) else None
            if not isinstance(levels, list) or not levels or levels[-1] != _OTHER:
                raise InputError(f"outlier model: categorical[{i}].levels must end with 'other'")
            self.categorical.append(str(c.get("name")))
            self.lookup.append({str(v): j for j, v in enumerate(levels)})
            self.freq.append(self._vector(c, "freq", len(levels), f"categorical[{i}]"))
        width = k + len(self.categorical)
        if method == "mahalanobis":
            m = doc.get("mahalanobis")
            if not isinstance(m, dict):
                raise InputError("outlier model: mahalanobis needs centre and precision")
            self.centre = self._vector(m, "centre", width, "mahalanobis")
            self.precision = decode_array(m.get("precision"), "mahalanobis.precision")
            if self.precision.shape != (width, width):
                raise InputError(
                    f"outlier model: mahalanobis.precision has shape {self.precision.shape}, "
                    f"not ({width}, {width})"
                )
        else:
            self._forest(doc.get("isolation_forest"), width)
        self.doc = dict(doc)
        self.tag = tag_of(self.doc)

    @staticmethod
    def _vector(d: Mapping[str, Any], key: str, size: int, where: str) -> Floats:
        a = decode_array(d.get(key), f"{where}.{key}")
        if a.shape != (size,) or a.dtype.kind != "f":
            raise InputError(f"outlier model: {where}.{key} must be {size} numbers, got {a.shape}")
        out: Floats = a.astype(np.float64)
        return out

    def _forest(self, f: Any, width: int) -> None:
        if not isinstance(f, dict):
            raise InputError("outlier model: isolation_forest needs its trees")
        names = ("left", "right", "feature", "threshold", "missing_left", "path", "roots")
        arrays = {n: decode_array(f.get(n), f"isolation_forest.{n}") for n in names}
        n_nodes = arrays["left"].shape[0] if arrays["left"].ndim == 1 else -1
        for n in names[:-1]:
            if arrays[n].shape != (n_nodes,):
                raise InputError(f"outlier model: isolation_forest.{n} must hold one per node")
        left, right = arrays["left"].astype(np.intp), arrays["right"].astype(np.intp)
        feature, roots = arrays["feature"].astype(np.intp), arrays["roots"].astype(np.intp)
        leaf = left < 0
        inner = ~leaf
        if (
            roots.ndim != 1
            or not roots.size
            or ((roots < 0) | (roots >= n_nodes)).any()
            or ((left[inner] <= np.flatnonzero(inner)) | (left[inner] >= n_nodes)).any()
            or ((right[inner] <= np.flatnonzero(inner)) | (right[inner] >= n_nodes)).any()
            or ((feature[inner] < 0) | (feature[inner] >= width)).any()
        ):
            raise InputError("outlier model: isolation_forest's trees are not valid trees")
        threshold = arrays["threshold"].astype(np.float64)
        # A float32 input x is <= a float64 threshold t exactly when it is <= the largest
        # float32 not above t: compared in float32, as scikit-learn's trees compare.
        t32 = threshold.astype(np.float32)
        above = t32.astype(np.float64) > threshold
        t32[above] = np.nextafter(t32[above], np.float32(-np.inf))
        self.threshold32 = t32
        # children of node i at 2i (left) and 2i + 1 (right); a leaf child as ~its index
        children = np.stack([left, right], axis=1).ravel()
        to_leaf = leaf[np.maximum(children, 0)]
        self.children = np.where(to_leaf, ~children, children).astype(np.int32)
        self.feature = np.where(leaf, 0, feature).astype(np.int32)
        self.roots = roots.astype(np.int32)
        self.root_leaf = leaf[roots]
        self.missing_left = arrays["missing_left"].astype(bool)
        self.path = arrays["path"].astype(np.float64)
        self.denominator = _finite(f.get("denominator"), "isolation_forest.denominator")

    @property
    def columns(self) -> list[str]:
        return [*self.numeric, *self.categorical]

    # -- rows -> design matrix -------------------------------------------------------------
    def cell(self, name: str, v: Any) -> Any:
        """``v`` as the collector's column of the version's live kind holds it."""
        kind = self.kinds.get(name)
        if v is None or kind is None:
            return None
        if kind == "boolean":
            return v if isinstance(v, bool) else None
        if kind == "numeric":
            if isinstance(v, int | float):
                return float(v)  # booleans too: Arrow makes them 1.0 and 0.0
            return v if isinstance(v, str) else _text(v)
        if kind in ("categorical", "text"):
            return v if isinstance(v, str) else _text(v)
        return None

    def _numbers(self, name: str, values: list[Any]) -> Floats:
        """One numeric column: at once when numpy takes the values as numbers (numbers,
        booleans, None, numeric text), else value by value."""
        if self.kinds.get(name) == "numeric":
            try:
                out: Floats = np.array(values, dtype=np.float64)
            except (TypeError, ValueError, OverflowError):
                pass
            else:
                if out.shape == (len(values),):
                    return out
        return np.array([to_float(self.cell(name, v)) for v in values], dtype=np.float64)

    def design_rows(
        self, rows: Sequence[Mapping[str, Any] | None], pause: Callable[[], None] = _nothing
    ) -> Floats:
        """The encoded matrix of feature mappings (absent columns are missing values);
        ``pause`` is called after each column (the SDK's shipper gives the GIL back)."""
        n = len(rows)
        feats = [r or {} for r in rows]
        x = np.empty((n, len(self.numeric)), dtype=np.float64)
        for j, name in enumerate(self.numeric):
            x[:, j] = self._numbers(name, [f.get(name) for f in feats])
            pause()
        x = np.where(np.isfinite(x), x, np.nan)
        x = np.where(np.isnan(x), self.median, x)
        parts = [(x - self.mean) / self.std]
        for name, lookup, freq in zip(self.categorical, self.lookup, self.freq, strict=True):
            other = len(lookup) - 1
            get = lookup.get
            codes = np.fromiter(
                (
                    get(v, other) if type(v) is str else get(_level(self.cell(name, v)), other)
                    for v in (f.get(name) for f in feats)
                ),
                dtype=np.int64,
                count=n,
            )
            parts.append(standardised_frequency(freq, codes)[:, None])
            pause()
        return np.column_stack(parts) if parts else np.zeros((n, 0))

    # -- scores -----------------------------------------------------------------------------
    def score_matrix(self, x: Floats, pause: Callable[[], None] = _nothing) -> Floats:
        if self.method == "mahalanobis":
            return mahalanobis(x, self.centre, self.precision, blas=False)  # the user's cores
        return self._forest_scores(x, pause)

    def _forest_scores(self, x: Floats, pause: Callable[[], None]) -> Floats:
        x32 = np.ascontiguousarray(x, dtype=np.float32)
        n, width = x32.shape
        flat = x32.ravel()
        n_trees = self.roots.size
        # one walker per (tree, row), all trees at once; a walker that reaches a leaf
        # stops (its node becomes ~leaf)
        node = np.repeat(np.where(self.root_leaf, ~self.roots, self.roots), n)
        base = np.tile(np.arange(n, dtype=np.int32) * width, n_trees)
        active = np.flatnonzero(node >= 0).astype(np.int32)
        while active.size:
            at = node[active]
            value = flat[base[active] + self.feature[at]]
            right = value > self.threshold32[at]
            nan = np.isnan(value)
            if nan.any():
                right = np.where(nan, ~self.missing_left[at], right)
            nxt = self.children[2 * at + right]
            node[active] = nxt
            active = active[nxt >= 0]
            pause()
        path = self.path[~node].reshape(n_trees, n)
        depths = np.zeros(n, dtype=np.float64)
        for t in range(n_trees):  # summed tree by tree, as the collector sums them
            depths += path[t]
        if self.denominator == 0:
            return np.ones(n)
        scores: Floats = 2.0 ** (-depths / self.denominator)
        return scores

    def score_rows(
        self, rows: Sequence[Mapping[str, Any] | None], pause: Callable[[], None] = _nothing
    ) -> Floats:
        """One score per feature mapping; higher is more anomalous."""
        return self.score_matrix(self.design_rows(rows, pause), pause)


def _level(v: Any) -> str:
    if v is None:
        return _MISSING
    if isinstance(v, bool):
        return "true" if v else "false"  # as Arrow casts a boolean column to text
    return v if isinstance(v, str) else _text(v)


def _finite(v: Any, name: str) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise InputError(f"outlier model: {name} must be a finite number, got {v!r}")
    return float(v)


def canonical(doc: Mapping[str, Any]) -> bytes:
    """The document's canonical JSON bytes (sorted keys, no spaces)."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def tag_of(doc: Mapping[str, Any]) -> str:
    """The model's version tag: 16 hex digits of the canonical document's SHA-256."""
    return hashlib.sha256(canonical({k: v for k, v in doc.items() if k != "tag"})).hexdigest()[:16]
