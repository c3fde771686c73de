"""Arrow IPC prediction batches (``application/vnd.apache.arrow.stream``) beside JSON."""

from __future__ import annotations

import datetime
import decimal
import struct
import time
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pytest

from driftline.sdk.arrow_batch import CONTENT_TYPE, decode_records, encode_arrow
from driftline.server.ingest import Limits, validate
from driftline.server.ingest_arrow import decode_arrow, validate_arrow
from driftline.server.ipc_size import decoded_bytes
from driftline.store import segments
from driftline.windows.columns import EventBlock, infer_schema

from .conftest import T0, Env, prediction


def _stamp(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{round(ts % 1 * 1e6):06d}Z"


def _events(n: int) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        e = prediction(i, timestamp=_stamp(T0 + i * 0.25), segment={"region": "eu"})
        e["features"]["n"] = i  # integers into a numeric column
        if i % 7 == 3:
            del e["features"]["x"]  # a feature this event lacks
        if i % 5 == 0:
            e["latency_ms"] = None
        e["scores"] = [0.25, 0.75]
        if i % 4 == 1:  # scored in the SDK (issue 18's pre-scored events)
            e["outlier"] = {"score": 0.5 + i, "model": "abc123"}
        out.append(e)
    return out


def _table(events: list[dict[str, Any]]) -> pa.Table:
    data = encode_arrow(events)
    assert data is not None
    return pa.ipc.open_stream(data).read_all()


async def _post(env: Env, table: pa.Table, path: str = "/v1/events") -> Any:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    body = sink.getvalue().to_pybytes()
    headers = {**env.auth("ingest"), "Content-Type": CONTENT_TYPE}
    return await env.client.post(path, content=body, headers=headers)


def test_an_arrow_batch_gives_the_events_and_window_columns_json_gives() -> None:
    events = _events(60)
    for i, e in enumerate(events):
        if i % 3 == 0:  # a client's requests (fingerprinted for bursts)
            e["tags"] = {"client": f"c{i % 2}", "note": None if i % 2 else "x"}
        if i >= 40:  # a feature the schema (from the first 40 events) does not have
            e["features"]["late"] = float(i)
    lim = Limits(T0, 3600.0, 100)
    from_json = validate("prediction", orjson.loads(orjson.dumps(events)), lim)
    from_arrow = validate_arrow(decode_arrow(encode_arrow(events) or b"", 1 << 30), lim)
    assert from_arrow.rejected == []
    payloads = [e.pop("payload") for e in from_json.accepted]
    # the events the live path reads: what it reads of the JSON path's
    pairs = zip(from_json.accepted, from_arrow.accepted, strict=True)
    light = [{k: e[k] for k in a} for e, a in pairs]
    assert list(from_arrow.accepted) == light and "outlier" in from_arrow.accepted[1]
    # the whole events and their payloads, stored as one segment, as the JSON path's
    assert segments.events_of(from_arrow.segment) == [
        {**e, "tags": {k: v for k, v in e["tags"].items() if v is not None}}
        for e in from_json.accepted
    ]  # (a null in a struct column is a key the event does not have)
    stored = segments.decode(segments.encode(from_arrow.segment))
    assert segments.payloads_of(stored, range(60)) == [
        orjson.dumps(e).decode() for e in segments.events_of(from_arrow.segment)
    ]
    assert payloads[1] == segments.payloads_of(stored, [1])[0]  # no null anywhere: the same text
    schema = infer_schema(from_json.accepted[:40])
    a = EventBlock.of(schema, from_json.accepted)
    b = EventBlock.of_arrow(schema, from_arrow.table, from_arrow.accepted)
    assert b.table.equals(a.table)
    assert b.unknown == a.unknown and len(a.unknown) == 20
    assert b.clients == a.clients and a.clients is not None and len(a.clients) == 20
    assert (b.latency == a.latency)[~pa.array(a.latency).is_nan().to_numpy(False)].all()
    assert (b.error == a.error).all() and (b.shadow == a.shadow).all()


async def test_arrow_batch_is_stored_like_json_and_bad_rows_name_their_field(env: Env) -> None:
    events = _events(10)
    table = _table(events)
    bad = table.to_pylist()
    bad[2]["event_id"] = ""
    bad[4]["model"] = "no spaces allowed"
    bad[5]["latency_ms"] = -1.0
    bad[6]["status"] = "maybe"
    bad[7]["timestamp"] = None
    bad[8]["event_id"] = bad[0]["event_id"]  # repeats an earlier row: a duplicate
    bad[9]["outlier"] = {"score": -1.0, "model": "abc123"}
    r = await _post(env, pa.Table.from_pylist(bad, schema=table.schema))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["accepted"] == 3 and body["duplicates"] == 1
    got = {x["index"]: (x["field"], x["event_id"]) for x in body["rejected"]}
    assert got == {
        2: ("event_id", ""),
        4: ("model", "e4"),
        5: ("latency_ms", "e5"),
        6: ("status", "e6"),
        7: ("timestamp", "e7"),
        9: ("outlier.score", "e9"),
    }
    assert "allowed" in body["rejected"][3]["error"]
    # the same ids again, as JSON: duplicates of what the Arrow batch stored
    r = await env.client.post("/v1/events", json=events[:2], headers=env.auth("ingest"))
    assert r.json() == {"accepted": 0, "duplicates": 2, "rejected": []}
    # stored as one segment, read back as the JSON path's payloads (samples, drill-down)
    r = await env.client.get("/v1/events/sample?model=m&limit=10", headers=env.auth("read"))
    got = {e["event_id"]: e for e in r.json()}
    assert sorted(got) == ["e0", "e1", "e3"]
    json_path = validate("prediction", orjson.loads(orjson.dumps(events)), Limits(T0, 3600.0, 100))
    for e in json_path.accepted:
        if e["event_id"] in got:
            assert got[e["event_id"]] == orjson.loads(e["payload"])


async def test_arrow_columns_of_the_wrong_kind_are_refused_naming_the_column(env: Env) -> None:
    table = _table(_events(3))
    r = await _post(env, table.append_column("stages", pa.array([1, 2, 3])))
    assert r.status_code == 422 and "'stages'" in r.json()["detail"]
    wrong = table.set_column(table.schema.get_field_index("latency_ms"), "latency_ms",
                             pa.array(["1", "2", "3"]))  # fmt: skip
    r = await _post(env, wrong)
    body = r.json()
    assert r.status_code == 422
    assert {x["field"] for x in body["rejected"]} == {"latency_ms"}
    r = await _post(env, table, "/v1/labels")
    assert r.status_code == 415 and "predictions" in r.json()["detail"]
    headers = {**env.auth("ingest"), "Content-Type": CONTENT_TYPE}
    r = await env.client.post("/v1/events", content=b"not arrow", headers=headers)
    assert r.status_code == 400 and "Arrow IPC" in r.json()["detail"]


def test_the_sdk_sends_json_for_events_arrow_does_not_carry() -> None:
    events = _events(3)
    # a field or feature the first event lacks is kept for the events that have it
    first, later = dict(events[0]), {**events[1], "features": {**events[1]["features"], "new": 1.0}}
    first.pop("outlier", None)
    back = decode_records(encode_arrow([first, later]) or b"")
    assert back[1]["features"]["new"] == 1.0 and back[1]["outlier"] == later["outlier"]
    assert encode_arrow([{**events[0], "stages": []}]) is None
    assert encode_arrow([events[0], {**events[1], "features": {"x": "text", "c": 1}}]) is None
    back = decode_records(encode_arrow(events) or b"")
    assert [e["timestamp"] for e in back] == [e["timestamp"] for e in events]


@pytest.mark.parametrize("arrow", [True, False])
def test_http_sink_delivers_arrow_batches_and_falls_back_to_json(arrow: bool) -> None:
    """An Arrow batch goes with its content type; a collector that answers 415 (one from
    before Arrow batches) gets the same batch as JSON, and JSON from then on."""
    from driftline.sdk.http_sink import HTTPSink

    seen: list[tuple[str, bytes]] = []

    def handler(request: Any) -> Any:
        import httpx

        ctype = request.headers["content-type"]
        seen.append((ctype, request.content))
        if ctype == CONTENT_TYPE and not arrow:
            return httpx.Response(415, json={"detail": "unsupported"})
        return httpx.Response(200, json={"accepted": 3, "duplicates": 0, "rejected": []})

    import httpx

    client = httpx.Client(transport=httpx.MockTransport(handler))
    sink = HTTPSink("https://collector.invalid", client=client, arrow=True, gzip_min_bytes=1 << 30)
    sink.open(_Report())
    sink.write("prediction", _events(3))
    sink.write("prediction", _events(3))
    kinds = [c for c, _ in seen]
    if arrow:
        assert kinds == [CONTENT_TYPE, CONTENT_TYPE]
    else:
        assert kinds == [CONTENT_TYPE, "application/json", "application/json"]
        assert len(orjson.loads(seen[1][1])) == 3
    assert sink.pending() == 0


class _Report:
    def __getattr__(self, name: str) -> Any:
        return lambda *a, **k: None


async def test_arrow_values_json_has_not_are_refused_naming_the_field(env: Env) -> None:
    # bytes, decimals, dates, ... have no JSON value: stored, they made every read of their
    # segment fail (samples, label joins, recovery, the retention purge)
    table = _table(_events(4))
    n = table.num_rows
    for name, column, field in [
        ("features", pa.array([{"x": 1.0, "raw": b"\xff"}] * n), "features.raw"),
        ("prediction", pa.array([decimal.Decimal("1.5")] * n), "prediction"),
        ("tags", pa.array([{"at": datetime.date(2026, 1, 1)}] * n), "tags.at"),
        ("scores", pa.array([{"p": 1}] * n, pa.map_(pa.string(), pa.int64())), "scores"),
    ]:
        wrong = table.set_column(table.schema.get_field_index(name), name, column)
        r = await _post(env, wrong)
        assert r.status_code == 422, (name, r.text)
        body = r.json()
        assert body["accepted"] == 0 and {x["field"] for x in body["rejected"]} == {field}
        assert "JSON values" in body["rejected"][0]["error"]
    r = await _post(env, table)
    assert r.json()["accepted"] == n
    r = await env.client.get("/v1/events/sample?model=m&limit=10", headers=env.auth("read"))
    assert r.status_code == 200 and len(r.json()) == n
    assert env.store.purge(T0 + 10**9) == {
        "events": n,
        "event_segments": 1,
        "feedback": 0,
        "labels": 0,
        "prediction_index": 0,
    }
    # the SDK sends such events as JSON, which stores them as text
    assert encode_arrow([{**_events(1)[0], "features": {"raw": b"\xff"}}]) is None
    assert encode_arrow([{**_events(1)[0], "features": {"at": datetime.date(2026, 1, 1)}}]) is None


async def test_integers_beyond_a_float_s_exact_range_are_answered_not_a_server_error(
    env: Env,
) -> None:
    table = _table(_events(3))
    n = table.num_rows
    huge = pa.array([2**62 + 1] * n, pa.int64())  # beyond 2**53: a float64 cast is not exact
    late = table.set_column(table.schema.get_field_index("timestamp"), "timestamp", huge)
    r = await _post(env, late)
    assert r.status_code == 422
    assert {x["field"] for x in r.json()["rejected"]} == {"timestamp"}
    assert "out of range" in r.json()["rejected"][0]["error"]
    slow = table.set_column(table.schema.get_field_index("latency_ms"), "latency_ms", huge)
    r = await _post(env, slow)  # as JSON: accepted (a latency has no upper bound)
    assert r.status_code == 200 and r.json()["accepted"] == n
    r = await env.client.get("/v1/events/sample?model=m&limit=10", headers=env.auth("read"))
    assert {e["latency_ms"] for e in r.json()} == {float(2**62 + 1)}


def _body(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


async def test_an_arrow_body_is_measured_and_checked_before_it_is_read(env: Env) -> None:
    headers = {**env.auth("ingest"), "Content-Type": CONTENT_TYPE}
    table = _table(_events(1000))
    # one 20 kB event id in a dictionary used by every row: a 60 kB body, 20 MB made whole
    # (max_decoded_bytes is 8 MB here; the dictionary counted once, it was 0.1 MB)
    i = table.schema.get_field_index("event_id")
    indices = pa.array([0] * table.num_rows, pa.int32())
    ids = pa.DictionaryArray.from_arrays(indices, pa.array(["x" * 20_000]))
    r = await env.client.post(
        "/v1/events", content=_body(table.set_column(i, "event_id", ids)), headers=headers
    )
    assert r.status_code == 413 and "exceeds" in r.json()["detail"]
    # a string column that is not UTF-8 (the IPC writer does not check): a 400, not a 500
    raw = pa.array(["e0", "e1"])
    bad = pa.Array.from_buffers(pa.string(), 2, [None, raw.buffers()[1], pa.py_buffer(b"e0e\xff")])
    small = _table(_events(2))
    r = await env.client.post(
        "/v1/events", content=_body(small.set_column(i, "event_id", bad)), headers=headers
    )
    assert r.status_code == 400 and "not a valid Arrow IPC stream" in r.json()["detail"]
    assert env.store.sample_events("m", None, None, None, 10) == []


async def test_a_compressed_arrow_body_is_measured_before_it_is_decompressed(env: Env) -> None:
    # ZSTD or LZ4 buffers (IPC compression): 12 kB of ZSTD decoded to 381 MB, so a body
    # within max_body_bytes could take all memory before the decoded table was measured
    headers = {**env.auth("ingest"), "Content-Type": CONTENT_TYPE}
    table = _table(_events(3))
    n = 2_000_000  # 16 MB of float64 timestamps: 8 MB is the limit here
    big = pa.table({"event_id": pa.array(["e"] * n), "timestamp": pa.array(np.zeros(n))})
    for codec in ("zstd", "lz4"):
        sink = pa.BufferOutputStream()
        options = pa.ipc.IpcWriteOptions(compression=codec)
        with pa.ipc.new_stream(sink, big.schema, options=options) as w:
            w.write_table(big)
        body = sink.getvalue().to_pybytes()
        r = await env.client.post("/v1/events", content=body, headers=headers)
        assert r.status_code == 413, r.text
    # each compressed buffer starts with its decompressed length: that is what is measured
    # (one said to be 1 TB is a 413 without decompressing, not a failed decompression)
    ids = pa.array(["x" * 100] * 1000)
    small = pa.table({"event_id": ids, "timestamp": pa.array([T0] * 1000)})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(
        sink, small.schema, options=pa.ipc.IpcWriteOptions(compression="lz4")
    ) as w:
        w.write_table(small)
    body = sink.getvalue().to_pybytes()
    at = body.rindex(struct.pack("<q", 100_000))  # the ids' text, decompressed
    lying = body[:at] + struct.pack("<q", 1 << 40) + body[at + 8 :]
    r = await env.client.post("/v1/events", content=lying, headers=headers)
    assert r.status_code == 413, r.text
    # and a compressed batch within the limits is read as any other
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(
        sink, table.schema, options=pa.ipc.IpcWriteOptions(compression="zstd")
    ) as w:
        w.write_table(table)
    r = await env.client.post("/v1/events", content=sink.getvalue().to_pybytes(), headers=headers)
    assert r.status_code == 200 and r.json()["accepted"] == 3, r.text


async def test_a_negative_declared_length_does_not_cancel_out_a_large_one(env: Env) -> None:
    # the decompressed lengths the buffers declare are added up before anything is
    # decompressed; one declaring -16 MB took 16 MB off the sum, so a batch decoding to
    # 16 MB (more than the 8 MB allowed here) passed the check and was decompressed whole
    # before Arrow refused the negative length (a 1.6 MB body: +380 MB of memory)
    n = 2_000_000
    schema = pa.schema([("timestamp", pa.float64())])
    sink = pa.BufferOutputStream()
    options = pa.ipc.IpcWriteOptions(compression="lz4")
    with pa.ipc.new_stream(sink, schema, options=options) as w:
        w.write_batch(pa.record_batch([pa.array(np.zeros(n))], schema=schema))
        w.write_batch(pa.record_batch([pa.array(np.zeros(1000))], schema=schema))
    body = sink.getvalue().to_pybytes()
    at = body.rindex(struct.pack("<q", 8000))  # the second batch's values, decompressed
    lying = body[:at] + struct.pack("<q", -8 * n) + body[at + 8 :]
    with pytest.raises(ValueError, match="declares a negative length"):
        decoded_bytes(lying)
    headers = {**env.auth("ingest"), "Content-Type": CONTENT_TYPE}
    r = await env.client.post("/v1/events", content=lying, headers=headers)
    assert r.status_code == 400 and "declares a negative length" in r.json()["detail"], r.text
    assert decoded_bytes(body) == 8 * (n + 1000)  # as sent: measured, then a 413
    r = await env.client.post("/v1/events", content=body, headers=headers)
    assert r.status_code == 413, r.text


def test_objects_within_arrow_columns_read_back_with_the_keys_their_events_sent() -> None:
    # a struct column holds the union of its events' keys: the ones an event did not send
    # read back as absent, as at the top level of features (not as nulls JSON never had)
    events = _events(4)
    events[0]["scores"] = {"cat": 0.2, "dog": 0.8}
    events[1]["scores"] = {"cat": 0.5}
    events[2]["scores"] = events[3]["scores"] = {"dog": 1.0}
    for e in events:
        e["prediction"] = {"label": "b"}
    events[3]["prediction"] = {"label": "a", "p": 0.3}
    events[0]["features"]["geo"] = {"lat": 1.5}
    events[1]["features"]["geo"] = {"lon": 2.5}
    events[2]["tags"] = {"route": [{"hop": "a"}, {"ms": 3}]}
    lim = Limits(T0, 3600.0, 100)
    from_json = validate("prediction", orjson.loads(orjson.dumps(events)), lim)
    body = encode_arrow(events)
    assert body is not None  # (sent as Arrow)
    from_arrow = validate_arrow(decode_arrow(body, 1 << 30), lim)
    stored = segments.decode(segments.encode(from_arrow.segment))
    assert segments.payloads_of(stored, range(4)) == [e["payload"] for e in from_json.accepted]


async def test_key_limits_count_each_event_s_keys_not_the_batch_s(env: Env) -> None:
    # a struct column holds the keys of all its events: 40 events with one segment key
    # each made a 40-key column, and every event was refused ("at most 32"); JSON took them
    events = _events(41)
    for i, e in enumerate(events[:40]):
        e["segment"] = {f"shop{i}": "x"}
    events[40]["segment"] = {f"k{j}": "x" for j in range(33)}  # this one has too many
    r = await _post(env, _table(events))
    body = r.json()
    assert body["accepted"] == 40, r.text
    assert [(x["index"], x["field"]) for x in body["rejected"]] == [(40, "segment")]
    assert body["rejected"][0]["error"] == "segment has 33 keys; at most 32 allowed"
    r = await env.client.get("/v1/events/sample?model=m&limit=100", headers=env.auth("read"))
    got = {e["event_id"]: e["segment"] for e in r.json()}
    assert got == {e["event_id"]: e["segment"] for e in events[:40]}
    # a key the collector refuses goes as JSON, which refuses only the events that have it
    long = {**events[1], "features": {"x" * 129: 1.0}}
    assert encode_arrow([events[0], long]) is None
