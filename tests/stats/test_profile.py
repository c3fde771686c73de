"""Dataset profiles: one pass equals merged parts, every input kind, bad input."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import driftline
from driftline import DatasetProfile, InputError, Kind
from driftline.errors import ProfileFormatError


def _frame(rng: np.random.Generator, n: int) -> pd.DataFrame:
    x = rng.normal(size=n)
    x[rng.random(n) < 0.05] = np.nan
    return pd.DataFrame(
        {
            "x": x,
            "k": rng.integers(0, 5, size=n),
            "c": pd.array(rng.choice(["red", "green", "blue", None], size=n), dtype="string"),
            "b": rng.random(n) < 0.3,
        }
    )


def _exact_state(p: DatasetProfile) -> dict[str, object]:
    out: dict[str, object] = {"rows": p.n_rows, "row_hll": p.rows.registers.tolist()}
    for name, c in p.columns.items():
        out[name] = (
            c.count,
            c.missing,
            c.type_errors,
            c.non_finite,
            c.moments.n,
            c.moments.min,
            c.moments.max,
            c.histogram.keys.tolist(),
            c.histogram.counts.tolist(),
            c.categories.counts(),
            c.distinct.registers.tolist(),
        )
    return out


@given(st.integers(0, 400), st.integers(1, 400), st.integers(0, 2**32 - 1))
@settings(max_examples=25, deadline=None)
def test_profile_of_union_equals_merge_of_profiles(n_a: int, n_b: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    a, b = _frame(rng, n_a), _frame(rng, n_b)
    schema = driftline.profile(b).schema
    merged = driftline.profile(a, schema, reservoir_size=50).merge(
        driftline.profile(b, schema, reservoir_size=50)
    )
    whole = driftline.profile(pd.concat([a, b], ignore_index=True), schema, reservoir_size=50)
    assert _exact_state(merged) == _exact_state(whole)
    for name in ("x", "k"):
        assert merged[name].moments.mean == pytest.approx(whole[name].moments.mean, rel=1e-9)
        if whole[name].moments.n > 1:
            assert merged[name].moments.m2 == pytest.approx(whole[name].moments.m2, rel=1e-9)
    # reservoirs: bounded, drawn from the union
    assert merged["x"].reservoir.values.size == min(50, n_a + n_b)
    back = DatasetProfile.from_bytes(merged.to_bytes())
    assert _exact_state(back) == _exact_state(merged)


def test_save_and_load(tmp_path: Path, rng: np.random.Generator) -> None:
    p = driftline.profile(_frame(rng, 3000))
    path = p.save(tmp_path / "ref.profile")
    q = DatasetProfile.load(path)
    assert _exact_state(q) == _exact_state(p)
    assert q["x"].reservoir.values.size == p["x"].reservoir.values.size
    (tmp_path / "bad.profile").write_bytes(b"DLA1\x07\x00dataset garbage")
    with pytest.raises(ProfileFormatError, match=r"bad\.profile"):
        DatasetProfile.load(tmp_path / "bad.profile")
    with pytest.raises(InputError, match=r"nope\.profile"):
        DatasetProfile.load(tmp_path / "nope.profile")


def test_every_input_kind_gives_the_same_profile(tmp_path: Path, rng: np.random.Generator) -> None:
    df = _frame(rng, 5000).astype({"c": object})
    df["c"] = df["c"].where(df["c"].notna(), None)
    table = pa.Table.from_pandas(df, preserve_index=False)
    pq.write_table(table, tmp_path / "d.parquet", row_group_size=700)
    df.to_csv(tmp_path / "d.csv", index=False)
    df.to_json(tmp_path / "d.jsonl", orient="records", lines=True)
    base = _exact_state(driftline.profile(df))
    sources = {
        "arrow": table,
        "polars": pl.from_pandas(df),
        "dict": {k: df[k].to_numpy() for k in df.columns},
        "parquet in batches": tmp_path / "d.parquet",
    }
    for label, src in sources.items():
        assert _exact_state(driftline.profile(src, batch_rows=1000)) == base, label
    # text formats lose the bool/int types' exact identity only in kind, never in counts
    for path in ("d.csv", "d.jsonl"):
        p = driftline.profile(tmp_path / path, batch_rows=1000)
        assert p.n_rows == 5000
        assert p["x"].missing == int(df["x"].isna().sum())
        assert p["c"].categories.counts() == driftline.profile(df)["c"].categories.counts()


def test_batches_bound_memory_on_a_file(tmp_path: Path, rng: np.random.Generator) -> None:
    n = 300_000
    pq.write_table(
        pa.table({"x": rng.normal(size=n)}), tmp_path / "big.parquet", row_group_size=50_000
    )
    p = driftline.profile(tmp_path / "big.parquet", batch_rows=50_000)
    assert p.n_rows == n and p["x"].reservoir.values.size == 10_000


def test_kinds_are_inferred(rng: np.random.Generator) -> None:
    n = 200
    df = pd.DataFrame(
        {
            "age": rng.integers(18, 90, n),
            "city": rng.choice(["a", "b"], n),
            "ok": rng.random(n) < 0.5,
            "note": [
                f"this is a long free text comment number {i} with many words" for i in range(n)
            ],
            "when": pd.date_range("2026-01-01", periods=n, freq="h"),
            "user_id": np.arange(n),
            "target": rng.integers(0, 2, n),
        }
    )
    p = driftline.profile(df)
    kinds = {c.name: (c.kind, c.spec.role.value) for c in p.columns.values()}
    assert kinds == {
        "age": (Kind.NUMERIC, "feature"),
        "city": (Kind.CATEGORICAL, "feature"),
        "ok": (Kind.BOOLEAN, "feature"),
        "note": (Kind.TEXT, "feature"),
        "when": (Kind.DATETIME, "timestamp"),
        "user_id": (Kind.NUMERIC, "id"),
        "target": (Kind.CATEGORICAL, "target"),  # 0/1 class labels
    }


def test_embeddings(rng: np.random.Generator) -> None:
    emb = rng.normal(size=(500, 8))
    p = driftline.profile({"e": emb, "x": rng.normal(size=500)})
    col = p["e"]
    assert col.kind is Kind.EMBEDDING
    assert col.moments.mean == pytest.approx(np.linalg.norm(emb, axis=1).mean())
    assert col.vectors.n == 500
    np.testing.assert_allclose(col.vectors.centroid, emb.mean(axis=0))
    ragged = pa.table({"e": pa.array([[1.0, 2.0], [3.0], None, [0.0, 1.0]])})
    r = driftline.profile(ragged)["e"]
    assert (r.type_errors, r.missing, r.moments.n) == (1, 1, 2)


# -- bad input -----------------------------------------------------------------


def test_empty_frame() -> None:
    p = driftline.profile(pd.DataFrame({"x": pd.Series([], dtype=float)}))
    assert p.n_rows == 0
    rep = driftline.compare(pd.DataFrame({"x": [1.0, 2.0] * 50}), pd.DataFrame({"x": []}))
    d = rep.to_dict()
    assert d["columns"]["x"]["drift"]["computed"] == "insufficient"
    assert any(q["check"] == "empty" and q["status"] == "fail" for q in d["quality"])


def test_all_null_column() -> None:
    df = pd.DataFrame({"x": [None] * 100, "y": np.arange(100.0)})
    p = driftline.profile(df)
    assert p["x"].missing == 100 and p["x"].moments.n == 0
    ref = pd.DataFrame({"x": np.arange(100.0), "y": np.arange(100.0)})
    d = driftline.compare(ref, df.astype({"x": float})).to_dict()["columns"]["x"]
    assert d["drift"]["drifted"] is None
    missing = next(q for q in d["quality"] if q["check"] == "missing_ratio")
    assert missing["value"] == 1.0 and missing["status"] == "fail"


def test_mixed_types_and_strings_in_numeric_column() -> None:
    df = pd.DataFrame({"x": [1, 2.5, "3", "oops", None, 7] * 20})
    p = driftline.profile(df, {"x": {"kind": "numeric"}})
    assert p["x"].type_errors == 20 and p["x"].missing == 20 and p["x"].moments.n == 80
    assert "x" in p.mixed_type_columns
    ref = pd.DataFrame({"x": np.arange(120.0)})
    d = driftline.compare(ref, df, {"x": {"kind": "numeric"}}).to_dict()
    te = next(q for q in d["columns"]["x"]["quality"] if q["check"] == "type_errors")
    assert te["value"] == pytest.approx(20 / 120) and te["status"] == "fail"
    assert any(q["check"] == "mixed_types" for q in d["quality"])


def test_nan_and_inf() -> None:
    x = np.array([1.0, np.nan, np.inf, -np.inf, 2.0, 3.0] * 20)
    c = driftline.profile({"x": x})["x"]
    assert (c.missing, c.non_finite, c.moments.n) == (20, 40, 60)
    assert math.isfinite(c.moments.mean)


def test_column_on_one_side_only(rng: np.random.Generator) -> None:
    ref = pd.DataFrame({"a": rng.normal(size=100), "gone": rng.normal(size=100)})
    cur = pd.DataFrame({"a": rng.normal(size=100), "new": rng.normal(size=100)})
    d = driftline.compare(ref, cur).to_dict()
    checks = {q["check"]: q for q in d["quality"]}
    assert checks["missing_columns"]["status"] == "fail"
    assert checks["missing_columns"]["details"]["columns"] == ["gone"]
    assert checks["unexpected_columns"]["details"]["columns"] == ["new"]
    assert set(d["columns"]) == {"a"}


def test_very_high_cardinality(rng: np.random.Generator) -> None:
    ids = np.array([f"u{i}" for i in range(60_000)])
    p = driftline.profile({"c": ids})
    col = p["c"]
    assert not col.categories.is_exact
    assert col.distinct.estimate == pytest.approx(60_000, rel=0.05)
    d = driftline.compare({"c": ids[:30_000]}, {"c": ids[30_000:]}).to_dict()
    # every value distinct: reported as ID-like (tests/stats/test_drift_categories.py)
    assert d["columns"]["c"]["drift"]["computed"] == "id_like"


def test_zero_variance() -> None:
    ref = pd.DataFrame({"x": np.ones(500)})
    cur = pd.DataFrame({"x": np.ones(500) * 2})
    d = driftline.compare(ref, cur).to_dict()["columns"]["x"]
    assert d["drift"]["drifted"] is True
    same = driftline.compare(ref, ref).to_dict()["columns"]["x"]["drift"]
    assert same["drifted"] is False


def test_constant_column_is_flagged(rng: np.random.Generator) -> None:
    ref = pd.DataFrame({"x": rng.normal(size=500), "c": rng.choice(list("abc"), 500)})
    cur = pd.DataFrame({"x": np.full(500, 0.5), "c": ["a"] * 500})
    d = driftline.compare(ref, cur).to_dict()["columns"]
    for name in ("x", "c"):
        check = next(q for q in d[name]["quality"] if q["check"] == "constant")
        assert check["status"] == "fail", name


def test_unsupported_input_names_the_type() -> None:
    with pytest.raises(InputError, match="cannot read data of type list"):
        driftline.profile([1, 2, 3])
    with pytest.raises(InputError, match="one length"):
        driftline.profile({"a": [1, 2], "b": [1]})


def test_missing_and_unknown_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        driftline.profile(tmp_path / "missing.parquet")
    (tmp_path / "x.xlsx").write_text("nope")
    with pytest.raises(InputError, match=r"unknown file type \.xlsx"):
        driftline.profile(tmp_path / "x.xlsx")
    (tmp_path / "bad.parquet").write_text("not parquet")
    with pytest.raises(InputError, match=r"bad\.parquet"):
        driftline.profile(tmp_path / "bad.parquet")


def test_csv_with_a_late_type_change(tmp_path: Path) -> None:
    n = 300_000  # beyond the reader's first block
    lines = ["x,y"] + [f"{i},{i % 7}" for i in range(n)] + ["oops,3"]
    (tmp_path / "late.csv").write_text("\n".join(lines) + "\n")
    p = driftline.profile(tmp_path / "late.csv", {"x": {"kind": "numeric"}})
    assert p.n_rows == n + 1
    assert p["x"].type_errors == 1 and p["x"].moments.n == n


def test_profiles_folded_at_once_from_several_threads_are_each_as_if_alone() -> None:
    """The column workers are one pool per process: concurrent folds (a collector folds
    several windows at once) must not mix their columns."""
    from concurrent.futures import ThreadPoolExecutor

    def tables(seed: int) -> list[pa.Table]:
        rng = np.random.default_rng(seed)
        return [
            pa.table({"x": rng.normal(size=3000), "c": rng.choice(["a", "b"], 3000).tolist()})
            for _ in range(4)
        ]

    def fold(seed: int) -> bytes:
        batches = tables(seed)
        p = DatasetProfile(driftline.Schema.infer(batches[0].schema, batches[0]), 500, None)
        rng = np.random.default_rng(seed)
        for t in batches:
            p.update(t, rng)
        return p.to_bytes()

    alone = [fold(seed) for seed in range(6)]
    with ThreadPoolExecutor(6) as callers:
        together = list(callers.map(fold, range(6)))
    assert together == alone
    assert len(set(alone)) == 6
