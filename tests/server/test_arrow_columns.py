"""An Arrow batch's events are read as columns (windows/events.py), never one dict each:
the windows, segments, counts and duplicates they give must be the JSON path's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from driftline.sdk.arrow_batch import encode_arrow
from driftline.sdk.clock import ManualClock
from driftline.server.collector import Collector
from driftline.server.ingest_arrow import decode_arrow, validate_arrow
from driftline.server.settings import Settings
from driftline.store import open_store
from driftline.windows import WindowConfig
from driftline.windows.events import ArrowEvents
from driftline.windows.stats import unpack_segments

T0 = 1_767_225_600.0  # a window boundary
BASE = 60


def _events(n: int, seed: int, first: int = 0) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        i = first + k
        seg: dict[str, Any] = {"region": ["eu", "us", None][i % 3], "shard": i % 4}
        if i % 7 == 0:
            seg = {}
        out.append({
            "type": "prediction", "event_id": f"e{i}", "prediction_id": f"p{i}",
            # three base windows: the batch is split by window
            "timestamp": T0 + (i % 3) * BASE + float(rng.uniform(0, BASE - 1)),
            "model": ["m1", "m2"][i % 5 == 0], "version": ["v1", "v2"][i % 4 == 0],
            "features": {"x": float(rng.normal()), "c": ["a", "b"][i % 2]},
            "prediction": float(rng.uniform()), "segment": seg, "latency_ms": 3.0,
            "status": "error" if i % 11 == 0 else "ok", "shadow": i % 13 == 0,
        })  # fmt: skip
    return out


def _collector(
    tmp_path: Path, name: str, segment_keys: tuple[str, ...] = ()
) -> tuple[Collector, Any]:
    store = open_store(f"sqlite:///{tmp_path}/{name}.db")
    cfg = WindowConfig(sizes=(BASE,), grace_seconds=0, segment_keys=segment_keys)
    return Collector(Settings(windows=cfg), store, ManualClock(T0 + 10)), store


def _state(c: Collector, store: Any) -> dict[Any, Any]:
    """Every saved partial's events, errors and shadows by segment."""
    c.windows.flush(force=True)
    out = {}
    for m in ("m1", "m2"):
        for v in ("v1", "v2"):
            for p in store.partials(m, v, int(T0), int(T0) + 3 * BASE):
                segs = unpack_segments(p.profile)
                out[(m, v, p.window_start)] = (
                    p.n_events,
                    {s: (st.n_events, st.n_errors, st.n_shadow) for s, st in segs.items()},
                )
    return out


@pytest.mark.parametrize("segment_keys", [(), ("region",)])
def test_arrow_columns_give_the_windows_segments_and_counts_json_gives(
    tmp_path: Path, segment_keys: tuple[str, ...]
) -> None:
    first, second = _events(300, 1), _events(200, 2, first=250)  # 50 ids sent twice
    results = {}
    states = {}
    for fmt in ("json", "arrow"):
        c, store = _collector(tmp_path, fmt, segment_keys)
        got = []
        for batch in (first, second, first[:10]):
            if fmt == "json":
                r = c.ingest("prediction", [dict(e) for e in batch])
            else:
                b = validate_arrow(decode_arrow(encode_arrow(batch) or b"", 1 << 30), c.limits())
                assert isinstance(b.accepted, ArrowEvents)
                r = c.ingest_batch("prediction", b)
            got.append((r.accepted, r.duplicates, r.rejected))
        results[fmt] = got
        states[fmt] = _state(c, store)
        store.close()
    assert results["arrow"] == results["json"] == [(300, 0, []), (150, 50, []), (0, 10, [])]
    assert states["arrow"] == states["json"]
    segs = {s for _, (_, by_seg) in states["json"].items() for s in by_seg}
    # the split keys found (the shard numbers as the JSON path names them), nulls left out
    assert {"*", "region=eu", "region=us"} <= segs
    assert ("shard=1" in segs) is (not segment_keys)


def test_arrow_events_read_one_by_one_are_the_light_events(tmp_path: Path) -> None:
    events = _events(40, 3)
    b = validate_arrow(decode_arrow(encode_arrow(events) or b"", 1 << 30), _collector(
        tmp_path, "x")[0].limits())  # fmt: skip
    acc = b.accepted
    assert isinstance(acc, ArrowEvents)
    assert acc[7]["segment"] == {} and acc[2]["segment"] == {"shard": 2}
    assert acc[-1]["event_id"] == "e39" and len(acc[5:9]) == 4
    assert [e["event_id"] for e in acc[5:9]] == ["e5", "e6", "e7", "e8"]
    assert acc.segment_keys() == ["region", "shard"]
    groups = acc.segment_groups("region")
    assert list(groups) == ["us", "eu"]  # first seen first (event 0 has no segment)
    assert groups["us"].tolist() == [i for i in range(40) if i % 3 == 1 and i % 7]


def test_a_missing_prediction_id_is_the_event_id_whatever_the_string_types(
    tmp_path: Path,
) -> None:
    import pyarrow as pa

    from driftline.store import segments

    events = _events(6, 4)
    table = pa.Table.from_pylist(events)
    pids = pa.array(["p0", None, "p2", None, "p4", "p5"], pa.large_string())
    table = table.set_column(table.schema.get_field_index("prediction_id"), "prediction_id", pids)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    c, store = _collector(tmp_path, "pid")
    b = validate_arrow(decode_arrow(sink.getvalue().to_pybytes(), 1 << 30), c.limits())
    assert b.rejected == []
    assert b.accepted.prediction_id == ["p0", "e1", "p2", "e3", "p4", "p5"]  # type: ignore[attr-defined]
    stored = segments.events_of(b.segment)
    assert [e["prediction_id"] for e in stored] == ["p0", "e1", "p2", "e3", "p4", "p5"]
    # the timestamps were epoch seconds: stored as RFC 3339 text of ``ts``
    assert stored[0]["timestamp"].endswith("Z") and stored[0]["ts"] == events[0]["timestamp"]
    store.close()


def test_a_name_ending_in_a_newline_is_refused_by_json_as_by_arrow(tmp_path: Path) -> None:
    """Python's ``$`` matches before a final newline: ``re.match`` took "m1\\n" as a model
    name (stored, then a Prometheus label with a newline); Arrow's RE2 refused it."""
    from driftline.server.ingest import validate

    events = _events(3, 5)
    events[1]["model"] = "m1\n"
    events[2]["version"] = "v1\n"
    c, store = _collector(tmp_path, "nl")
    lim = c.limits()
    by_json = validate("prediction", [dict(e) for e in events], lim)
    by_arrow = validate_arrow(decode_arrow(encode_arrow(events) or b"", 1 << 30), lim)
    for b in (by_json, by_arrow):
        assert [(r["index"], r["field"]) for r in b.rejected] == [(1, "model"), (2, "version")]
    store.close()


@pytest.mark.parametrize(
    ("predictions", "kind"),
    [
        ([1, 0, 1, None, 0, 1], "numeric"),
        ([0.25, 0.5, None, 1.0, 0.0, 0.75], "numeric"),
        (["cat", "dog", None, "cat", "bird", "dog"], "categorical"),
        ([True, False, None, True, True, False], "boolean"),
        ([1, 0, 1, None, 0, 1], "categorical"),  # a class number as a category
        ([{"label": "a", "p": 0.5}, None, {"label": "b", "p": 0.25}] * 2, "categorical"),
        ([[0.1, 0.9], [0.5, 0.5], None, [1.0, 0.0], [0.2, 0.8], [0.3, 0.7]], "categorical"),
    ],
    ids=["int", "float", "str", "bool", "int-as-category", "object", "list"],
)
def test_the_prediction_column_is_the_json_paths_for_every_kind(
    predictions: list[Any], kind: str
) -> None:
    from driftline.schema import ColumnSpec, Kind, Role, Schema
    from driftline.server.ingest import Limits, validate
    from driftline.windows.columns import EventBlock, infer_schema

    events = _events(6, 6)
    for e, p in zip(events, predictions, strict=True):
        e["prediction"] = p
    lim = Limits(T0 + 10, 3600.0, 100)
    by_json = validate("prediction", [dict(e) for e in events], lim)
    by_arrow = validate_arrow(decode_arrow(encode_arrow(events) or b"", 1 << 30), lim)
    # a reference names the model's prediction column: taken from each event's `prediction`
    specs = [*infer_schema(by_json.accepted), ColumnSpec("pred", Kind(kind), Role.PREDICTION)]
    schema = Schema.from_specs(specs)
    a = EventBlock.of(schema, by_json.accepted)
    b = EventBlock.of_arrow(schema, by_arrow.table, by_arrow.accepted)
    assert b.table.equals(a.table), (a.table.to_pydict(), b.table.to_pydict())


def _ipc(table: Any) -> bytes:
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


@pytest.mark.parametrize("column", ["status", "shadow", "type"])
def test_a_column_of_nulls_only_is_the_field_left_out(tmp_path: Path, column: str) -> None:
    """A column every event left null (Arrow type null: what pyarrow infers for it) is
    the field not sent, as JSON: status "ok", shadow false. A null status or shadow column
    failed the whole request (a 500: fill_null cannot fill a null-typed column), a null
    type column rejected every event ('type must be ...', where JSON takes a null type)."""
    import pyarrow as pa

    from driftline.server.ingest import validate
    from driftline.store import segments

    events = [{k: v for k, v in e.items() if k != column} for e in _events(40, 7)]
    table = pa.Table.from_pylist(events).append_column(column, pa.nulls(len(events)))
    states, stored = {}, {}
    for fmt in ("json", "arrow"):
        c, store = _collector(tmp_path, f"{fmt}-{column}")
        b = (
            validate("prediction", [dict(e) for e in events], c.limits())
            if fmt == "json"
            else validate_arrow(decode_arrow(_ipc(table), 1 << 30), c.limits())
        )
        whole = b.accepted if b.segment is None else segments.events_of(b.segment)
        stored[fmt] = [(e["type"], e["status"], e["shadow"]) for e in whole]
        r = c.ingest_batch("prediction", b)
        assert (r.accepted, r.rejected) == (40, [])
        states[fmt] = _state(c, store)
        store.close()
    assert states["arrow"] == states["json"]
    assert stored["arrow"] == stored["json"]


@pytest.mark.parametrize(
    "values",
    [[1.5, 2.5, None], [3, 4, None], [True, False, None], ["eu", "us", None]],
    ids=["float", "int", "bool", "str"],
)
def test_dictionary_encoded_segment_values_are_the_values(
    tmp_path: Path, values: list[Any]
) -> None:
    """A segment key's values dictionary-encoded (numbers too) split the windows as the
    same values sent as JSON. Numbers failed the request (a 500: the length check of
    string values ran a string kernel over them)."""
    import pyarrow as pa

    from driftline.store import segments

    events = _events(30, 8)
    for i, e in enumerate(events):
        v = values[i % 3]
        e["segment"] = {} if v is None else {"k": v}
    table = pa.Table.from_pylist(events)
    column = pa.array([values[i % 3] for i in range(30)]).dictionary_encode()
    seg = pa.StructArray.from_arrays([column], ["k"])
    table = table.set_column(table.schema.get_field_index("segment"), "segment", seg)
    states = {}
    for fmt in ("json", "arrow"):
        c, store = _collector(tmp_path, fmt)
        if fmt == "json":
            r = c.ingest("prediction", [dict(e) for e in events])
        else:
            b = validate_arrow(decode_arrow(_ipc(table), 1 << 30), c.limits())
            assert [e["segment"] for e in segments.events_of(b.segment)] == [
                e["segment"] for e in events
            ]
            r = c.ingest_batch("prediction", b)
        assert (r.accepted, r.rejected) == (30, [])
        states[fmt] = _state(c, store)
        store.close()
    assert states["arrow"] == states["json"]
    segs = {s for _, by_seg in states["json"].values() for s in by_seg}
    assert {f"k={v}" for v in values[:2]} <= segs


def test_a_struct_of_many_keys_is_read_once_not_key_by_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pc.struct_field costs time in the number of the struct's keys; called once per key
    (the keys' count, the segment's keys, the features' columns and unknown features) it
    made validation quadratic: a 3 MB body of 20 000 feature keys took 100 s of CPU,
    5 events of 1 000 keys each (5 000 names) 19 s. Each struct is now flattened once."""
    import pyarrow as pa
    import pyarrow.compute as pc

    events = _events(6, 9)
    for i, e in enumerate(events):
        e["model"], e["version"] = "m1", "v1"
        e["features"] = {f"f{i}_{j}": float(j) for j in range(300)}  # 1 800 names
        e["segment"] = {f"s{i}_{j}": "a" for j in range(30)}  # 180 keys, 30 an event
    calls = []
    real = pc.struct_field

    def counted(*args: Any, **kw: Any) -> Any:
        calls.append(args[1])
        return real(*args, **kw)

    monkeypatch.setattr(pc, "struct_field", counted)
    c, store = _collector(tmp_path, "wide")
    b = validate_arrow(decode_arrow(encode_arrow(events) or b"", 1 << 30), c.limits())
    too_many = pa.table({"features": [{f"f{j}": 1.0 for j in range(2000)}]})
    validate_arrow(too_many, c.limits())  # over max_features: counted, not read key by key
    r = c.ingest_batch("prediction", b)
    assert (r.accepted, r.rejected) == (6, [])
    assert len(calls) < 10, f"{len(calls)} calls of pc.struct_field"
    _, segs = _state(c, store)[("m1", "v1", int(T0))]
    assert segs["s0_0=a"][0] == 1  # the first keys seen split the window
    store.close()


@pytest.mark.parametrize(
    ("column", "field"),
    [("features", "features"), ("segment", "segment"), ("prediction", "prediction")],
)
def test_a_key_twice_in_an_arrow_object_is_refused_naming_it(
    tmp_path: Path, column: str, field: str
) -> None:
    """A struct type may name a field twice, a JSON object a key once: such a column was a
    500 (struct_field: 'Multiple matches'; to_pylist: 'duplicate field names')."""
    import pyarrow as pa

    events = _events(4, 10)
    table = pa.Table.from_pylist(events)
    twice = pa.StructArray.from_arrays(
        [pa.array(["a", "b", "c", "d"]), pa.array([1.0, 2.0, 3.0, 4.0])], ["k", "k"]
    )
    if column == "prediction":  # deeper: an object within the prediction
        twice = pa.StructArray.from_arrays([twice], ["label"])
    table = table.set_column(table.schema.get_field_index(column), column, twice)
    c, store = _collector(tmp_path, "twice")
    b = validate_arrow(decode_arrow(_ipc(table), 1 << 30), c.limits())
    assert len(b.accepted) == 0
    assert {(r["field"], "'k' twice" in r["error"]) for r in b.rejected} == {(field, True)}
    store.close()


def test_a_batch_retried_in_part_is_counted_from_its_columns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch some of whose events were stored before (an SDK retry after a timeout):
    its new events are counted per model and version from the columns, as the JSON path
    counts them, without making a dict of each event (4 us an event: 20 ms of 85 for a
    retried batch of 5 000)."""

    def by_row(self: ArrowEvents, i: Any) -> Any:
        raise AssertionError("an Arrow batch's events read one by one")

    counted = {}
    for fmt in ("json", "arrow"):
        c, store = _collector(tmp_path, f"retry-{fmt}")
        events = _events(60, 11)
        for part, new in ((events[:40], 40), (events, 20)):
            if fmt == "json":
                assert c.ingest("prediction", [dict(e) for e in part]).accepted == new
                continue
            b = validate_arrow(decode_arrow(encode_arrow(part) or b"", 1 << 30), c.limits())
            with monkeypatch.context() as m:
                m.setattr(ArrowEvents, "__getitem__", by_row)
                assert c.ingest_batch("prediction", b).accepted == new
        counted[fmt] = {
            tuple(s.labels.values()): s.value
            for metric in c.metrics.ingested.collect()
            for s in metric.samples
            if s.name.endswith("_total")
        }
        store.close()
    assert counted["arrow"] == counted["json"]
    assert sum(counted["json"].values()) == 60


def test_folds_of_busy_windows_keep_every_value_in_the_quantile_sketches(tmp_path: Path) -> None:
    """A fold is at most fold_rows + one request's events: under the sketch's sample_above,
    so a window taking batches of max_batch_events never samples (65 536 + a batch did)."""
    c, store = _collector(tmp_path, "folds")
    big = c.settings.max_batch_events
    rng = np.random.default_rng(7)
    n = 0
    while n < 2 * c.settings.windows.fold_rows:
        batch = []
        for k in range(big):
            batch.append({
                "type": "prediction", "event_id": f"f{n + k}", "timestamp": T0 + 1.0,
                "model": "m1", "version": "v1", "features": {"x": float(rng.normal())},
            })  # fmt: skip
        b = validate_arrow(decode_arrow(encode_arrow(batch) or b"", 1 << 30), c.limits())
        assert c.ingest_batch("prediction", b).accepted == big
        n += big
    (p,) = c.windows._partials.values()
    stats = p.segments["*"]
    assert stats.n_events >= c.settings.windows.fold_rows  # folded at least once
    assert not stats.profile.columns["x"].quantiles.sampled
    store.close()


def test_a_segment_value_that_json_cannot_hold_is_refused(tmp_path: Path) -> None:
    """JSON has no NaN or infinity: an Arrow segment value of either split the window
    under 'k=nan' while the stored event read {"k": null} (orjson writes NaN as null)."""
    import pyarrow as pa

    events = _events(4, 12)
    table = pa.Table.from_pylist(events)
    values = pa.array([1.5, float("nan"), float("inf"), None]).dictionary_encode()
    for column in (values, values.cast(pa.float64())):
        seg = pa.StructArray.from_arrays([column], ["k"])
        sent = table.set_column(table.schema.get_field_index("segment"), "segment", seg)
        c, store = _collector(tmp_path, f"nan-{column.type}")
        b = validate_arrow(decode_arrow(_ipc(sent), 1 << 30), c.limits())
        assert [(r["index"], r["field"]) for r in b.rejected] == [
            (1, "segment.k"),
            (2, "segment.k"),
        ]
        assert "finite number" in b.rejected[0]["error"]
        assert c.ingest_batch("prediction", b).accepted == 2
        segs = {s for _, by_seg in _state(c, store).values() for s in by_seg}
        assert "k=1.5" in segs and not {"k=nan", "k=inf"} & segs
        store.close()
