"""Raw prediction events as Parquet by model/version/date, written off the ingest path."""

from __future__ import annotations

from pathlib import Path

import orjson
import pyarrow.dataset as ds

from driftline.sdk.clock import ManualClock
from driftline.server.collector import Collector
from driftline.server.settings import Settings
from driftline.store import open_store

from .conftest import T0, prediction


def _collector(tmp_path: Path, root: Path) -> Collector:
    settings = Settings(raw_parquet_dir=str(root))
    return Collector(settings, open_store(f"sqlite:///{tmp_path}/c.db"), ManualClock(T0))


def test_new_events_land_once_as_partitioned_parquet(tmp_path: Path) -> None:
    root = tmp_path / "raw"
    c = _collector(tmp_path, root)
    assert c.raw_parquet is not None
    c.ingest("prediction", [prediction(i, segment={"country": "FR"}) for i in range(30)])
    c.ingest("prediction", [prediction(i) for i in range(20, 40)])  # 10 duplicates
    c.ingest("prediction", [prediction(100 + i, version="v2", ts=T0 + 86_400) for i in range(5)])
    assert not list(root.rglob("*.parquet"))  # nothing written on the ingest path
    assert c.raw_parquet.flush() == 45
    table = ds.dataset(root, format="parquet", partitioning="hive").to_table()
    assert table.num_rows == 45
    assert sorted(
        {(r["version"], r["date"]) for r in table.select(["version", "date"]).to_pylist()}
    ) == [
        ("v1", "2023-11-14"),
        ("v2", "2023-11-15"),
    ]
    row = table.filter(ds.field("event_id") == "e3").to_pylist()[0]
    assert row["model"] == "m" and orjson.loads(row["features"]) == {"x": 3.0, "c": "a"}
    assert orjson.loads(row["segment"]) == {"country": "FR"} and row["status"] == "ok"
    assert not list(root.rglob("*.tmp"))
    c.close()


def test_a_failing_directory_keeps_the_rows_and_the_collector_serving(tmp_path: Path) -> None:
    blocker = tmp_path / "raw"
    blocker.write_text("a file where the directory should be")  # every write fails
    c = _collector(tmp_path, blocker)
    assert c.raw_parquet is not None
    r = c.ingest("prediction", [prediction(i) for i in range(10)])
    assert r.accepted == 10  # ingest is unaffected
    assert c.raw_parquet.flush() == 0
    assert c.raw_parquet.last_error is not None
    blocker.unlink()  # the disk is back: the kept rows are written at the next flush
    assert c.raw_parquet.flush() == 10
    assert ds.dataset(blocker, format="parquet", partitioning="hive").to_table().num_rows == 10
    c.close()


def test_arrow_batches_land_as_parquet_with_their_whole_events(tmp_path: Path) -> None:
    """An Arrow batch's events carry few fields on the live path: the writer gets them whole."""
    from driftline.sdk.arrow_batch import encode_arrow
    from driftline.server.ingest_arrow import decode_arrow, validate_arrow

    root = tmp_path / "raw"
    c = _collector(tmp_path, root)
    assert c.raw_parquet is not None
    events = [prediction(i, segment={"country": "FR"}, tags={"client": "a"}) for i in range(10)]
    c.ingest("prediction", events[:4])  # stored already: duplicates in the Arrow batch
    body = encode_arrow(events)
    assert body is not None
    result = c.ingest_batch("prediction", validate_arrow(decode_arrow(body, 1 << 30), c.limits()))
    assert result.accepted == 6 and result.duplicates == 4
    assert c.raw_parquet.flush() == 10
    table = ds.dataset(root, format="parquet", partitioning="hive").to_table()
    rows = {r["event_id"]: r for r in table.to_pylist()}
    assert sorted(rows) == sorted(f"e{i}" for i in range(10))
    for i in (3, 7):  # one from each path, the same row
        r = rows[f"e{i}"]
        assert orjson.loads(r["features"]) == {"x": float(i % 10), "c": "abc"[i % 3]}
        assert orjson.loads(r["segment"]) == {"country": "FR"} and r["latency_ms"] == 1.5
        assert orjson.loads(r["tags"]) == {"client": "a"} and r["prediction"] == str(i % 2)
    c.close()
