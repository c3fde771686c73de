"""The ``"segments"`` section of a report: every metric per segment value, and the worst slices.

- Per segment value: from the per-segment accumulators of the current profile
  (exact and mergeable; the first ``max_segments`` values of a column get
  their own entry, later ones ``"__other__"``, missing ones ``"__missing__"``).
- Worst slices: :func:`driftline.stats.segments.worst_segments` on the current
  profile's joint reservoir sample of target, prediction and segment columns
  (exact up to the reservoir size, a uniform sample beyond), one and two
  columns, Welch t-test per slice against the rest, Benjamini-Hochberg across
  slices.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from driftline.errors import DriftlineError
from driftline.report.performance import PerformanceOptions, _realized, as_classes, joint_sample
from driftline.stats.profile import DatasetProfile
from driftline.stats.segments import worst_segments


def segments_section(
    cur: DatasetProfile, options: PerformanceOptions | None = None
) -> dict[str, Any] | None:
    """``{"columns": {col: {value: {...}}}, "worst": [...], ...}``; None without segments."""
    o = options or PerformanceOptions()
    part = cur.performance
    if part is None or not part.spec.segments:
        return None
    spec = part.spec
    columns: dict[str, dict[str, Any]] = {}
    for name, values in part.segment_results().items():
        columns[name] = {
            value: {"n": res["n"], "computed": res["computed"], "realized": _realized(res)}
            for value, res in values.items()
        }
    out: dict[str, Any] = {
        "computed": (
            "per-segment accumulators of the profile: exact; at most "
            f"{spec.max_segments} values per column, later values in __other__"
        ),
        "max_segments": spec.max_segments,
        "columns": columns,
        "worst": [],
    }
    if o.worst_segments and part.n_labelled and (spec.prediction or len(spec.scores) == 1):
        out["worst"], out["worst_computed"] = _worst(cur, o)
    return out


def _worst(cur: DatasetProfile, o: PerformanceOptions) -> tuple[list[dict[str, Any]], str]:
    part = cur.performance
    assert part is not None
    spec = part.spec
    pred_cols = [spec.prediction] if spec.prediction else list(spec.scores)
    sample = joint_sample(cur, [spec.target, *pred_cols, *spec.segments])
    if spec.task == "regression":
        y_true: Any = sample[spec.target].astype(np.float64)
        y_pred: Any = sample[pred_cols[0]].astype(np.float64)
        ok = ~np.isnan(y_true)
        task = "regression"
    else:
        classes = part.classes
        y_true = as_classes(sample[spec.target], classes)
        if spec.prediction:
            y_pred = as_classes(sample[spec.prediction], classes)
        else:  # one score column: P(positive) >= 0.5
            s = sample[pred_cols[0]].astype(np.float64)
            y_pred = np.array(
                [None if np.isnan(v) else classes[int(v >= 0.5)] for v in s], dtype=object
            )
        ok = np.array([v is not None for v in y_true], dtype=bool)
        task = "classification"
    segs = {c: sample[c][ok] for c in spec.segments}
    n = int(ok.sum())
    how = f"reservoir sample of {n} labelled rows" + (
        "" if n >= part.n_labelled else f" (of {part.n_labelled})"
    )
    try:
        found = worst_segments(
            segs,
            y_true[ok],
            y_pred[ok],
            task=task,  # type: ignore[arg-type]
            min_support=o.min_support,
            alpha=o.alpha,
            max_values=spec.max_segments,
        )
    except DriftlineError as exc:
        return [], f"not computed: {exc}"
    return [r.to_dict() for r in found], how
