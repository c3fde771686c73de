"""What a window's labelled predictions say: quality from scores, and label drift.

The evaluator joins a window's labels to its predictions (raw events) and
gets ``(label, prediction, scores)`` rows. From them:

- :func:`performance_results`: accuracy, precision, recall, F1 from the
  predicted class, and, when the events carry ``scores``, ROC AUC, PR AUC,
  log loss, Brier score and expected calibration error (the same
  :class:`~driftline.stats.performance.ClassificationMetrics` accumulator as
  ``driftline.compare``; regression gets MAE, RMSE, ...).
- :func:`label_drift`: the distribution of the window's labels against the
  reference's target column, with the drift rule of the features (docs/drift.md).

Scores are read the way the SDK sends them (docs/sdk.md): a mapping by class
(``{"cat": 0.7, "dog": 0.3}``, or by score column name ``p_cat``), a list in
the order of the sorted classes, or one number, the probability of the
positive (second) class of a binary model. A row whose scores cannot be read
is left out of the score metrics and counted (``excluded.nan_score``).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from driftline.errors import InputError
from driftline.schema import ColumnSpec, Role, Schema
from driftline.stats.drift.rules import DriftOptions, evaluate_column
from driftline.stats.performance import ClassificationMetrics, RegressionMetrics
from driftline.stats.profile import DatasetProfile

#: Score metrics (need scores); their points count the scored rows in ``n``.
SCORE_METRICS = ("roc_auc", "pr_auc", "log_loss", "brier", "ece")


def label_key(v: Any) -> Any:
    """A label or class as a hashable key (``1.0`` -> ``1``, ``True`` -> ``"true"``)."""
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v if isinstance(v, int | str) else str(v)


def _score_classes(rows: Sequence[Any], known: set[Any]) -> set[Any]:
    """Classes named by score mappings (``p_`` prefixes stripped when that names a class)."""
    by_text = {str(c): c for c in known}
    ints = bool(known) and all(isinstance(c, int) for c in known)
    out: set[Any] = set()
    for s in rows:
        if type(s) is not dict:
            continue
        for k in s:
            out.add(_class_of(str(k), by_text, ints))
    return out


def _class_of(key: str, by_text: dict[str, Any], ints: bool) -> Any:
    if key in by_text:
        return by_text[key]
    if key.startswith("p_") and key[2:] in by_text:
        return by_text[key[2:]]
    bare = key[2:] if key.startswith("p_") else key
    if ints and bare.lstrip("-").isdigit():
        return int(bare)
    return bare


def score_matrix(scores: Sequence[Any], classes: list[Any]) -> np.ndarray | None:
    """Scores as ClassificationMetrics takes them: P(second class), or one column per class.

    None when no row has scores; rows that cannot be read are NaN (excluded and counted).
    One pass in Python over the rows (the column of each key is looked up once per key
    set), one array at the end.
    """
    k = len(classes)
    by_text = {str(c): c for c in classes}
    ints = all(isinstance(c, int) for c in classes)
    where = {c: j for j, c in enumerate(classes)}
    columns: dict[tuple[Any, ...], list[int]] = {}
    nan = math.nan
    out: list[list[float]] = []
    seen = False
    for s in scores:
        row = [nan] * k
        if s is None:
            out.append(row)
            continue
        seen = True
        if type(s) is dict:
            keys = tuple(s)
            cols = columns.get(keys)
            if cols is None:
                cols = columns[keys] = [
                    where.get(_class_of(str(key), by_text, ints), -1) for key in keys
                ]
            for j, v in zip(cols, s.values(), strict=True):
                if j >= 0 and _number(v):
                    row[j] = float(v)
            if k == 2 and (row[0] != row[0]) != (row[1] != row[1]):  # one side: 1 - the other
                if row[0] != row[0]:
                    row[0] = 1.0 - row[1]
                else:
                    row[1] = 1.0 - row[0]
        elif type(s) is list and len(s) == k and all(_number(v) for v in s):
            row = [float(v) for v in s]
        elif k == 2 and _number(s):
            row = [1.0 - float(s), float(s)]
        out.append(row)
    if not seen:
        return None
    arr = np.asarray(out, dtype=np.float64).reshape(len(out), k)
    bad = ~np.isfinite(arr).all(axis=1) | (arr < 0).any(axis=1) | (arr > 1).any(axis=1)
    arr[bad] = np.nan
    return arr[:, 1] if k == 2 else arr


def _number(v: Any) -> bool:
    t = type(v)
    if t is float:
        return bool(v - v == 0.0)  # finite (inf - inf and nan - nan are nan)
    return (t is int or (isinstance(v, int | float) and t is not bool)) and math.isfinite(v)


def performance_results(
    rows: Sequence[tuple[Any, Any, Any]], task: str | None
) -> dict[str, Any] | None:
    """Classification or regression metrics of ``(label, prediction, scores)`` rows.

    Classifiers get the score metrics too when the rows carry scores.
    """
    pairs = [(y, p, s) for y, p, s in rows if y is not None and p is not None]
    if not pairs:
        return None
    ys = [y for y, _, _ in pairs]
    ps = [p for _, p, _ in pairs]
    if task is None:
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in ys + ps)
        fractional = any(isinstance(v, float) and not v.is_integer() for v in ys + ps)
        task = "regression" if numeric and fractional else "classification"
    try:
        if task == "regression":
            return (
                RegressionMetrics().update(np.asarray(ys, float), np.asarray(ps, float)).results()
            )
        yk = [label_key(v) for v in ys]
        pk = [label_key(v) for v in ps]
        known = set(yk) | set(pk)
        raw_scores = [s for _, _, s in pairs]
        named = known | _score_classes(raw_scores, known)
        if len({type(c) for c in named}) > 1:  # mixed kinds cannot be sorted: compare as text
            named = {str(c) for c in named}
            yk, pk = [str(c) for c in yk], [str(c) for c in pk]
        classes = sorted(named, key=lambda c: (str(type(c)), c))
        if not 2 <= len(classes) <= 100:
            return None
        acc = ClassificationMetrics(
            classes, on_unknown_class="exclude", on_unnormalised="renormalise",
            prob_tolerance=1e-3,
        )  # fmt: skip
        scores = score_matrix(raw_scores, classes)
        if scores is None:
            return acc.update(yk, pk).results()
        return acc.update(yk, pk, scores).results()
    except (InputError, ValueError, TypeError):
        return None


def target_column(ref: DatasetProfile) -> str | None:
    """The reference's target column, if it has one."""
    names = ref.schema.with_role(Role.TARGET)
    return names[0] if names else None


def label_drift(
    ref: DatasetProfile, labels: Sequence[Any], options: DriftOptions
) -> dict[str, Any] | None:
    """The window's labels against the reference's target: the drift result as a dict.

    None when the reference has no target column. The column's drift method
    (per_column, global or auto) decides; too few labels give ``drifted=None``
    with the reason (``min_samples``).
    """
    name = target_column(ref)
    if name is None:
        return None
    ref_col = ref.columns[name]
    spec = ColumnSpec(name, ref_col.kind, Role.FEATURE)
    cur = DatasetProfile(Schema({name: spec}), performance=None)
    values = [label_key(v) if v is not None else None for v in labels]
    if ref_col.numeric:
        arr = pa.array([float(v) if _number(v) else None for v in values], pa.float64())  # type: ignore[arg-type]
    else:
        arr = pa.array([None if v is None else str(v) for v in values], pa.string())
    cur.update(pa.table({name: arr}), np.random.default_rng(0))
    as_feature = copy.copy(ref_col)
    as_feature.spec = spec
    result = evaluate_column(as_feature, cur.columns[name], options).decision
    return {**result.to_dict(), "column": name}
