"""Timestamps as ISO 8601 text (with time zones) work; numbers need their unit."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import driftline
from driftline.cli import app
from driftline.errors import SchemaError
from driftline.timestamps import parse_iso

runner = CliRunner()
N = 3000


def run(*args: object) -> tuple[int, str, str]:
    res = runner.invoke(app, [str(a) for a in args])
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise res.exception
    return res.exit_code, res.stdout, res.stderr


@pytest.fixture(scope="module")
def times(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Rows from 2025-01-01 to 2025-03-31 UTC, written in three time zones as text."""
    rng = np.random.default_rng(0)
    secs = 1_735_689_600 + np.sort(rng.integers(0, 89 * 86_400, N))
    zones = [timezone(timedelta(hours=h)) for h in (2, -5, 0)]
    iso = [
        datetime.fromtimestamp(int(s), zones[i % 3]).isoformat().replace("+00:00", "Z")
        for i, s in enumerate(secs)
    ]
    table = pa.table({"event_time": iso, "epoch_ms": secs * 1000, "x": rng.normal(size=N)})
    d = tmp_path_factory.mktemp("times")
    pq.write_table(table, d / "times.parquet")
    pcsv.write_csv(table, d / "times.csv")
    months = [datetime.fromtimestamp(int(s), timezone.utc).month for s in secs]
    counts = [months.count(m) for m in (1, 2, 3)]
    return {"parquet": d / "times.parquet", "csv": d / "times.csv", "counts": counts, "dir": d}


def chunks(times: dict[str, Any], fmt: str, *args: object) -> list[tuple[str, int]]:
    js = times["dir"] / f"{fmt}.json"
    path = times[fmt]
    code, _, err = run("report", path, path, "-o", js.with_suffix(".html"), "--json", js, *args)
    assert code == 0, err
    return [(c["start"], c["n"]) for c in json.loads(js.read_text())["chunks"]]


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_iso_strings_with_zones_chunk_by_month(times: dict[str, Any], fmt: str) -> None:
    got = chunks(times, fmt, "--timestamp", "event_time", "--chunk-by", "month")
    expected = list(zip(["2025-01-01", "2025-02-01", "2025-03-01"], times["counts"], strict=True))
    assert got == expected


def test_an_iso_column_named_like_a_time_is_found_without_options(times: dict[str, Any]) -> None:
    assert [n for _, n in chunks(times, "parquet", "--chunk-by", "month")] == times["counts"]
    prof = driftline.profile(times["parquet"], {"event_time": {"role": "timestamp"}})
    spec = prof.schema["event_time"]
    assert (spec.kind.value, spec.role.value) == ("datetime", "timestamp")
    assert prof["event_time"].type_errors == 0
    assert prof["event_time"].moments.min >= 1_735_689_600


def test_a_numeric_timestamp_needs_its_unit(times: dict[str, Any]) -> None:
    path = times["parquet"]
    out = times["dir"] / "x.html"
    for extra in ([], ["--chunk-by", "month"]):
        code, _, err = run("report", path, path, "-o", out, "--timestamp", "epoch_ms", *extra)
        assert code == 2
        assert "'epoch_ms'" in err and "--timestamp-unit" in err and "1970" not in err
    unit = ("--timestamp", "epoch_ms", "--timestamp-unit", "ms")
    got = chunks(times, "parquet", *unit, "--chunk-by", "month")
    assert [n for _, n in got] == times["counts"] and got[0][0] == "2025-01-01"
    code, _, err = run("report", path, path, "-o", out, "--timestamp-unit", "ms")
    assert code == 2 and "needs --timestamp" in " ".join(err.replace("│", " ").split())
    code, _, err = run(
        "report", path, path, "-o", out, "--timestamp", "epoch_ms", "--timestamp-unit", "days"
    )
    assert code == 2 and "'days'" in err


def test_bad_time_text_is_an_error_naming_the_column(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("when,x\n2025-01-01T00:00:00Z,1\nyesterday,2\n2025-01-03,3\n")
    code, _, err = run(
        "report", bad, bad, "-o", tmp_path / "b.html", "--timestamp", "when", "--chunk-by", "day"
    )
    assert code == 2
    assert "'when'" in err and "'yesterday'" in err and "ISO 8601" in err


def test_parse_iso_matches_python(times: dict[str, Any]) -> None:
    text = [
        "2025-03-01T14:30:00+02:00",
        "2025-03-01T12:30:00Z",
        "2025-03-01 12:30:00",  # no zone: UTC
        "2025-03-01",
        "2025-03-01T12:30:00.123456789-05:30",  # nanoseconds: read to microseconds
        None,
        "",
        "not a time",
    ]
    secs, bad = parse_iso(pa.array(text))
    expected = [
        datetime(2025, 3, 1, 12, 30, tzinfo=timezone.utc).timestamp(),
        datetime(2025, 3, 1, 12, 30, tzinfo=timezone.utc).timestamp(),
        datetime(2025, 3, 1, 12, 30, tzinfo=timezone.utc).timestamp(),
        datetime(2025, 3, 1, tzinfo=timezone.utc).timestamp(),
        datetime(2025, 3, 1, 18, 0, 0, 123456, tzinfo=timezone.utc).timestamp(),
    ]
    np.testing.assert_allclose(secs[:5], expected, rtol=0, atol=1e-6)
    assert np.isnan(secs[5:]).all()
    assert bad.tolist() == [False] * 7 + [True]


def test_schema_unit_in_python_and_saved_profiles(tmp_path: Path) -> None:
    data = {"ts": np.arange(1_735_689_600, 1_735_689_600 + 50 * 86_400, 86_400), "x": np.ones(50)}
    prof = driftline.profile(data, {"ts": {"role": "timestamp", "unit": "s"}})
    assert prof.schema["ts"].unit == "s" and prof["ts"].moments.min == 1_735_689_600
    back = driftline.DatasetProfile.load(prof.save(tmp_path / "p.profile"))
    assert back.schema["ts"].unit == "s"
    with pytest.raises(SchemaError, match="'ts' holds numbers"):
        driftline.profile(data, {"ts": {"role": "timestamp"}})
    with pytest.raises(SchemaError, match="unit 'h' is not one of"):
        driftline.profile(data, {"ts": {"role": "timestamp", "unit": "h"}})
