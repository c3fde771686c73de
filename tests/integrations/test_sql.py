"""SQL sources: a query on the real PostgreSQL, streamed in batches through a server-side cursor."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import driftline
from driftline.cli import app
from driftline.errors import InputError
from driftline.integrations.sql import SQLQuery, redact
from driftline.stats.profile import DatasetProfile
from postgres_db import fresh_database, require_postgres

pytestmark = pytest.mark.postgres
N = 25_000  # larger than the batches below


@pytest.fixture(scope="module")
def loans() -> Iterator[tuple[str, pd.DataFrame]]:
    """A database with a table ``loans`` of N rows, and the same rows as a frame."""
    require_postgres()
    import psycopg

    rng = np.random.default_rng(11)
    frame = pd.DataFrame(
        {
            "id": np.arange(N, dtype=np.int64),
            "amount": np.round(rng.lognormal(7, 1, N), 2),
            "grade": rng.choice(["A", "B", "C", "D"], N),
            "defaulted": (rng.random(N) < 0.1).astype(np.int64),
        }
    )
    frame.loc[frame.index % 97 == 0, "amount"] = np.nan
    with fresh_database("driftline_sql") as url:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                "create table loans (id bigint primary key, amount double precision, "
                "grade text, defaulted bigint)"
            )
            with conn.cursor().copy("copy loans from stdin") as copy:
                for row in frame.itertuples(index=False):
                    amount = None if np.isnan(row.amount) else float(row.amount)
                    copy.write_row((int(row.id), amount, row.grade, int(row.defaulted)))
        yield url, frame


def test_a_query_is_profiled_in_batches_like_the_same_rows_in_memory(
    loans: tuple[str, pd.DataFrame],
) -> None:
    url, frame = loans
    query = SQLQuery(url, "select * from loans order by id", batch_rows=4000)
    sizes = [t.num_rows for t in query.batches()]
    assert sizes == [4000] * 6 + [1000]  # never more than a batch at a time
    from_sql = driftline.profile(query, {"defaulted": {"role": "target"}})
    in_memory = driftline.profile(frame, {"defaulted": {"role": "target"}}, batch_rows=4000)
    assert from_sql.n_rows == N
    assert from_sql["amount"].missing == int(frame["amount"].isna().sum())
    # the same batches in the same order: the same profile, byte for byte
    assert from_sql.to_bytes() == in_memory.to_bytes()
    # a bare table name reads the whole table
    assert driftline.profile(SQLQuery(url, "loans")).n_rows == N


def test_a_query_failing_half_way_is_a_clear_error(loans: tuple[str, pd.DataFrame]) -> None:
    url, _ = loans
    # the division by zero happens at row 20,001: the rows before it were already streamed
    bad = SQLQuery(url, "select id, 1 / (id - 20000) as x from loans order by id", 4000)
    with pytest.raises(InputError, match=r"failed after 20,000 rows: division by zero"):
        driftline.profile(bad)
    with pytest.raises(InputError, match=r"failed before returning any row: .*no_such"):
        driftline.profile(SQLQuery(url, "select * from no_such"))


@pytest.mark.slow
def test_cli_profiles_a_query(loans: tuple[str, pd.DataFrame], tmp_path: Path) -> None:
    url, _ = loans
    out = tmp_path / "loans.profile"
    run = CliRunner().invoke(
        app,
        [
            "profile",
            url,
            "--query",
            "select amount, grade from loans where id < 9000",
            "-o",
            str(out),
        ],
    )
    assert run.exit_code == 0, run.output
    prof = DatasetProfile.load(out)
    assert prof.n_rows == 9000 and list(prof.columns) == ["amount", "grade"]

    failed = tmp_path / "failed.profile"
    run = CliRunner().invoke(
        app, ["profile", url, "--query", "select 1 / (id - 30) from loans", "-o", str(failed)]
    )
    assert run.exit_code == 2
    assert "division by zero" in run.output and "no profile was written" in run.output
    assert not failed.exists()
    run = CliRunner().invoke(app, ["profile", url, "-o", str(failed)])
    assert run.exit_code == 2 and "--query" in run.output


def test_a_password_never_shows_in_messages() -> None:
    assert redact("postgresql://ann:s3cret@db:5432/x") == "postgresql://ann:***@db:5432/x"
    with pytest.raises(InputError) as err:
        driftline.profile(SQLQuery("postgresql://ann:s3cret@127.0.0.1:1/x", "select 1"))
    assert "s3cret" not in str(err.value) and "ann:***@" in str(err.value)
