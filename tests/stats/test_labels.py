"""join_labels: coverage, delays, orphans, duplicates and bad ids."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from driftline.errors import InputError
from driftline.stats.labels import LabelJoinStats, join_labels


def _frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    t0 = pd.Timestamp("2024-01-01T00:00:00Z")
    predictions = pd.DataFrame(
        {
            "prediction_id": ["a", "b", "c", "d"],
            "timestamp": [t0 + pd.Timedelta(seconds=s) for s in (0, 10, 20, 30)],
            "score": [0.1, 0.7, 0.4, 0.9],
        },
        index=[10, 11, 12, 13],
    )
    labels = pd.DataFrame(
        {
            "prediction_id": ["b", "a", "b", "zzz", None, "c", "c"],
            "timestamp": [t0 + pd.Timedelta(seconds=s) for s in (500, 100, 300, 50, 60, 20, 20)],
            "label": [0, 1, 1, 1, 0, None, 0],
        }
    )
    return predictions, labels


def _check_invariant(stats: LabelJoinStats) -> None:
    assert stats.n_labels == (
        stats.n_labelled
        + stats.n_orphan_labels
        + stats.n_duplicate_labels
        + stats.n_missing_id
        + stats.n_missing_label
    )


def test_join_with_timestamps_pandas() -> None:
    predictions, labels = _frames()
    joined, stats = join_labels(
        predictions, labels, prediction_timestamp="timestamp", label_timestamp="timestamp"
    )
    assert isinstance(joined, pd.DataFrame)
    assert list(joined.index) == [10, 11, 12, 13]
    assert list(joined.columns) == [
        "prediction_id",
        "timestamp",
        "score",
        "timestamp_label",
        "label",
    ]
    # b: two labels, the later one (t=500, label 0) wins; c: the None label is dropped
    assert joined["label"].tolist()[:3] == [1.0, 0.0, 0.0]
    assert np.isnan(joined["label"].iloc[3])
    assert stats.n_predictions == 4 and stats.n_labelled == 3 and stats.coverage == 0.75
    assert stats.n_duplicate_labels == 1  # b's earlier label
    assert stats.n_orphan_labels == 1 and stats.n_missing_id == 1 and stats.n_missing_label == 1
    _check_invariant(stats)
    delays = np.array([100.0, 490.0, 0.0])  # a, b, c
    assert stats.delay_seconds is not None
    assert stats.delay_seconds["p50"] == pytest.approx(np.quantile(delays, 0.5))
    assert stats.delay_seconds["max"] == 490.0 and stats.delay_seconds["min"] == 0.0
    assert stats.n_negative_delay == 0
    assert stats.to_dict()["n_labelled"] == 3


def test_without_timestamps_last_row_wins_pyarrow() -> None:
    predictions, labels = _frames()
    pred_t = pa.Table.from_pandas(predictions, preserve_index=False)
    lab_t = pa.Table.from_pandas(labels.drop(columns="timestamp"), preserve_index=False)
    joined, stats = join_labels(pred_t, lab_t)
    assert isinstance(joined, pa.Table)
    # b: the later row (label 1) wins now that there is no timestamp
    assert joined.column("label").to_pylist() == [1, 1, 0, None]
    assert stats.delay_seconds is None
    _check_invariant(stats)


def test_timestamp_ties_fall_back_to_row_order() -> None:
    predictions = pd.DataFrame({"prediction_id": [1, 2]})
    labels = pd.DataFrame({"prediction_id": [1, 1], "ts": [5.0, 5.0], "label": ["x", "y"]})
    joined, stats = join_labels(predictions, labels, label_timestamp="ts")
    assert joined["label"].iloc[0] == "y" and pd.isna(joined["label"].iloc[1])
    assert stats.n_duplicate_labels == 1


def test_integer_ids_of_different_width_and_negative_delays() -> None:
    predictions = pa.table({"id": pa.array([1, 2, 3], pa.int32()), "t": [100.0, 100.0, 100.0]})
    labels = pa.table({"id": pa.array([3, 1], pa.int64()), "t": [50.0, 160.0], "label": [1, 0]})
    joined, stats = join_labels(
        predictions, labels, on="id", prediction_timestamp="t", label_timestamp="t"
    )
    assert joined.column("label").to_pylist() == [0, None, 1]
    assert stats.n_negative_delay == 1
    assert stats.delay_seconds is not None and stats.delay_seconds["min"] == -50.0


@pytest.mark.parametrize(
    ("pred_ids", "match"),
    [
        pytest.param(
            ["a", "a", "b"], "column 'prediction_id' must be unique; 1 ids repeat", id="dup"
        ),
        pytest.param(["a", None, "b"], "column 'prediction_id' has 1 missing ids", id="missing"),
    ],
)
def test_bad_prediction_ids_raise(pred_ids: list[str | None], match: str) -> None:
    labels = pd.DataFrame({"prediction_id": ["a"], "label": [1]})
    with pytest.raises(InputError, match=match):
        join_labels(pd.DataFrame({"prediction_id": pred_ids}), labels)


def test_missing_columns_and_types_raise() -> None:
    predictions, labels = _frames()
    with pytest.raises(InputError, match="predictions: no column 'request_id'"):
        join_labels(predictions, labels, on="request_id")
    with pytest.raises(InputError, match="labels: no column 'target'"):
        join_labels(predictions, labels, label_column="target")
    with pytest.raises(InputError, match="does not match"):
        join_labels(predictions, pd.DataFrame({"prediction_id": [1.5], "label": [1]}))
    with pytest.raises(InputError, match="score: must hold timestamps"):
        join_labels(predictions, labels.assign(score="x"), label_timestamp="score")
    with pytest.raises(InputError, match="expected a pandas DataFrame or a pyarrow Table"):
        join_labels({"prediction_id": [1]}, labels)


def test_mixed_time_zones_raise() -> None:
    predictions, labels = _frames()
    naive = labels.assign(timestamp=labels["timestamp"].dt.tz_localize(None))
    with pytest.raises(InputError, match="time zone"):
        join_labels(
            predictions, naive, prediction_timestamp="timestamp", label_timestamp="timestamp"
        )


def test_large_random_join_matches_pandas_merge() -> None:
    rng = np.random.default_rng(0)
    n = 5_000
    predictions = pd.DataFrame({"prediction_id": rng.permutation(n), "t": np.zeros(n)})
    ids = rng.integers(0, n + 500, 6_000)
    labels = pd.DataFrame({"prediction_id": ids, "t": rng.random(ids.size), "label": ids % 2})
    joined, stats = join_labels(predictions, labels, label_timestamp="t", prediction_timestamp="t")
    latest = labels.sort_values("t").drop_duplicates("prediction_id", keep="last")
    expected = predictions.merge(latest, on="prediction_id", how="left", suffixes=("", "_label"))
    assert np.array_equal(joined["label"].to_numpy(), expected["label"].to_numpy(), equal_nan=True)
    assert stats.n_labelled == int(expected["label"].notna().sum())
    assert stats.n_orphan_labels == int((latest["prediction_id"] >= n).sum())
    _check_invariant(stats)
