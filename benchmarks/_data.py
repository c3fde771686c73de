"""Deterministic reference/current data for the batch drift speed benchmark.

N rows x 20 features on each side: ten numeric columns of various shapes and ten
categorical columns with string values (cardinalities 3 to 1000). The current side
shifts four named columns (see ``SHIFTED``); the other sixteen are drawn from the
same distribution as the reference with a different seed.

Both sides are written once to ``benchmarks/data/{ref,cur}_{N}.parquet`` so every tool
reads the same bytes. Run on its own to make the files::

    python benchmarks/_data.py --sizes 100k 1M 5M

Only numpy and pyarrow are needed, so any venv can import it.
"""

from __future__ import annotations

import argparse
import re
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

DATA_DIR = Path(__file__).resolve().parent / "data"
FORMAT = 1  # bump when the generator changes: old files are rewritten

NUMERIC = [f"num_{i}" for i in range(10)]
CATEGORICAL = [f"cat_{i}" for i in range(10)]
FEATURES = NUMERIC + CATEGORICAL

# Cardinality of each categorical column, in the order of CATEGORICAL.
CARDINALITY = [3, 5, 8, 12, 25, 50, 100, 250, 500, 1000]

# The drift the current side carries; every other column is unchanged.
SHIFTED = {
    "num_0": "mean + 0.5 sd (normal)",
    "num_3": "mean + 0.5 sd (lognormal)",
    "cat_1": "category mix reversed (cardinality 5)",
    "cat_6": "half the mass moved to the 20 rarest categories (cardinality 100)",
}

NAN_SHARE = 0.02  # share of missing values in num_8 (both sides)


def parse_size(text: str) -> int:
    """'100k' -> 100_000, '1M' -> 1_000_000, '2500' -> 2500."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmM]?)\s*", text)
    if not match:
        raise ValueError(f"bad size {text!r}: expected e.g. 100k, 1M, 5M or a row count")
    number, unit = float(match.group(1)), match.group(2).lower()
    return int(number * {"": 1, "k": 1_000, "m": 1_000_000}[unit])


def size_label(n: int) -> str:
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n % 1_000 == 0:
        return f"{n // 1_000}k"
    return str(n)


def paths(n: int) -> tuple[Path, Path]:
    """The (reference, current) Parquet paths for n rows."""
    return DATA_DIR / f"ref_{size_label(n)}.parquet", DATA_DIR / f"cur_{size_label(n)}.parquet"


def _category_weights(cardinality: int) -> np.ndarray:
    weights = 1.0 / np.arange(1, cardinality + 1) ** 0.8  # Zipf-like, heavy head
    return weights / weights.sum()


def _shift_weights(column: str, weights: np.ndarray) -> np.ndarray:
    if column == "cat_1":
        return weights[::-1].copy()
    if column == "cat_6":
        shifted = weights * 0.5
        shifted[-20:] += 0.5 / 20
        return shifted / shifted.sum()
    return weights


def _numeric(column: str, rng: np.random.Generator, n: int, drifted: bool) -> np.ndarray:
    makers: dict[str, Callable[[], np.ndarray]] = {
        "num_0": lambda: rng.normal(50.0, 10.0, n),
        "num_1": lambda: rng.normal(0.0, 1.0, n),
        "num_2": lambda: rng.lognormal(3.0, 0.6, n),
        "num_3": lambda: rng.lognormal(0.0, 1.0, n),
        "num_4": lambda: rng.uniform(0.0, 1.0, n),
        "num_5": lambda: rng.uniform(-100.0, 100.0, n),
        "num_6": lambda: rng.poisson(3.0, n).astype(np.float64),
        "num_7": lambda: rng.negative_binomial(5, 0.1, n).astype(np.float64),
        "num_8": lambda: rng.exponential(2.0, n),
        "num_9": lambda: rng.gamma(2.0, 2.0, n),
    }
    values = makers[column]()
    if drifted and column == "num_0":
        values += 0.5 * 10.0
    if drifted and column == "num_3":
        sd = float(np.sqrt((np.e - 1.0) * np.e))  # sd of lognormal(0, 1)
        values += 0.5 * sd
    if column == "num_8":
        values[rng.random(n) < NAN_SHARE] = np.nan
    return values


def _categorical(
    column: str, index: int, rng: np.random.Generator, n: int, drifted: bool
) -> pa.Array:
    cardinality = CARDINALITY[index]
    weights = _category_weights(cardinality)
    if drifted:
        weights = _shift_weights(column, weights)
    codes = rng.choice(cardinality, size=n, p=weights).astype(np.int32)
    labels = pa.array([f"{column}_v{k:04d}" for k in range(cardinality)], pa.string())
    # Plain (not dictionary) string columns: every reader sees ordinary strings.
    return pa.DictionaryArray.from_arrays(pa.array(codes), labels).cast(pa.string())


def make_table(n: int, side: str) -> pa.Table:
    """One side ('ref' or 'cur') of n rows; identical for identical arguments."""
    if side not in ("ref", "cur"):
        raise ValueError(f"side must be 'ref' or 'cur', not {side!r}")
    drifted = side == "cur"
    columns: dict[str, pa.Array] = {}
    for i, column in enumerate(NUMERIC):
        rng = np.random.default_rng([FORMAT, n, i, int(drifted)])
        columns[column] = pa.array(_numeric(column, rng, n, drifted), from_pandas=True)
    for i, column in enumerate(CATEGORICAL):
        rng = np.random.default_rng([FORMAT, n, 100 + i, int(drifted)])
        columns[column] = _categorical(column, i, rng, n, drifted)
    metadata = {b"driftline_bench_format": str(FORMAT).encode(), b"rows": str(n).encode()}
    return pa.table(columns).replace_schema_metadata(metadata)


def _is_current(path: Path, n: int) -> bool:
    if not path.exists():
        return False
    try:
        meta = pq.read_schema(path).metadata or {}
    except Exception:  # a partial or foreign file: rewrite it
        return False
    return (
        meta.get(b"driftline_bench_format") == str(FORMAT).encode()
        and meta.get(b"rows") == str(n).encode()
    )


def ensure(n: int, verbose: bool = True) -> tuple[Path, Path]:
    """Write the Parquet pair for n rows unless it is already there; return the paths."""
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    for side, path in zip(("ref", "cur"), paths(n), strict=True):
        if _is_current(path, n):
            continue
        start = time.perf_counter()
        table = make_table(n, side)
        tmp = path.with_suffix(".parquet.tmp")
        pq.write_table(table, tmp, row_group_size=1_000_000, compression="snappy")
        tmp.replace(path)
        if verbose:
            print(f"wrote {path} ({n:,} rows, {time.perf_counter() - start:.1f} s)", flush=True)
    return paths(n)


def arrow_nbytes(n: int, sides: tuple[str, ...] = ("ref", "cur")) -> int:
    """In-memory Arrow size of the given sides (plain strings): the benchmark's input size."""
    total = 0
    for side, path in zip(("ref", "cur"), paths(n), strict=True):
        if side not in sides:
            continue
        parquet = pq.ParquetFile(path)
        for column in parquet.schema_arrow.names:  # one column at a time: little memory
            total += parquet.read(columns=[column]).nbytes
        pa.default_memory_pool().release_unused()
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["100k", "1M", "5M"])
    args = parser.parse_args()
    for text in args.sizes:
        ref, cur = ensure(parse_size(text))
        print(f"{ref}\n{cur}")


if __name__ == "__main__":
    main()
