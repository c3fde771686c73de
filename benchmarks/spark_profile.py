"""One-machine vs local-Spark profiling of the same rows (issue 19).

    .venv/bin/python benchmarks/spark_profile.py [--rows 10000000] [--partitions 8]

Writes ROWS rows (8 columns: 4 numeric, 2 categorical, a 0/1 target and a score)
as a Parquet dataset of PARTITIONS files under a temporary directory, then times
- driftline.profile() of the dataset's files (one process, batches of 1M rows),
- driftline.integrations.spark.profile_spark() of spark.read.parquet(dir) on a
  local[*] session (session start not counted; it is printed separately),
and prints rows/s, the size of what each executor sends back (one partial
profile per partition) and whether the two profiles agree on every count.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import driftline
from driftline.stats.profile import DatasetProfile


def write_dataset(root: Path, rows: int, parts: int) -> None:
    rng = np.random.default_rng(1)
    per = rows // parts
    for i in range(parts):
        n = per if i < parts - 1 else rows - per * (parts - 1)
        score = rng.random(n)
        table = pa.table(
            {
                "amount": rng.lognormal(3, 1, n),
                "age": rng.integers(18, 90, n),
                "balance": rng.normal(1000, 300, n),
                "tenure": rng.exponential(5, n),
                "country": rng.choice(["FR", "DE", "US", "BR", "IN", "JP"], n),
                "channel": rng.choice(["web", "app", "branch"], n),
                "score": score,
                "target": (rng.random(n) < score).astype(np.int64),
            }
        )
        pq.write_table(table, root / f"part-{i:05d}.parquet")


def one_machine(root: Path) -> DatasetProfile:
    files = sorted(root.glob("*.parquet"))
    prof = driftline.profile(files[0], {"target": {"role": "target"}})
    for f in files[1:]:
        prof.merge(driftline.profile(f, {"target": {"role": "target"}}))
    return prof


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--partitions", type=int, default=8)
    args = ap.parse_args()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "data"
        root.mkdir()
        t0 = time.perf_counter()
        write_dataset(root, args.rows, args.partitions)
        print(
            f"wrote {args.rows:,} rows in {args.partitions} files: {time.perf_counter() - t0:.1f} s"
        )

        t0 = time.perf_counter()
        local = one_machine(root)
        t_local = time.perf_counter() - t0
        print(f"one machine: {t_local:.1f} s, {args.rows / t_local:,.0f} rows/s")

        from pyspark.sql import SparkSession

        from driftline.integrations import spark as dspark

        t0 = time.perf_counter()
        session = (
            SparkSession.builder.master("local[*]")
            .config("spark.ui.enabled", "false")
            .config("spark.driver.memory", "2g")
            .getOrCreate()
        )
        session.range(1).count()
        print(f"spark session start: {time.perf_counter() - t0:.1f} s")
        df = session.read.parquet(str(root))
        sizes: list[int] = []
        run = dspark._run

        def measured(frame, plan):  # type: ignore[no-untyped-def]
            partials = run(frame, plan)
            sizes.extend(len(b) for _, b in partials)
            return partials

        dspark._run = measured
        t0 = time.perf_counter()
        spark_prof = dspark.profile_spark(df, {"target": {"role": "target"}})
        t_spark = time.perf_counter() - t0
        print(
            f"local spark ({session.sparkContext.defaultParallelism} cores): {t_spark:.1f} s, "
            f"{args.rows / t_spark:,.0f} rows/s"
        )
        merged = len(spark_prof.to_bytes()) / 1e6
        print(
            f"partials sent to the driver: {len(sizes)} x {np.mean(sizes) / 1e6:.2f} MB "
            f"(total {sum(sizes) / 1e6:.1f} MB); merged profile {merged:.2f} MB"
        )
        same = spark_prof.n_rows == local.n_rows and all(
            (a.count, a.missing, a.histogram.to_bytes(), a.categories.exact)
            == (b.count, b.missing, b.histogram.to_bytes(), b.categories.exact)
            for a, b in zip(spark_prof.columns.values(), local.columns.values(), strict=True)
        )
        print(f"counts, histograms and categories equal: {same}")
        session.stop()


if __name__ == "__main__":
    main()
