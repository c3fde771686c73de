"""Join late labels to predictions by id, and say how the join went.

Rules (docs/performance.md, "Label join"):

- ``predictions[on]`` must exist, have no missing values and be unique; else
  :class:`~driftline.errors.InputError` naming the column.
- Label rows without an id or without a label value are dropped and counted.
- Several labels for one id: the one with the latest ``label_timestamp`` wins
  (ties and missing timestamps: the later row wins; without a timestamp column
  the last row wins); the others are counted as duplicates.
- Labels whose id matches no prediction are orphans: counted, not joined.
- Every label row is counted exactly once::

      n_labels = n_labelled + n_orphan_labels + n_duplicate_labels
                 + n_missing_id + n_missing_label

- The label columns (all but ``on``) are appended to the predictions; a name
  that is already a prediction column gets ``suffix``. Predictions without a
  label get nulls. The result has the predictions' type (pandas or pyarrow)
  and their row order.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from driftline.errors import InputError

DELAY_QUANTILES = (0.5, 0.9, 0.99)

Frame = TypeVar("Frame")


@dataclass(frozen=True)
class LabelJoinStats:
    """What happened in :func:`join_labels`; delays are in seconds."""

    n_predictions: int
    n_labels: int
    n_labelled: int
    coverage: float | None
    n_orphan_labels: int
    n_duplicate_labels: int
    n_missing_id: int
    n_missing_label: int
    delay_seconds: dict[str, float] | None
    n_negative_delay: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _is_pandas(obj: Any) -> bool:
    return type(obj).__module__.startswith("pandas") and hasattr(obj, "columns")


def _to_arrow(frame: Any, name: str) -> pa.Table:
    if isinstance(frame, pa.Table):
        return frame
    if _is_pandas(frame):
        try:
            return pa.Table.from_pandas(frame, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as exc:
            raise InputError(f"{name}: cannot be read as a table ({exc})") from exc
    raise InputError(f"{name}: expected a pandas DataFrame or a pyarrow Table, got {type(frame)}")


def _column(table: pa.Table, column: str, name: str) -> pa.ChunkedArray:
    if column not in table.column_names:
        raise InputError(f"{name}: no column {column!r}; columns are {table.column_names[:20]}")
    return table.column(column)


def _seconds(col: pa.ChunkedArray, field: str) -> tuple[npt.NDArray[np.float64], str | None]:
    """Epoch seconds (NaN for missing) and the time zone of a timestamp column."""
    t = col.type
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        tz = t.tz if pa.types.is_timestamp(t) else None
        ns = pc.cast(col, pa.timestamp("ns", tz=tz)).cast(pa.int64())
        return ns.to_numpy(zero_copy_only=False).astype(np.float64) / 1e9, tz
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        return col.to_numpy(zero_copy_only=False).astype(np.float64), None
    raise InputError(f"{field}: must hold timestamps or epoch seconds, got type {t}")


def _ids(col: pa.ChunkedArray, target: pa.DataType, field: str, other: str) -> pa.ChunkedArray:
    """Label ids in the predictions' id type; only integer widths and string kinds convert."""
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    if col.type == target:
        return col
    kinds = (pa.types.is_integer, pa.types.is_string, pa.types.is_large_string)
    same_kind = any(k(col.type) and k(target) for k in kinds) or (
        pa.types.is_string(col.type) and pa.types.is_large_string(target)
    )
    same_kind |= pa.types.is_large_string(col.type) and pa.types.is_string(target)
    if same_kind or pa.types.is_null(col.type):
        try:
            return col.cast(target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise InputError(f"{field}: ids do not fit {other} id type {target} ({exc})") from exc
    raise InputError(f"{field}: id type {col.type} does not match {other} id type {target}")


def join_labels(
    predictions: Frame,
    labels: Any,
    on: str = "prediction_id",
    *,
    label_column: str = "label",
    prediction_timestamp: str | None = None,
    label_timestamp: str | None = None,
    suffix: str = "_label",
) -> tuple[Frame, LabelJoinStats]:
    """Left-join ``labels`` onto ``predictions`` by ``on``; see the module doc for the rules.

    Label delays (label time minus prediction time) are reported when both
    timestamp columns are named; label timestamps before their prediction are
    counted in ``n_negative_delay`` (usually a clock or id problem).
    """
    pred = _to_arrow(predictions, "predictions")
    lab = _to_arrow(labels, "labels")
    pred_ids = _column(pred, on, "predictions")
    if pa.types.is_dictionary(pred_ids.type):
        pred_ids = pred_ids.cast(pred_ids.type.value_type)
    if pred_ids.null_count:
        raise InputError(
            f"predictions: column {on!r} has {pred_ids.null_count} missing ids; "
            "every prediction needs an id to receive a label"
        )
    if pc.count_distinct(pred_ids).as_py() != len(pred_ids):
        counts = pc.value_counts(pred_ids)
        values, times = counts.field("values").to_pylist(), counts.field("counts").to_pylist()
        dup = [v for v, c in zip(values, times, strict=True) if c > 1]
        raise InputError(
            f"predictions: column {on!r} must be unique; {len(dup)} ids repeat, e.g. {dup[:5]}"
        )
    lab_ids = _ids(_column(lab, on, "labels"), pred_ids.type, f"labels[{on!r}]", "predictions'")
    values = _column(lab, label_column, "labels")
    n_labels = lab.num_rows

    missing_id = np.asarray(lab_ids.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    missing_value = ~missing_id & np.asarray(
        values.is_null(nan_is_null=True).to_numpy(zero_copy_only=False), dtype=bool
    )
    valid = ~missing_id & ~missing_value
    rows = np.flatnonzero(valid)

    # last label per id wins: order by (id, timestamp, row) and keep each group's end
    ts_lab = None
    if label_timestamp is not None:
        ts_lab, tz_lab = _seconds(_column(lab, label_timestamp, "labels"), label_timestamp)
    valid_ids = lab_ids.take(pa.array(rows))
    codes = pc.index_in(valid_ids, value_set=pc.unique(valid_ids)).to_numpy(zero_copy_only=False)
    codes = np.asarray(codes, dtype=np.int64)
    if ts_lab is not None:
        t = np.nan_to_num(ts_lab[rows], nan=-np.inf)
        order = np.lexsort((rows, t, codes))
    else:
        order = np.lexsort((rows, codes))
    sorted_codes = codes[order]
    last = np.r_[sorted_codes[1:] != sorted_codes[:-1], True] if rows.size else np.zeros(0, bool)
    kept = rows[order[last]]
    n_duplicates = int(rows.size - kept.size)

    kept_ids = lab_ids.take(pa.array(kept))
    target = pc.index_in(kept_ids, value_set=pred_ids).to_numpy(zero_copy_only=False)
    matched = ~np.isnan(np.asarray(target, dtype=np.float64))
    target_rows = np.asarray(target[matched], dtype=np.int64)
    label_rows = kept[matched]
    n_pred = pred.num_rows
    label_of = np.full(n_pred, -1, dtype=np.int64)
    label_of[target_rows] = label_rows
    n_labelled = int(matched.sum())

    delay = None
    n_negative = 0
    if prediction_timestamp is not None and label_timestamp is not None:
        assert ts_lab is not None
        ts_pred, tz_pred = _seconds(
            _column(pred, prediction_timestamp, "predictions"), prediction_timestamp
        )
        if (tz_pred is None) != (tz_lab is None):
            raise InputError(
                f"{label_timestamp}/{prediction_timestamp}: one timestamp column has a time "
                "zone and the other has none; give both the same kind"
            )
        d = ts_lab[label_rows] - ts_pred[target_rows]
        d = d[~np.isnan(d)]
        n_negative = int((d < 0).sum())
        if d.size:
            delay = {
                "min": float(d.min()),
                **{f"p{round(q * 100)}": float(np.quantile(d, q)) for q in DELAY_QUANTILES},
                "max": float(d.max()),
                "mean": float(d.mean()),
            }

    stats = LabelJoinStats(
        n_predictions=n_pred,
        n_labels=n_labels,
        n_labelled=n_labelled,
        coverage=n_labelled / n_pred if n_pred else None,
        n_orphan_labels=int((~matched).sum()),
        n_duplicate_labels=n_duplicates,
        n_missing_id=int(missing_id.sum()),
        n_missing_label=int(missing_value.sum()),
        delay_seconds=delay,
        n_negative_delay=n_negative,
    )
    extra = [c for c in lab.column_names if c != on]
    names = [c + suffix if c in pred.column_names else c for c in extra]
    return _attach(predictions, labels, extra, names, label_of), stats


def _attach(
    predictions: Any,
    labels: Any,
    columns: list[str],
    names: list[str],
    label_of: npt.NDArray[np.int64],
) -> Any:
    has = label_of >= 0
    if _is_pandas(predictions):
        import pandas as pd

        lab = labels if _is_pandas(labels) else labels.to_pandas()
        taken = lab[columns].iloc[np.where(has, label_of, 0)].reset_index(drop=True)
        taken.columns = pd.Index(names)
        taken.index = predictions.index
        if not has.all():
            taken = taken.astype(
                {c: "float64" for c, k in taken.dtypes.items() if k.kind in "iub"}
            ).where(pd.Series(has, index=predictions.index), axis=0)
        return pd.concat([predictions, taken], axis=1)
    lab_t = _to_arrow(labels, "labels").select(columns)
    taken_t = lab_t.take(pa.array(label_of, mask=~has))
    out: pa.Table = predictions
    for name, col in zip(names, taken_t.columns, strict=True):
        out = out.append_column(name, col)
    return out
