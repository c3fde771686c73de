"""Reference/current files with known drift for the command-line tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

#: The columns the current file shifts; the others keep the reference distribution.
SHIFTED = {"amount", "plan"}


def make_table(n: int, seed: int, shifted: bool) -> pa.Table:
    rng = np.random.default_rng(seed)
    start = np.datetime64("2025-03-03T00:00:00")  # a Monday
    ts = start + np.sort(rng.integers(0, 21 * 86_400, n)).astype("timedelta64[s]")
    plans = np.array(["basic", "plus", "pro", "team"])
    p = [0.1, 0.2, 0.3, 0.4] if shifted else [0.4, 0.3, 0.2, 0.1]
    return pa.table(
        {
            "user_id": [f"u{seed}-{i}" for i in range(n)],
            "ts": pa.array(ts, pa.timestamp("s")),
            "amount": rng.normal(100 + (15 if shifted else 0), 15, n),
            "age": rng.normal(40, 10, n),
            "sessions": rng.poisson(4, n).astype(np.float64),
            "plan": rng.choice(plans, n, p=p),
            "country": rng.choice(["de", "fr", "it", "es"], n),
            "label": rng.random(n) < 0.3,
            "pred": rng.random(n) < 0.3,
        }
    )


@pytest.fixture(scope="session")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("cli-data")
    ref, cur = make_table(4000, 1, False), make_table(4000, 2, True)
    same = make_table(4000, 3, False)
    out = {
        "ref": d / "ref.parquet",
        "cur": d / "cur.parquet",
        "same": d / "same.parquet",
        "cur_csv": d / "cur.csv",
        "cur_unlabelled": d / "cur_unlabelled.parquet",
        "labels": d / "labels.csv",
    }
    pq.write_table(cur.drop_columns(["label"]), out["cur_unlabelled"])
    pcsv.write_csv(cur.select(["user_id", "label"]).slice(0, 3000), out["labels"])
    pq.write_table(ref, out["ref"])
    pq.write_table(cur, out["cur"])
    pq.write_table(same, out["same"])
    pcsv.write_csv(cur, out["cur_csv"])
    return out
