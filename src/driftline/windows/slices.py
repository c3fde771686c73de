"""Worst slices of a closed window: where the model does significantly worse than elsewhere.

The search is the HTML report's (:func:`driftline.stats.segments.worst_segments`,
docs/report-format.md), run on a window's labelled predictions: slices of one
column (``site = north``) or two (``site = north and plan = free``) whose per-row
loss (classification: the 0/1 error; regression: the absolute error) is higher
than on the rest of the window's labelled rows. Each slice with at least
``min_support`` rows (and as many outside it) gets a one-sided Welch t-test
against its complement; Benjamini-Hochberg across every slice tested keeps the
expected share of false discoveries among the reported slices at ``alpha``
(when no slice differs, the chance that any is reported is at most ``alpha``).

The cost is bounded by :class:`SliceOptions`: at most ``max_columns`` slice
columns (the events' segment keys first, then their features, strings before
numbers, in the order first seen; ``columns`` names them instead), at most
``max_values`` values a column (the rest ``__other__``; numbers with more
values in ``n_bins`` quantile bins), at most ``max_rows`` labelled rows (a
uniform, seeded sample beyond).

One point per window, all traffic (docs/collector.md, "Worst slices"):
``slices.significant``, the number of significant slices (0 when none), ``n``
the labelled rows searched, ``details``: ``slices`` (the worst ones, at most
``max_results``: name, rows, loss, rest, gap, p and q values), ``tested``,
``columns``, ``metric`` (``error_rate`` or ``mae``), ``overall``, ``alpha``,
``min_support``. Fewer than ``2 * min_support`` labelled rows: no value, status
``insufficient_data`` and ``details.reason`` (no slice can be tested).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from driftline.errors import ConfigError, DriftlineError
from driftline.stats.segments import worst_segments
from driftline.windows.labelled import label_key
from driftline.windows.points import Points

METRIC = "slices.significant"


@dataclass(frozen=True)
class SliceOptions:
    """``collector.slices`` (docs/collector.md, "Worst slices")."""

    #: slice columns by name (segment keys or features); empty: chosen as the module says
    columns: tuple[str, ...] = ()
    max_columns: int = 6
    max_values: int = 20
    n_bins: int = 5
    #: also slices of two columns (``a = v and b = w``)
    pairs: bool = True
    min_support: int = 30
    alpha: float = 0.05
    #: slices kept in the point's details (the worst significant ones)
    max_results: int = 5
    max_rows: int = 20_000

    def __post_init__(self) -> None:
        for name, least in (
            ("max_columns", 1), ("max_values", 2), ("n_bins", 2), ("min_support", 2),
            ("max_results", 1), ("max_rows", 10),
        ):  # fmt: skip
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ConfigError(f"slices {name}={value!r}; allowed: a whole number >= {least}")
        if not 0 < self.alpha < 1:
            raise ConfigError(f"slices alpha={self.alpha!r}; allowed: between 0 and 1")


#: One labelled prediction: (label, prediction, segment object, features object).
Row = tuple[Any, Any, Mapping[str, Any] | None, Mapping[str, Any] | None]


def _numeric(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def slice_columns(rows: Sequence[Row], opts: SliceOptions) -> dict[str, np.ndarray]:
    """The slice columns of ``rows``: name -> one value per row (floats, or objects)."""
    seg_keys: dict[str, None] = {}
    text_feats: dict[str, None] = {}
    num_feats: dict[str, None] = {}
    for _, _, seg, feats in rows:
        for k, v in (seg or {}).items():
            if v is not None:
                seg_keys.setdefault(str(k))
        for k, v in (feats or {}).items():
            if v is None or isinstance(v, dict | list):
                continue
            (num_feats if _numeric(v) else text_feats).setdefault(str(k))
    if opts.columns:
        names = list(opts.columns)
    else:
        names = [*seg_keys, *(k for k in text_feats if k not in seg_keys)]
        names += [k for k in num_feats if k not in seg_keys and k not in text_feats]
    out: dict[str, np.ndarray] = {}
    for name in names[: opts.max_columns]:
        from_seg = name in seg_keys
        values = [((seg if from_seg else feats) or {}).get(name) for _, _, seg, feats in rows]
        present = [v for v in values if v is not None]
        if not present:
            continue
        if all(_numeric(v) for v in present):
            out[name] = np.array([math.nan if v is None else float(v) for v in values])
        else:
            out[name] = np.array(
                [None if v is None else str(label_key(v)) for v in values], dtype=object
            )
    return out


def slice_point(
    points: Points, seg: str, rows: Sequence[Row], task: str | None, opts: SliceOptions
) -> None:
    """Add the window's ``slices.significant`` point (see the module doc); no labelled rows:
    no point."""
    pairs = [r for r in rows if r[0] is not None and r[1] is not None]
    if not pairs:
        return
    if len(pairs) > opts.max_rows:
        pick = np.random.default_rng(0).choice(len(pairs), opts.max_rows, replace=False)
        pairs = [pairs[i] for i in np.sort(pick)]
    n = len(pairs)
    base: dict[str, Any] = {"alpha": opts.alpha, "min_support": opts.min_support}
    if n < 2 * opts.min_support:
        reason = (
            f"{n} labelled predictions: a slice needs {opts.min_support} rows in it and as "
            "many outside it"
        )
        points.add(seg, METRIC, None, status="insufficient_data", n=n,
                   details={**base, "reason": reason})  # fmt: skip
        return
    regression = task == "regression" or (
        task is None
        and all(_numeric(y) and _numeric(p) for y, p, _, _ in pairs)
        and any(isinstance(v, float) and not v.is_integer() for y, p, _, _ in pairs for v in (y, p))
    )
    cols = slice_columns(pairs, opts)
    if not cols:
        reason = "the events carry no segment keys or features to slice by"
        points.add(seg, METRIC, None, status="insufficient_data", n=n,
                   details={**base, "reason": reason})  # fmt: skip
        return
    try:
        if regression:
            y_true: Any = np.array([float(y) for y, _, _, _ in pairs])
            y_pred: Any = np.array([float(p) for _, p, _, _ in pairs])
        else:
            y_true = np.array([str(label_key(y)) for y, _, _, _ in pairs], dtype=object)
            y_pred = np.array([str(label_key(p)) for _, p, _, _ in pairs], dtype=object)
        found = worst_segments(
            cols, y_true, y_pred, task="regression" if regression else "classification",
            min_support=opts.min_support, max_values=opts.max_values, n_bins=opts.n_bins,
            pairs=opts.pairs, alpha=opts.alpha, max_results=1_000_000, only_significant=False,
        )  # fmt: skip
    except (DriftlineError, ValueError, TypeError) as exc:
        points.add(seg, METRIC, None, status="insufficient_data", n=n,
                   details={**base, "reason": f"not computed: {exc}"})  # fmt: skip
        return
    significant = [r for r in found if r.significant]
    details = {
        **base,
        "tested": len(found),
        "columns": list(cols),
        "metric": "mae" if regression else "error_rate",
        "overall": found[0].overall if found else None,
        "slices": [
            {
                "name": r.name, "n": r.n, "value": r.value, "rest": r.rest,
                "gap": r.value - r.overall, "p_value": r.p_value, "q_value": r.q_value,
            }
            for r in significant[: opts.max_results]
        ],
    }  # fmt: skip
    if not found:
        details["reason"] = f"no slice has {opts.min_support} rows in it and as many outside it"
    points.add(
        seg,
        METRIC,
        len(significant),
        status="fail" if significant else "ok",
        n=n,
        details=details,
    )


__all__ = ["METRIC", "SliceOptions", "slice_columns", "slice_point"]
