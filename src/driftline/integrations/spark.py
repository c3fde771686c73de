"""Profile a Spark DataFrame partition by partition; merge the partial profiles on the driver.

    df ──select(columns)──> mapInArrow(fold_partition) ──> one row per partition:
                                                            (partition, profile bytes)
    driver: collect those rows only, merge_partials() in partition order

Schema inference and options are those of :func:`driftline.profile`: the driver
reads the first :data:`SAMPLE_ROWS` rows (``df.limit``) as an Arrow table and
resolves the schema from it exactly as the one-machine path does from its first
batch. Every executor then folds its partition's Arrow batches into a
:class:`~driftline.stats.profile.DatasetProfile` (:func:`fold_partition`) and
sends back its serialised bytes; no row of data is collected on the driver.

What the merged profile is (docs/spark.md): byte-identical to
:func:`merge_partials` over :func:`fold_partition` of the same partitions on one
machine (the test shows it), and equivalent to :func:`driftline.profile` of the
same rows: every count (rows, missing, type errors, non-finite values, the
histogram buckets, exact category counts, the performance counts) and both
distinct-count sketches are equal; min and max are equal; mean and variance
equal up to floating-point rounding (Chan's pairwise merge); the quantile
sketch is another KLL sketch of the same values, within its rank error; the
reservoirs are uniform samples of the same size drawn with other random keys.

pyspark is imported only here and only when used (``pip install 'driftline[spark]'``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from driftline.errors import InputError, MissingDependencyError, SchemaError, missing_extra_message
from driftline.schema import Schema
from driftline.stats.performance.profile_part import PerformanceSpec
from driftline.stats.profile import (
    DEFAULT_SEED,
    ESTIMATION_ROWS,
    DatasetProfile,
    resolve_schema,
    with_task,
)

#: Rows the driver reads to infer the schema (the one-machine path infers from as many).
SAMPLE_ROWS = 1000
#: Rows an executor folds at once (Spark hands Arrow batches of 10,000 rows by default;
#: larger updates amortise the profile's per-update work).
FOLD_ROWS = 1_000_000
_PARTIALS_SCHEMA = "partition INT, rows LONG, profile BINARY"

__all__ = [
    "FOLD_ROWS",
    "SAMPLE_ROWS",
    "SparkPlan",
    "fold_partition",
    "merge_partials",
    "profile_spark",
    "read_spark",
    "spark_compare",
    "spark_session",
]


@dataclass(frozen=True)
class SparkPlan:
    """What every executor needs to fold a partition (pickled once into the task closure)."""

    schema: Schema
    reservoir_size: int
    performance: PerformanceSpec | None
    estimation_size: int | None
    seed: int
    fold_rows: int = FOLD_ROWS

    def new_profile(self) -> DatasetProfile:
        return DatasetProfile(
            self.schema, self.reservoir_size, self.performance, self.estimation_size
        )


def fold_partition(
    batches: Iterable[pa.RecordBatch | pa.Table], plan: SparkPlan, partition: int
) -> DatasetProfile:
    """The profile of one partition's rows; its samples are seeded by ``(seed, partition)``.

    Batches are gathered up to ``plan.fold_rows`` rows before each update.
    """
    prof = plan.new_profile()
    rng = np.random.default_rng([plan.seed, partition])
    names = prof.schema.names
    pending: list[pa.Table] = []
    rows = 0

    def flush() -> None:
        if pending:
            table = pending[0] if len(pending) == 1 else pa.concat_tables(pending)
            prof.update(table.select(names), rng)

    for b in batches:
        t = b if isinstance(b, pa.Table) else pa.Table.from_batches([b])
        pending.append(t)
        rows += t.num_rows
        if rows >= plan.fold_rows:
            flush()
            pending, rows = [], 0
    flush()
    return prof


def merge_partials(partials: Iterable[tuple[int, bytes]], plan: SparkPlan) -> DatasetProfile:
    """Merge serialised partition profiles in partition order (so the result is deterministic)."""
    out = plan.new_profile()
    for _, data in sorted(partials, key=lambda p: p[0]):
        out.merge(DatasetProfile.from_bytes(data))
    return out


def _pyspark() -> Any:
    try:
        import pyspark
    except ImportError:
        raise MissingDependencyError(missing_extra_message("pyspark", "spark")) from None
    return pyspark


def spark_session(app_name: str = "driftline") -> Any:
    """The active Spark session, or a new one (``spark-submit`` / ``PYSPARK_SUBMIT_ARGS`` set
    the master; without them it is ``local[*]``)."""
    _pyspark()
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    # a session started here runs its Python workers on this interpreter (where driftline is)
    # unless PYSPARK_PYTHON says otherwise; on a cluster that must be an environment with
    # driftline installed (docs/spark.md)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    return SparkSession.builder.appName(app_name).getOrCreate()


def read_spark(source: str | Path, spark: Any = None) -> Any:
    """A DataFrame for ``source``: a Parquet/CSV/JSON-lines file or directory, a URI of a
    Parquet dataset (``s3a://``, ``hdfs://``, ...), or a table name.

    A directory is read as a Parquet dataset (partition directories ``key=value``
    become columns); a name that is not a path must be a table of the session's catalog.
    """
    spark = spark if spark is not None else spark_session()
    path = Path(source)
    if "://" in str(source):  # s3a://, hdfs://, abfss://, file://: Spark's own file systems
        return spark.read.parquet(str(source))
    if path.exists():
        suffix = path.suffix.lower()
        if path.is_dir() or suffix in {".parquet", ".pq", ".parq"}:
            return spark.read.parquet(str(path))
        if suffix in {".csv", ".tsv"}:
            sep = "\t" if suffix == ".tsv" else ","
            return spark.read.csv(str(path), header=True, inferSchema=True, sep=sep)
        if suffix in {".jsonl", ".ndjson", ".json"}:
            return spark.read.json(str(path))
        raise InputError(
            f"cannot read {path} with Spark: unknown file type {suffix or '(none)'}; expected a "
            "Parquet directory or a .parquet, .csv or .jsonl file"
        )
    name = str(source)
    try:
        exists = bool(spark.catalog.tableExists(name))
    except Exception:  # an invalid identifier is no table either
        exists = False
    if not exists:
        raise InputError(
            f"cannot read {name!r} with Spark: no such file or directory, and no table of that "
            "name in the session's catalog"
        )
    return spark.table(name)


def _arrow_schema(df: Any) -> pa.Schema:
    """The Arrow schema Spark sends ``df`` in; SchemaError naming any column it cannot send."""
    from pyspark.sql.pandas.types import to_arrow_type

    fields = []
    for f in df.schema.fields:
        try:
            fields.append(pa.field(f.name, to_arrow_type(f.dataType), nullable=f.nullable))
        except Exception as exc:  # pyspark raises its own error types, by version
            raise SchemaError(
                f"column {f.name!r}: driftline cannot profile Spark type "
                f"{f.dataType.simpleString()} ({type(exc).__name__}: {exc}); cast it (e.g. to "
                "string or double) or leave the column out with select()"
            ) from None
    return pa.schema(fields)


def _sample(df: Any, rows: int) -> pa.Table:
    """The first ``rows`` rows as an Arrow table (the only rows the driver reads)."""
    head = df.limit(rows)
    if hasattr(head, "toArrow"):  # pyspark >= 4
        return head.toArrow()
    return pa.Table.from_batches(head._collect_as_arrow(), schema=_arrow_schema(df))


def profile_spark(
    df: Any,
    schema: Schema | dict[str, Any] | str | Path | None = None,
    *,
    reservoir_size: int = 10_000,
    seed: int | None = None,
    performance: PerformanceSpec | str | Callable[[Schema], Any] | None = "auto",
    task: str | None = None,
    like: Schema | None = None,
    estimation_size: int | None = ESTIMATION_ROWS,
    fold_rows: int = FOLD_ROWS,
) -> DatasetProfile:
    """Profile a Spark DataFrame on the executors; the options are those of
    :func:`driftline.stats.profile.build_profile` (see the module docstring for how the
    result relates to the one-machine profile)."""
    _pyspark()
    _arrow_schema(df)  # names a column Spark cannot send before any job runs
    sample = _sample(df, SAMPLE_ROWS)
    resolved = resolve_schema(schema, sample.schema, sample, task, like)
    missing = [c for c in resolved.names if c not in sample.column_names]
    if missing:
        raise SchemaError(
            f"column(s) {', '.join(map(repr, missing))} of the schema are not in the DataFrame "
            f"(columns: {', '.join(sample.column_names[:30])})"
        )
    perf_opt = with_task(performance, task)
    perf = perf_opt(resolved) if callable(perf_opt) else perf_opt
    if perf == "auto":
        perf = PerformanceSpec.infer(resolved, strict=False)
    plan = SparkPlan(
        resolved,
        reservoir_size,
        perf,
        estimation_size,
        DEFAULT_SEED if seed is None else int(seed),
        fold_rows,
    )
    partials = _run(df.select(*[_quote(n) for n in resolved.names]), plan)
    return merge_partials(partials, plan)


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _run(df: Any, plan: SparkPlan) -> list[tuple[int, bytes]]:
    def fold(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from pyspark import TaskContext

        ctx = TaskContext.get()
        pid = ctx.partitionId() if ctx is not None else 0
        prof = fold_partition(batches, plan, pid)
        yield pa.RecordBatch.from_arrays(
            [
                pa.array([pid], pa.int32()),
                pa.array([prof.n_rows], pa.int64()),
                pa.array([prof.to_bytes()], pa.binary()),
            ],
            names=["partition", "rows", "profile"],
        )

    rows = df.mapInArrow(fold, _PARTIALS_SCHEMA).collect()
    return [(int(r["partition"]), bytes(r["profile"])) for r in rows]


def spark_compare(
    reference: str | Path,
    current: str | Path,
    schema: Schema | dict[str, Any] | str | Path | None = None,
    *,
    seed: int | None = None,
    task: str | None = None,
    spark: Any = None,
    **compare_options: Any,
) -> Any:
    """:func:`driftline.compare` of two Spark sources (paths, directories or tables; the
    reference may be a saved profile), each profiled on the executors.

    The current side is read the way the reference is (its schema and classes), as
    the one-machine ``driftline report`` does.
    """
    from driftline.report.compare import compare, performance_spec
    from driftline.stats.profile import is_profile_file

    seed = DEFAULT_SEED if seed is None else seed
    classes = compare_options.get("classes")
    if is_profile_file(reference):
        ref = DatasetProfile.load(reference)
    else:
        ref = profile_spark(
            read_spark(reference, spark),
            schema,
            seed=seed,
            task=task,
            performance=lambda s: performance_spec(s, None, task, classes),
        )
    cur = profile_spark(
        read_spark(current, spark),
        schema,
        seed=seed + 1,
        task=task,
        like=ref.schema,
        performance=lambda s: performance_spec(s, ref, task, classes),
    )
    return compare(ref, cur, seed=seed, task=task, **compare_options)
