"""Performance per segment, and a search for the slices where the model is worst.

- :func:`metrics_by_segment`: every metric per value of one segment column. The
  ``max_segments`` most frequent values get their own entry, the rest are
  grouped as ``"__other__"``, missing values as ``"__missing__"``.
- :func:`worst_segments`: slices of one column (``col = v``) or two columns
  (``a = v and b = w``) whose per-row loss (classification: error rate;
  regression: absolute error) is higher than on the rest of the data. Each
  slice with at least ``min_support`` rows (and as many outside it) gets a
  one-sided Welch t-test against its complement; the p-values of all slices
  tested are adjusted with Benjamini-Hochberg, so that among the slices
  reported as significant the expected share of false discoveries is at most
  ``alpha``. Significant slices are ranked by how much worse they are than the
  whole (``value - overall``). Numeric columns with many values are cut into
  ``n_bins`` quantile bins first.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from driftline.errors import InputError
from driftline.stats.performance import ClassificationMetrics, RegressionMetrics
from driftline.stats.performance._labels import is_missing, numeric_values, to_numpy

OTHER = "__other__"
MISSING = "__missing__"

Task = Literal["classification", "regression"]
_TASKS = "allowed values are 'classification', 'regression'"


def _columns(segments: Any) -> dict[str, npt.NDArray[Any]]:
    if isinstance(segments, Mapping):
        items = list(segments.items())
    elif hasattr(segments, "column_names"):  # pyarrow Table
        items = [(c, segments.column(c)) for c in segments.column_names]
    elif hasattr(segments, "columns"):  # pandas DataFrame
        items = [(c, segments[c]) for c in segments.columns]
    else:
        raise InputError("segments: expected a DataFrame, a pyarrow Table or {column: values}")
    out = {}
    for name, values in items:
        arr = to_numpy(values, f"segments[{name!r}]")
        if arr.ndim != 1:
            raise InputError(f"segments[{name!r}]: expected 1-d values, got shape {arr.shape}")
        out[str(name)] = arr
    return out


def segment_labels(
    values: npt.NDArray[Any], *, max_values: int = 20, n_bins: int | None = None
) -> npt.NDArray[np.str_]:
    """One string label per row: the value, ``__other__`` beyond the top values, or a bin.

    With ``n_bins`` set, a numeric column with more than ``max_values`` distinct
    values is cut into quantile bins labelled ``[low, high)``.
    """
    if values.dtype.kind in "iuf" and n_bins:
        x = values.astype(np.float64)
        finite = x[~np.isnan(x)]
        if np.unique(finite).size > max_values:
            edges = np.unique(np.quantile(finite, np.linspace(0, 1, n_bins + 1)))
            idx = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, edges.size - 2)
            names = np.array([f"[{a:.4g}, {b:.4g})" for a, b in itertools.pairwise(edges)])
            names[-1] = names[-1][:-1] + "]"
            return np.where(np.isnan(x), MISSING, names[idx])
    if values.dtype.kind == "f":
        labels = np.where(np.isnan(values), MISSING, values.astype(str))
    elif values.dtype.kind == "O":
        labels = np.array([MISSING if is_missing(v) else str(v) for v in values], dtype=str)
    else:
        labels = values.astype(str)
    uniq, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    if uniq.size <= max_values:
        return labels
    order = np.lexsort((uniq, -counts))  # most frequent first, ties by name
    keep = np.zeros(uniq.size, dtype=bool)
    keep[order[:max_values]] = True
    keep[uniq == MISSING] = True
    return np.where(keep[inverse], labels, OTHER)


def metrics_by_segment(
    segment: Any,
    y_true: Any,
    y_pred: Any = None,
    scores: Any = None,
    *,
    task: Task,
    max_segments: int = 20,
    **options: Any,
) -> dict[str, dict[str, Any]]:
    """``{segment value: results dict}``, largest segments first.

    ``options`` go to :class:`ClassificationMetrics` (e.g. ``classes``) or
    :class:`RegressionMetrics`; every segment uses the same settings, so the
    per-segment accumulators also merge into the overall one.
    """
    values = to_numpy(segment, "segment")
    if values.ndim != 1:
        raise InputError(f"segment: expected 1-d values, got shape {values.shape}")
    labels = segment_labels(values, max_values=max_segments)
    y_t = to_numpy(y_true, "y_true")
    if y_t.shape[0] != labels.size:
        raise InputError(f"segment: has {labels.size} rows but y_true has {y_t.shape[0]}")
    y_p = None if y_pred is None else to_numpy(y_pred, "y_pred")
    s = None if scores is None else to_numpy(scores, "scores")
    for name, arr in (("y_pred", y_p), ("scores", s)):
        if arr is not None and arr.shape[0] != labels.size:
            raise InputError(f"{name}: has {arr.shape[0]} rows but segment has {labels.size}")
    uniq, counts = np.unique(labels, return_counts=True)
    out: dict[str, dict[str, Any]] = {}
    for value in uniq[np.lexsort((uniq, -counts))]:
        rows = labels == value
        if task == "classification":
            acc_c = ClassificationMetrics(**options)
            acc_c.update(
                y_t[rows], None if y_p is None else y_p[rows], None if s is None else s[rows]
            )
            out[str(value)] = acc_c.results()
        elif task == "regression":
            if y_p is None:
                raise InputError("y_pred: regression needs predictions")
            out[str(value)] = RegressionMetrics(**options).update(y_t[rows], y_p[rows]).results()
        else:
            raise InputError(
                f"task: allowed values are 'classification', 'regression', got {task!r}"
            )
    return out


@dataclass(frozen=True)
class SliceResult:
    """One slice of the data and how much worse the model does on it."""

    columns: tuple[str, ...]
    values: tuple[str, ...]
    n: int
    metric: str
    value: float
    rest: float
    overall: float
    p_value: float
    q_value: float
    significant: bool

    @property
    def name(self) -> str:
        return " and ".join(f"{c} = {v}" for c, v in zip(self.columns, self.values, strict=True))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"name": self.name}


def row_losses(y_true: Any, y_pred: Any, task: Task) -> tuple[npt.NDArray[np.float64], str]:
    """Per-row loss and its metric name: 0/1 error (``error_rate``) or |error| (``mae``).

    Rows with a missing label or prediction get NaN and are left out of the search.
    """
    if task == "classification":
        t = to_numpy(y_true, "y_true")
        p = to_numpy(y_pred, "y_pred")
        if t.ndim != 1 or p.shape != t.shape:
            raise InputError(f"y_pred: shape {p.shape} does not match y_true shape {t.shape}")
        miss = np.array([is_missing(a) or is_missing(b) for a, b in zip(t, p, strict=True)])
        loss = (t != p).astype(np.float64)
        loss[miss] = np.nan
        return loss, "error_rate"
    if task == "regression":
        t_f, p_f = numeric_values(y_true, "y_true"), numeric_values(y_pred, "y_pred")
        if t_f.shape != p_f.shape:
            raise InputError(f"y_pred: has {p_f.size} rows but y_true has {t_f.size}")
        return np.abs(p_f - t_f), "mae"
    raise InputError(f"task: {_TASKS}, got {task!r}")


def worst_segments(
    segments: Any,
    y_true: Any,
    y_pred: Any,
    *,
    task: Task,
    min_support: int = 30,
    max_values: int = 20,
    n_bins: int = 5,
    pairs: bool = True,
    alpha: float = 0.05,
    max_results: int = 20,
    only_significant: bool = True,
) -> list[SliceResult]:
    """Slices of one or two columns that are significantly worse than the rest, worst first."""
    from scipy.stats import false_discovery_control
    from scipy.stats import t as student_t

    loss, metric = row_losses(y_true, y_pred, task)
    cols = _columns(segments)
    for name, arr in cols.items():
        if arr.size != loss.size:
            raise InputError(f"segments[{name!r}]: has {arr.size} rows but y_true has {loss.size}")
    ok = ~np.isnan(loss)
    loss = loss[ok]
    n_total = loss.size
    if n_total == 0:
        return []
    codes: dict[str, tuple[npt.NDArray[np.intp], npt.NDArray[np.str_]]] = {}
    for name, arr in cols.items():
        labels = segment_labels(arr[ok], max_values=max_values, n_bins=n_bins)
        uniq, inverse = np.unique(labels, return_inverse=True)
        codes[name] = (inverse, uniq)
    overall = float(loss.mean())
    s_all, q_all = float(loss.sum()), float(np.sum(loss**2))

    candidates: list[tuple[tuple[str, ...], tuple[str, ...], int, float, float]] = []
    groups: list[tuple[str, ...]] = [(c,) for c in codes]
    if pairs:
        groups += list(itertools.combinations(codes, 2))
    for group in groups:
        combined = np.zeros(n_total, dtype=np.int64)
        sizes = []
        for c in group:
            inverse, uniq = codes[c]
            combined = combined * uniq.size + inverse
            sizes.append(uniq.size)
        width = int(np.prod(sizes))
        n = np.bincount(combined, minlength=width)
        s = np.bincount(combined, weights=loss, minlength=width)
        q = np.bincount(combined, weights=loss**2, minlength=width)
        for cell in np.flatnonzero((n >= min_support) & (n_total - n >= min_support)):
            values = []
            rem = int(cell)
            for c, size in zip(reversed(group), reversed(sizes), strict=True):
                values.append(str(codes[c][1][rem % size]))
                rem //= size
            candidates.append((group, tuple(reversed(values)), int(n[cell]), s[cell], q[cell]))
    if not candidates:
        return []
    n_in = np.array([c[2] for c in candidates], dtype=np.float64)
    s_in = np.array([c[3] for c in candidates])
    q_in = np.array([c[4] for c in candidates])
    n_out, s_out, q_out = n_total - n_in, s_all - s_in, q_all - q_in
    m_in, m_out = s_in / n_in, s_out / n_out
    v_in = np.maximum(q_in - n_in * m_in**2, 0) / (n_in - 1)
    v_out = np.maximum(q_out - n_out * m_out**2, 0) / (n_out - 1)
    se2 = v_in / n_in + v_out / n_out
    with np.errstate(divide="ignore", invalid="ignore"):
        t_stat = (m_in - m_out) / np.sqrt(se2)
        df = se2**2 / ((v_in / n_in) ** 2 / (n_in - 1) + (v_out / n_out) ** 2 / (n_out - 1))
    p = np.where(se2 > 0, student_t.sf(t_stat, np.nan_to_num(df, nan=1.0)), 0.5)
    p = np.where((se2 == 0) & (m_in > m_out), 0.0, p)
    q_val = false_discovery_control(np.clip(p, 0, 1), method="bh")
    results = [
        SliceResult(
            columns=cand[0],
            values=cand[1],
            n=cand[2],
            metric=metric,
            value=float(m_in[i]),
            rest=float(m_out[i]),
            overall=overall,
            p_value=float(p[i]),
            q_value=float(q_val[i]),
            significant=bool(q_val[i] <= alpha and m_in[i] > m_out[i]),
        )
        for i, cand in enumerate(candidates)
    ]
    if only_significant:
        results = [r for r in results if r.significant]
    results.sort(key=lambda r: (not r.significant, -(r.value - r.overall), r.p_value, r.name))
    return results[:max_results]
