"""The performance part of a dataset profile: equals scikit-learn, merges, serialises, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

import driftline
from driftline import DatasetProfile, InputError, PerformanceSpec
from driftline.stats._codec import unpack
from driftline.stats.performance.spec import classes_from_names

BINARY = {"score": {"role": "score"}, "seg": {"role": "segment"}}


def _binary(rng: np.random.Generator, n: int, missing: float = 0.1) -> pd.DataFrame:
    p = rng.random(n)
    y = (rng.random(n) < p).astype(float)
    y[rng.random(n) < missing] = np.nan
    return pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "score": p,
            "prediction": (p >= 0.5).astype(int),
            "target": pd.array(y, dtype="Int64"),
            "seg": rng.choice(["a", "b", "c"], n),
        }
    )


def test_binary_equals_sklearn_on_the_labelled_rows(rng: np.random.Generator) -> None:
    df = _binary(rng, 3000)
    part = driftline.profile(df, BINARY).performance
    assert part is not None and part.task == "binary"
    lab = df[df.target.notna()]
    y = lab.target.astype(int)
    assert part.n_labelled == len(lab) and part.n_unlabelled == len(df) - len(lab)
    r = part.results()
    assert r is not None
    assert r["accuracy"] == pytest.approx(skm.accuracy_score(y, lab.prediction), abs=1e-12)
    assert r["f1"] == pytest.approx(skm.f1_score(y, lab.prediction), abs=1e-12)
    assert r["roc_auc"] == pytest.approx(skm.roc_auc_score(y, lab.score), abs=1e-9)
    assert r["log_loss"] == pytest.approx(skm.log_loss(y, lab.score), abs=1e-9)
    assert r["brier"] == pytest.approx(skm.brier_score_loss(y, lab.score), abs=1e-12)
    top = np.maximum(df.score, 1 - df.score).mean()  # over every row, labelled or not
    assert part.mean_confidence == pytest.approx(top, abs=1e-12)


def test_multiclass_classes_from_score_column_names(rng: np.random.Generator) -> None:
    n = 2000
    probs = rng.dirichlet([1, 1, 1], n)
    y = np.array(["cat", "dog", "emu"])[[rng.choice(3, p=p) for p in probs]]
    df = pd.DataFrame({"p_cat": probs[:, 0], "p_dog": probs[:, 1], "p_emu": probs[:, 2]})
    df["label"] = y
    schema = {c: {"role": "score"} for c in ("p_cat", "p_dog", "p_emu")}
    part = driftline.profile(df, schema).performance
    assert part is not None and part.classes == ["cat", "dog", "emu"]
    r = part.results()
    assert r is not None and r["task"] == "multiclass"
    pred = np.array(["cat", "dog", "emu"])[probs.argmax(axis=1)]
    assert r["accuracy"] == pytest.approx(skm.accuracy_score(y, pred), abs=1e-12)
    assert r["roc_auc"] == pytest.approx(
        skm.roc_auc_score(y, probs, multi_class="ovr", average="macro"), abs=1e-9
    )


def test_regression_equals_sklearn(rng: np.random.Generator) -> None:
    y = rng.normal(10, 3, 1500)
    y[::7] = np.nan
    pred = y + rng.normal(0, 1, y.size)
    pred[::7] = rng.normal(10, 3, pred[::7].size)
    part = driftline.profile({"y": y, "prediction": pred}, {"y": {"role": "target"}}).performance
    assert part is not None and part.task == "regression"
    ok = ~np.isnan(y)
    r = part.results()
    assert r is not None and r["n"] == ok.sum() and part.n_unlabelled == (~ok).sum()
    assert r["mae"] == pytest.approx(skm.mean_absolute_error(y[ok], pred[ok]), abs=1e-9)
    assert r["rmse"] == pytest.approx(skm.root_mean_squared_error(y[ok], pred[ok]), abs=1e-9)
    assert r["r2"] == pytest.approx(skm.r2_score(y[ok], pred[ok]), abs=1e-9)


def test_task_override_and_no_roles() -> None:
    df = pd.DataFrame({"target": [0, 1, 2, 1] * 10, "prediction": [0, 1, 1, 1] * 10})
    assert driftline.profile(df).performance.task == "multiclass"  # type: ignore[union-attr]
    spec = PerformanceSpec.infer(driftline.profile(df).schema, task="regression")
    reg = DatasetProfile(driftline.profile(df).schema, performance=spec)
    reg.update(pa.Table.from_pandas(df))
    assert reg.performance is not None and reg.performance.task == "regression"
    plain = driftline.profile(pd.DataFrame({"x": [1.0, 2.0]}))
    assert plain.performance is None
    version, _, arrays = unpack("dataset", plain.to_bytes(), 2)
    assert version == 1 and "performance" not in arrays  # unchanged for old readers


def test_classes_from_names() -> None:
    assert classes_from_names(["proba_0", "proba_1", "proba_2"]) == [0, 1, 2]
    assert classes_from_names(["score_cat", "score_car"]) == ["cat", "car"]
    assert classes_from_names(["cat", "car"]) == ["cat", "car"]  # no separator: kept whole


def test_score_columns_not_named_by_class_say_how_to_name_them(rng: np.random.Generator) -> None:
    """wine's classifier saved as p0, p1, p2: the classes became 'p0', 'p1', 'p2' and the
    error said only that the labels are numbers; it says how to name the columns."""
    probs = rng.dirichlet([1, 1, 1], 300)
    df = pd.DataFrame({"p0": probs[:, 0], "p1": probs[:, 1], "p2": probs[:, 2]})
    df["target"] = rng.integers(0, 3, 300)
    schema = {c: {"role": "score"} for c in ("p0", "p1", "p2")} | {"target": {"role": "target"}}
    with pytest.raises(InputError, match="labels are numbers but the classes are") as err:
        driftline.profile(df, schema)
    assert "name each score column after its class" in str(err.value)
    assert "proba_0, proba_1 -> 0, 1" in str(err.value)
    renamed = df.rename(columns={"p0": "p_0", "p1": "p_1", "p2": "p_2"})
    schema = {c: {"role": "score"} for c in ("p_0", "p_1", "p_2")} | {"target": {"role": "target"}}
    part = driftline.profile(renamed, schema).performance
    assert part is not None and part.task == "multiclass"


def test_serialisation_and_old_profiles_load(rng: np.random.Generator) -> None:
    prof = driftline.profile(_binary(rng, 500), BINARY)
    data = prof.to_bytes()
    assert unpack("dataset", data, 2)[0] == 2
    back = DatasetProfile.from_bytes(data)
    assert back.performance is not None
    assert back.performance.results() == prof.performance.results()  # type: ignore[union-attr]
    assert back.performance.segment_results() == prof.performance.segment_results()  # type: ignore[union-attr]
    assert back.performance.mean_confidence == prof.performance.mean_confidence  # type: ignore[union-attr]
    prof.performance = None  # what a version-1 profile of the same data looks like
    old = DatasetProfile.from_bytes(prof.to_bytes())
    assert unpack("dataset", prof.to_bytes(), 2)[0] == 1 and old.performance is None


def _rounded(x: object) -> object:
    """Floats to 9 significant digits: sums in another order differ in the last bits."""
    if isinstance(x, dict):
        return {k: _rounded(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_rounded(v) for v in x]
    return float(f"{x:.9g}") if isinstance(x, float) else x


def _state(p: DatasetProfile) -> tuple[object, ...]:
    part = p.performance
    assert part is not None
    return (
        _rounded(part.results()),
        _rounded(part.segment_results()),
        part.n_rows,
        part.n_unlabelled,
        round(part.confidence_sum, 9),
        part.confidence_n,
    )


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 300), st.integers(1, 300))
def test_merge_equals_one_pass(seed: int, n_a: int, n_b: int) -> None:
    rng = np.random.default_rng(seed)
    a, b = _binary(rng, n_a, 0.3), _binary(rng, n_b, 0.3)
    a.loc[0, "target"] = 1  # a labelled row of each class fixes the two classes
    a.loc[min(1, n_a - 1), "prediction"] = 0
    whole = driftline.profile(pd.concat([a, b], ignore_index=True), BINARY)
    merged = driftline.profile(a, BINARY).merge(driftline.profile(b, BINARY))
    assert _state(merged) == _state(whole)
    again = DatasetProfile.from_bytes(merged.to_bytes())
    assert _state(again) == _state(whole)


def test_merge_keeps_inputs_independent(rng: np.random.Generator) -> None:
    a = DatasetProfile(driftline.profile(_binary(rng, 10), BINARY).schema)
    b = driftline.profile(_binary(rng, 200), BINARY)
    before = _state(b)
    a.merge(b)
    a.update(pa.Table.from_pandas(_binary(rng, 100)))
    assert _state(b) == before


def test_segments_bounded_rest_grouped(rng: np.random.Generator) -> None:
    df = _binary(rng, 2000, 0.0)
    df["seg"] = rng.integers(0, 50, len(df)).astype(str)
    spec = PerformanceSpec(
        target="target",
        prediction="prediction",
        scores=("score",),
        segments=("seg",),
        max_segments=5,
    )
    schema = driftline.profile(df, BINARY).schema
    prof = DatasetProfile(schema, performance=spec).update(pa.Table.from_pandas(df))
    seg = prof.performance.segment_results()["seg"]  # type: ignore[union-attr]
    assert len(seg) == 6 and "__other__" in seg
    assert sum(r["n"] for r in seg.values()) == len(df)


# -- bad input -------------------------------------------------------------------------------


def test_label_types_that_do_not_match_name_the_columns() -> None:
    df = pd.DataFrame({"target": ["yes", "no"] * 20, "prediction": [1, 0] * 20})
    with pytest.raises(InputError, match=r"target column 'target'.*prediction column 'prediction'"):
        driftline.profile(df)


def test_unnormalised_probabilities_raise_naming_the_score_columns(
    rng: np.random.Generator,
) -> None:
    probs = rng.random((50, 3))  # rows do not sum to 1
    df = pd.DataFrame(probs, columns=["p_0", "p_1", "p_2"])
    df["target"] = rng.integers(0, 3, 50)
    schema = {c: {"role": "score"} for c in ("p_0", "p_1", "p_2")}
    with pytest.raises(InputError, match=r"score columns \['p_0', 'p_1', 'p_2'\].*sum to 1"):
        driftline.profile(df, schema)
    spec = PerformanceSpec(
        target="target",
        scores=("p_0", "p_1", "p_2"),
        classes=(0, 1, 2),
        on_unnormalised="renormalise",
    )
    prof = driftline.profile(df, schema, performance=spec)
    assert prof.performance.results()["excluded"]["renormalised"] == 50  # type: ignore[index, union-attr]


def test_nan_scores_are_counted(rng: np.random.Generator) -> None:
    df = _binary(rng, 400, 0.0)
    df.loc[:9, "score"] = np.nan
    r = driftline.profile(df, BINARY).performance.results()  # type: ignore[union-attr]
    assert r["excluded"]["nan_score"] == 10 and r["n_scored"] == 390 and r["n"] == 400


def test_scores_outside_zero_one_raise(rng: np.random.Generator) -> None:
    df = _binary(rng, 100, 0.0)
    df.loc[3, "score"] = 1.5
    with pytest.raises(InputError, match=r"score columns \['score'\].*\[0, 1\]"):
        driftline.profile(df, BINARY)


def test_one_score_column_and_one_string_class_asks_for_classes() -> None:
    df = pd.DataFrame({"target": ["yes"] * 5, "prediction": ["yes"] * 5, "score": [0.9] * 5})
    with pytest.raises(InputError, match="pass classes"):
        driftline.profile(df, {"score": {"role": "score"}})
    spec = PerformanceSpec(
        target="target", prediction="prediction", scores=("score",), classes=("no", "yes")
    )
    prof = driftline.profile(df, {"score": {"role": "score"}}, performance=spec)
    assert prof.performance.results()["accuracy"] == 1.0  # type: ignore[index, union-attr]


def test_failed_batch_leaves_the_profile_unchanged(rng: np.random.Generator) -> None:
    prof = driftline.profile(_binary(rng, 100), BINARY)
    before = (prof.n_rows, _state(prof))
    bad = _binary(rng, 50)
    bad.loc[0, "score"] = -3.0
    with pytest.raises(InputError):
        prof.update(pa.Table.from_pandas(bad))
    assert (prof.n_rows, _state(prof)) == before


def test_regression_and_multiclass_merge_equal_one_pass(rng: np.random.Generator) -> None:
    n = 900
    probs = rng.dirichlet([1, 1, 1], n)
    df = pd.DataFrame(probs, columns=["p_0", "p_1", "p_2"])
    df["target"] = [rng.choice(3, p=p) for p in probs]
    df["amount"] = rng.normal(size=n)
    df["amount_pred"] = df.amount + rng.normal(size=n)
    multi = {c: {"role": "score"} for c in ("p_0", "p_1", "p_2")}
    reg = {"amount": {"role": "target"}, "amount_pred": {"role": "prediction"}}
    for schema, cols in (
        (multi, ["p_0", "p_1", "p_2", "target"]),
        (reg, ["amount", "amount_pred"]),
    ):
        whole = driftline.profile(df[cols], schema)
        parts = [driftline.profile(df[cols].iloc[i : i + 300], schema) for i in (0, 300, 600)]
        merged = parts[0].merge(parts[1]).merge(parts[2])
        assert _state(merged) == _state(whole)
