"""Spark: partitions profiled on the executors, merged on the driver (a real local session).

One session for the module (starting one costs seconds); few tests, all marked slow.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import driftline
from driftline.errors import InputError, SchemaError
from driftline.stats.profile import DatasetProfile

pyspark = pytest.importorskip("pyspark")
if shutil.which("java") is None:  # .ci/run installs default-jre-headless
    pytest.skip("the Spark tests need a Java runtime", allow_module_level=True)

pytestmark = [
    pytest.mark.slow,
    # pyspark warns about pandas 3 whenever it converts a pandas frame (the tests' inputs)
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
]

from driftline.integrations.spark import (  # noqa: E402
    SparkPlan,
    fold_partition,
    merge_partials,
    profile_spark,
    read_spark,
)


@pytest.fixture(scope="module")
def spark() -> Any:
    import os
    import sys

    from pyspark.sql import SparkSession

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ["PYSPARK_PYTHON"] = sys.executable  # the workers import driftline from this venv
    session = (
        SparkSession.builder.master("local[2]")
        .appName("driftline-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "3000")
        .getOrCreate()
    )
    yield session
    session.stop()


def _frame(n: int = 8000, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    amount = rng.lognormal(3, 1, n)
    amount[rng.random(n) < 0.05] = np.nan
    score = rng.random(n)
    return pd.DataFrame(
        {
            "amount": amount,
            "age": rng.integers(18, 90, n),
            "country": rng.choice(["FR", "DE", "US", "BR", None], n, p=[0.3, 0.3, 0.2, 0.1, 0.1]),
            "note": rng.choice(["short", "a longer note", "", "x" * 40], n),
            "score": score,
            "prediction": (score > 0.5).astype(int),
            "target": (rng.random(n) < score).astype(int),
        }
    )


def _partitions(df: Any) -> list[pa.Table]:
    """Each partition's rows as the executors see them (returned by a mapInArrow, in order)."""

    def tag(batches: Any) -> Any:
        from pyspark import TaskContext

        pid = TaskContext.get().partitionId()
        for b in batches:
            yield b.append_column("__pid", pa.array(np.full(b.num_rows, pid, np.int32)))

    from pyspark.sql.types import IntegerType, StructField, StructType

    schema = StructType([*df.schema.fields, StructField("__pid", IntegerType())])
    table = df.mapInArrow(tag, schema).toArrow()
    pids = table.column("__pid").to_numpy()
    rest = table.drop_columns(["__pid"])
    return [rest.filter(pa.array(pids == p)) for p in np.unique(pids)]


def test_the_merged_profile_is_the_one_machine_profile_of_the_same_rows(spark: Any) -> None:
    pdf = _frame()
    df = spark.createDataFrame(pdf).repartition(5).cache()
    prof = profile_spark(df, reservoir_size=500, seed=7)
    local = driftline.profile(pdf, reservoir_size=500, seed=7)

    # 1. byte-identical to the same partitions folded and merged on one machine
    plan = SparkPlan(prof.schema, 500, prof.performance.spec, 100_000, 7)
    parts = _partitions(df.select(*prof.schema.names))
    assert len(parts) == 5 and sum(p.num_rows for p in parts) == len(pdf)
    by_hand = merge_partials(
        [(i, fold_partition(p.to_batches(), plan, i).to_bytes()) for i, p in enumerate(parts)],
        plan,
    )
    assert by_hand.to_bytes() == prof.to_bytes()

    # 2. equivalent to driftline.profile() of the pandas frame (docs/spark.md says what)
    assert prof.schema == local.schema
    assert prof.n_rows == local.n_rows == len(pdf)
    assert np.array_equal(prof.rows.registers, local.rows.registers)
    for name, mine in prof.columns.items():
        theirs = local.columns[name]
        assert (mine.count, mine.missing, mine.type_errors, mine.non_finite) == (
            theirs.count,
            theirs.missing,
            theirs.type_errors,
            theirs.non_finite,
        ), name
        assert np.array_equal(mine.distinct.registers, theirs.distinct.registers), name
        assert mine.categories.exact == theirs.categories.exact, name
        assert mine.histogram.to_bytes() == theirs.histogram.to_bytes(), name
        if mine.moments.n:
            assert mine.moments.n == theirs.moments.n
            assert (mine.moments.min, mine.moments.max) == (theirs.moments.min, theirs.moments.max)
            assert mine.moments.mean == pytest.approx(theirs.moments.mean, rel=1e-12)
            assert mine.moments.variance == pytest.approx(theirs.moments.variance, rel=1e-9)
            values = pdf[name].to_numpy(dtype=float) if name != "note" else None
            if values is not None:  # quantiles within the sketch's rank error
                values = np.sort(values[np.isfinite(values)])
                for q in (0.1, 0.5, 0.9):
                    est = float(mine.quantiles.quantiles(np.array([q]))[0])
                    rank = np.searchsorted(values, est, side="right") / values.size
                    assert abs(rank - q) <= 3 * mine.quantiles.rank_error + 1e-3, (name, q)
        assert mine.reservoir.values.size == theirs.reservoir.values.size, name
    perf_a, perf_b = prof.performance, local.performance
    assert perf_a is not None and perf_b is not None
    assert perf_a.spec == perf_b.spec
    report = driftline.compare(local, prof)
    assert report.data["dataset"]["drifted"] is False
    perf = report.data["performance"]
    assert perf["realized"] == pytest.approx(perf["reference"])


def test_cli_profiles_a_parquet_directory_and_a_table_with_spark(
    spark: Any, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from driftline.cli import app

    pdf = _frame(6000, seed=5)
    data = tmp_path / "events"
    spark.createDataFrame(pdf).repartition(3).write.parquet(str(data))
    out = tmp_path / "ref.profile"
    res = CliRunner().invoke(
        app,
        ["profile", str(data), "-o", str(out), "--engine", "spark", "--target", "target"],
    )
    assert res.exit_code == 0, res.output
    prof = DatasetProfile.load(out)
    assert prof.n_rows == 6000 and prof.performance is not None

    spark.read.parquet(str(data)).createOrReplaceTempView("scored")
    drifted = _frame(6000, seed=6)
    drifted["amount"] = drifted["amount"] * 3
    cur = tmp_path / "cur"
    spark.createDataFrame(drifted).write.parquet(str(cur))
    html = tmp_path / "r.html"
    res = CliRunner().invoke(
        app,
        ["report", "scored", str(cur), "-o", str(html), "--engine", "spark", "--target", "target"],
    )
    assert res.exit_code == 0, res.output
    assert "amount" in res.output or html.read_text().count("amount") > 0
    assert html.exists()

    res = CliRunner().invoke(app, ["profile", "no_such_table", "-o", str(out), "--engine", "spark"])
    assert res.exit_code == 2
    assert "no table of that name" in res.output


def test_a_spark_type_driftline_cannot_profile_is_named(spark: Any) -> None:
    df = spark.sql("select 1 as ok, make_interval(1, 2) as span")  # CalendarIntervalType
    with pytest.raises(SchemaError, match="column 'span'"):
        profile_spark(df)
    with pytest.raises(InputError, match="no such file or directory"):
        read_spark("/nonexistent/dir/x.parquet", spark)
