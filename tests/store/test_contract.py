"""The Store contract: every engine (SQLite, PostgreSQL) behaves the same."""

from __future__ import annotations

from typing import Any

import orjson

from driftline.store import MetricQuery, Store, WindowKey
from driftline.store.base import EVENT_COLUMNS, INLINE_COLUMNS

T0 = 1_700_000_000.0


def event(i: int, *, model: str = "m", version: str = "v1", ts: float = T0, **kw: Any) -> tuple:
    payload = {"event_id": f"e{i}", "model": model, "version": version, "ts": ts}
    row = {
        "event_id": f"e{i}",
        "model": model,
        "version": version,
        "prediction_id": kw.get("prediction_id", f"p{i}"),
        "ts": ts,
        "received_at": kw.get("received_at", ts),
        "window_start": int(ts // 300 * 300),
        "partial_id": kw.get("partial_id", "P1"),
        "seq": kw.get("seq", 1),
        "status": "ok",
        "shadow": False,
        "payload": orjson.dumps({**payload, "prediction": kw.get("prediction", 1)}).decode(),
    }
    return tuple(row[c] for c in INLINE_COLUMNS)  # as the JSON path stores them


def test_event_columns_are_the_events_table() -> None:
    from driftline.store import tables
    from driftline.store.postgres import _EVENT_COLUMNS

    assert tuple(c.name for c in tables.events.c) == EVENT_COLUMNS
    assert tuple(c for c, _ in _EVENT_COLUMNS) == EVENT_COLUMNS


def test_insert_events_is_idempotent_on_event_id(store: Store) -> None:
    assert store.insert_events([event(1), event(2)]) == {"e1", "e2"}
    assert store.insert_events([event(2), event(3)]) == {"e3"}
    assert store.insert_events([]) == set()
    assert store.event_counts("m", "v1", 0, 2**40) == 3
    # known ids between new ones: exactly the new ones are reported
    assert store.insert_events([event(i) for i in (0, 3, 6, 1, 7, 2)]) == {"e0", "e6", "e7"}
    assert store.insert_events([event(i) for i in (6, 7)]) == set()
    # payloads by id, of one model; unknown ids are absent
    got = store.event_payloads("m", ["e6", "e1", "zz"])
    assert sorted(got) == ["e1", "e6"] and all(isinstance(v, str) for v in got.values())
    assert store.event_payloads("other-model", ["e6"]) == {}
    assert store.event_counts("m", "v1", 0, 2**40) == 6


def test_models_list_versions_with_stored_event_counts(store: Store) -> None:
    store.ensure_version("m", "v1", T0)
    store.ensure_version("m", "v2", T0 + 1)
    store.ensure_version("other", "a", T0)
    store.insert_events([event(i) for i in range(5)])
    store.insert_events([event(10 + i, version="v2") for i in range(2)])
    models = {m["model"]: m for m in store.models()}
    assert set(models) == {"m", "other"}
    versions = {v["version"]: v["events"] for v in models["m"]["versions"]}
    assert versions == {"v1": 5, "v2": 2}
    assert models["other"]["versions"][0]["events"] == 0


def test_labels_upsert_by_prediction_and_report_their_windows(store: Store) -> None:
    store.insert_events([event(1, prediction_id="p1"), event(2, prediction_id="p2", ts=T0 + 900)])
    row = {"event_id": "l1", "prediction_id": "p1", "model": "m", "version": None}
    row |= {"ts": T0, "received_at": T0, "label": "0"}
    assert store.upsert_labels([row]) == [("m", "v1", int(T0 // 300 * 300))]
    # a corrected label for the same prediction replaces the first one
    store.upsert_labels([{**row, "event_id": "l1b", "label": "1"}])
    got = store.labelled("m", "v1", 0, 2**40)
    assert [orjson.loads(label) for _, label in got] == [1]
    # a label whose prediction is unknown (yet) is kept and labels no window
    orphan = {**row, "event_id": "l9", "prediction_id": "nope"}
    assert store.upsert_labels([orphan]) == []


def _partial(start: int, profile: bytes) -> dict[str, Any]:
    """Replica r1's partial P1 of model m v1's window at ``start``, covering batch 1."""
    return {
        "partial_id": "P1",
        "model": "m",
        "version": "v1",
        "window_start": start,
        "replica": "r1",
        "covered_seq": 1,
        "n_events": 1,
        "profile": profile,
        "updated_at": T0,
    }


def test_partials_and_uncovered_events(store: Store) -> None:
    store.insert_events([event(1, seq=1), event(2, seq=2), event(3, partial_id="P2", seq=1)])
    start = int(T0 // 300 * 300)
    assert len(store.uncovered_events("m", "v1", start, start + 300)) == 3
    partial = _partial(start, b"\x00\x01")
    store.save_partial(partial)
    uncovered = store.uncovered_events("m", "v1", start, start + 300)
    assert sorted(orjson.loads(p)["event_id"] for p in uncovered) == ["e2", "e3"]
    store.save_partial({**partial, "covered_seq": 2, "n_events": 2, "profile": b"\x02"})
    parts = store.partials("m", "v1", start, start + 300)
    assert [(p.partial_id, p.covered_seq, p.profile) for p in parts] == [("P1", 2, b"\x02")]
    assert len(store.uncovered_events("m", "v1", start, start + 300)) == 1


def test_uncovered_events_follow_the_partials_the_caller_read(store: Store) -> None:
    """A replica saving its partial between an evaluator's two reads: the events the new
    profile covers are still returned (against the covered seqs read), not lost."""
    store.insert_events([event(1, seq=1), event(2, seq=2), event(3, partial_id="P2", seq=1)])
    start = int(T0 // 300 * 300)
    partial = _partial(start, b"\x00")
    store.save_partial(partial)
    read = {p.partial_id: p.covered_seq for p in store.partials("m", "v1", start, start + 300)}
    store.save_partial({**partial, "covered_seq": 2, "n_events": 2})  # the other replica
    uncovered = store.uncovered_events("m", "v1", start, start + 300, read)
    assert sorted(orjson.loads(p)["event_id"] for p in uncovered) == ["e2", "e3"]
    # as of now, e2 is covered
    now = store.uncovered_events("m", "v1", start, start + 300)
    assert sorted(orjson.loads(p)["event_id"] for p in now) == ["e3"]
    assert len(store.uncovered_events("m", "v1", start, start + 300, {})) == 3


def test_window_generations_make_changed_windows_pending_again(store: Store) -> None:
    k = WindowKey("m", "v1", 300, 1_000_200)
    store.mark_changed([k, k], T0)
    assert store.pending_windows(closed_at=k.window_end - 1) == []
    (p,) = store.pending_windows(closed_at=k.window_end)
    assert p.key == k
    store.mark_changed([k], T0)  # changed while being evaluated
    store.mark_evaluated(k, p.generation, T0)
    (again,) = store.pending_windows(closed_at=k.window_end)
    assert again.generation > p.generation
    store.mark_evaluated(k, again.generation, T0)
    assert store.pending_windows(closed_at=k.window_end) == []


def test_metric_points_upsert_and_query(store: Store) -> None:
    base = {
        "model": "m",
        "version": "v1",
        "segment": "*",
        "window_size": 300,
        "metric": "drift_score",
        "column": "a",
        "method": "psi",
        "status": "ok",
        "n": 10,
        "details": "{}",
        "evaluated_at": T0,
    }
    store.upsert_metric_points(
        [{**base, "window_start": 0, "value": 0.1}, {**base, "window_start": 300, "value": 0.2}]
    )
    store.upsert_metric_points([{**base, "window_start": 300, "value": 0.3, "status": "drift"}])
    # every status the windows write (17 characters: PostgreSQL refused it before 0012)
    store.upsert_metric_points(
        [{**base, "window_start": 900, "value": None, "status": "insufficient_data"}]
    )
    got = store.metric_points(MetricQuery(model="m", metric="drift_score"))
    assert [(p["window_start"], p["value"], p["status"]) for p in got] == [
        (0, 0.1, "ok"),
        (300, 0.3, "drift"),
        (900, None, "insufficient_data"),
    ]
    assert store.metric_points(MetricQuery(column="b")) == []
    assert len(store.metric_points(MetricQuery(start=300))) == 2
    latest = store.latest_points(300)
    assert [p["window_start"] for p in latest] == [900]
    # the latest window with a metric family: labels arrive late, so an older window
    store.upsert_metric_points(
        [{**base, "metric": "performance.accuracy", "window_start": 0, "value": 0.9}]
    )
    store.upsert_metric_points(
        [{**base, "metric": "performance_x", "window_start": 600, "value": 1}]
    )
    got = store.latest_points(300, {"performance.accuracy", "performance.f1"})
    assert [(p["window_start"], p["metric"]) for p in got] == [(0, "performance.accuracy")]
    assert store.latest_points(300, {"nothing"}) == []


def test_version_schema_first_writer_wins_and_reference_replaces(store: Store) -> None:
    store.ensure_version("m", "v1", T0)
    assert store.set_version_schema("m", "v1", '{"a":1}') == '{"a":1}'
    assert store.set_version_schema("m", "v1", '{"b":1}') == '{"a":1}'
    store.replace_version_schema("m", "v1", '{"c":1}')
    row = store.version("m", "v1")
    assert row is not None and row["schema"] == '{"c":1}'
    assert store.version("m", "nope") is None
    store.put_reference("m", "v1", b"profile-1", 10, T0)
    store.put_reference("m", "v1", b"profile-2", 20, T0)
    assert store.reference("m", "v1") == b"profile-2"
    store.update_version_meta("m", "v2", '{"owner":"ml"}', T0)
    assert store.version("m", "v2")["meta"] == '{"owner":"ml"}'  # type: ignore[index]


def test_job_runs_and_feedback(store: Store) -> None:
    run = {
        "job": "retrain",
        "run_id": "r1",
        "event_id": "r1",
        "scheduled_at": None,
        "started_at": T0,
        "finished_at": T0 + 5,
        "status": "ok",
        "rows_in": 10,
        "rows_out": 9,
        "error": None,
        "metrics": "{}",
        "received_at": T0,
    }
    store.upsert_job_runs([run])
    store.upsert_job_runs([{**run, "status": "failed"}])
    runs = store.job_runs("retrain", 10)
    assert [r["status"] for r in runs] == ["failed"]
    fb = {"event_id": "f1", "prediction_id": "p1", "model": "m", "version": "v1"}
    fb |= {"ts": T0, "received_at": T0, "kind": "thumbs", "value": "1"}
    assert store.insert_feedback([fb]) == 1
    assert store.insert_feedback([fb]) == 0
    more = [
        fb | {"event_id": f"f{i}", "ts": T0 + i, "version": "v2" if i == 3 else "v1"}
        for i in range(2, 6)
    ]
    assert store.insert_feedback(more) == 4
    # the review queue's reads: feedback of a kind for given predictions, oldest first
    review = fb | {"kind": "review", "prediction_id": "p9"}
    store.insert_feedback([review | {"event_id": "r2", "received_at": T0 + 2},
                           review | {"event_id": "r1", "received_at": T0 + 1}])  # fmt: skip
    got = store.feedback_for("m", ["p9", "p1", "nope"], "review")
    assert [r["event_id"] for r in got] == ["r1", "r2"]
    assert store.feedback_for("other", ["p9"], "review") == []


def test_judge_results_belong_to_their_requests_window_whenever_they_come(store: Store) -> None:
    """Issue 20: a judge result counts in the window of the request it judges (served
    requests of the version), however late; ``late`` says whether it came after
    ``lateness`` seconds. The window it was recorded in, other kinds and other windows'
    requests are not read."""
    store.insert_events([event(1), event(2, ts=T0 + 10), event(3, ts=T0 + 300),
                         event(4, version="v2")])  # fmt: skip
    shadow = list(event(5, version="v1", prediction_id="p4"))
    shadow[EVENT_COLUMNS.index("shadow")] = True  # v1 shadowed v2's request p4
    store.insert_events([tuple(shadow)])

    def judged(i: int, pid: str, at: float, kind: str = "judge.lex") -> dict[str, Any]:
        value = '{"status": "scored"}'
        return {"event_id": f"j{i}", "prediction_id": pid, "model": "m", "version": None,
                "ts": at, "received_at": at, "kind": kind, "value": value}  # fmt: skip

    w = T0 // 300 * 300  # the requests' window
    store.insert_feedback([
        judged(1, "p1", T0 + 30),  # on time
        judged(2, "p2", T0 + 10 + 601),  # over 600 s after its request: late
        judged(3, "p3", T0 + 310),  # the next window's request
        judged(4, "p4", T0 + 20),  # v2's request (v1 only shadowed it)
        judged(5, "p1", T0 + 40, kind="thumbs"),
        judged(6, "p1", T0 + 86_400),  # a day later: still the request's window
    ])  # fmt: skip
    got = store.request_feedback("m", "v1", w, w + 300, 600.0, 100, kinds="judge")
    rows = {r["prediction_id"] + "@" + str(int(r["ts"] - T0)): r for r in got}
    assert set(rows) == {"p1@30", "p2@611", "p1@86400"}
    assert {k: r["late"] for k, r in rows.items()} == {
        "p1@30": False, "p2@611": True, "p1@86400": True,
    }  # fmt: skip
    assert rows["p2@611"]["request_ts"] == T0 + 10
    assert rows["p1@30"]["version"] == "v1" and rows["p1@30"]["kind"] == "judge.lex"
    got = store.request_feedback("m", "v2", w, w + 300, 600, 9, kinds="judge")
    assert [r["prediction_id"] for r in got] == ["p4"]
    # the latest `limit`
    got = store.request_feedback("m", "v1", w, w + 300, 600, 1, kinds="judge")
    assert [r["ts"] for r in got] == [T0 + 86_400]
    # recorded in a window whose own requests were not judged: nothing there
    assert store.request_feedback("m", "v1", w + 600, w + 86_700, 600.0, 100, kinds="judge") == []


def test_thumbs_belong_to_their_requests_window_whenever_they_come(store: Store) -> None:
    """Issue 20: a user's thumbs count in the window of the request they name (served
    requests of the version), however late and whatever version the record names; before,
    LLM signals read thumbs by the window they were recorded in, and those recorded in a
    window without LLM requests were counted nowhere. Kinds containing "thumb" in any case
    are thumbs, judge results and other kinds are not."""
    store.insert_events([event(1), event(2, ts=T0 + 10), event(3, ts=T0 + 300),
                         event(4, version="v2")])  # fmt: skip
    shadow = list(event(5, version="v1", prediction_id="p4"))
    shadow[EVENT_COLUMNS.index("shadow")] = True  # v1 shadowed v2's request p4
    store.insert_events([tuple(shadow)])

    def fb(
        i: int, pid: str, at: float, kind: str = "thumbs", version: str | None = "v1"
    ) -> dict[str, Any]:
        return {"event_id": f"t{i}", "prediction_id": pid, "model": "m", "version": version,
                "ts": at, "received_at": at, "kind": kind, "value": '"down"'}  # fmt: skip

    w = T0 // 300 * 300  # the requests' window
    store.insert_feedback([
        fb(1, "p1", T0 + 5),
        fb(2, "p2", T0 + 900, kind="Thumbs_Up", version=None),  # three windows later
        fb(3, "p3", T0 + 301),  # the next window's request
        fb(4, "p4", T0 + 20),  # v2's request (v1 only shadowed it)
        fb(5, "p1", T0 + 6, kind="judge.thumbs"),  # a judge's result, not a user's thumbs
        fb(6, "p1", T0 + 7, kind="click"),
        fb(7, "p1", T0 + 8, version="v9"),  # the record names another version
    ])  # fmt: skip
    got = store.request_feedback("m", "v1", w, w + 300, 600.0, 100, kinds="thumbs")
    assert [(r["prediction_id"], r["ts"] - T0, r["late"]) for r in got] == [
        ("p2", 900, True), ("p1", 8, False), ("p1", 5, False),
    ]  # fmt: skip
    assert {r["version"] for r in got} == {"v1"}  # the request's
    assert got[0]["kind"] == "Thumbs_Up" and got[0]["request_ts"] == T0 + 10
    assert got[0]["value"] == '"down"'
    got = store.request_feedback("m", "v2", w, w + 300, 600.0, 100, kinds="thumbs")
    assert [r["prediction_id"] for r in got] == ["p4"]
    got = store.request_feedback("m", "v1", w + 300, w + 600, 600.0, 100, kinds="thumbs")
    assert [r["prediction_id"] for r in got] == ["p3"]
    # the latest `limit`
    got = store.request_feedback("m", "v1", w, w + 300, 600.0, 1, kinds="thumbs")
    assert [r["ts"] for r in got] == [T0 + 900]
    # the window the late thumbs were recorded in has no request of theirs: nothing there
    assert store.request_feedback("m", "v1", w + 900, w + 1200, 600.0, 100, kinds="thumbs") == []


def test_models_and_job_runs_belong_to_a_project(store: Store) -> None:
    assert store.claim_models(["a", "b"], "red", T0) == {"a": "red", "b": "red"}
    # the first project to claim a model keeps it
    assert store.claim_models(["b", "c"], "blue", T0) == {"b": "red", "c": "blue"}
    assert store.model_projects(["a", "c", "zz"]) == {"a": "red", "c": "blue"}
    for model in ("a", "c"):
        store.ensure_version(model, "v1", T0)
    assert [m["model"] for m in store.models("red")] == ["a"]
    assert {m["model"]: m["project"] for m in store.models()} == {"a": "red", "c": "blue"}
    point = {
        "version": "v1",
        "segment": "*",
        "window_size": 300,
        "window_start": 0,
        "metric": "events",
        "column": "",
        "method": "",
        "value": 1.0,
        "status": "ok",
        "n": 1,
        "details": "{}",
        "evaluated_at": T0,
    }
    store.upsert_metric_points([{**point, "model": "a"}, {**point, "model": "c"}])
    assert [p["model"] for p in store.metric_points(MetricQuery(project="blue"))] == ["c"]
    run = {
        "job": "etl",
        "run_id": "r1",
        "event_id": "r1",
        "scheduled_at": None,
        "started_at": T0,
        "finished_at": T0 + 5,
        "status": "ok",
        "rows_in": 1,
        "rows_out": 1,
        "error": None,
        "metrics": "{}",
        "received_at": T0,
        "project": "red",
    }
    store.upsert_job_runs([run])
    store.upsert_job_runs([{**run, "status": "failed", "project": "blue"}])  # not blue's run
    assert [r["status"] for r in store.job_runs("etl", 10)] == ["ok"]
    assert store.job_runs(None, 10, project="blue") == []


def test_keys_are_listed_without_hashes_and_revoked_once(store: Store) -> None:
    row = {"key_id": "k1", "hash": "h" * 64, "name": "ci", "project": "default"}
    store.create_key({**row, "scopes": "ingest", "created_at": T0, "revoked_at": None})
    assert "hash" not in store.api_keys()[0]
    assert store.key("k1")["hash"] == "h" * 64  # type: ignore[index]
    assert store.revoke_key("k1", T0) is True
    assert store.revoke_key("k1", T0) is False
    assert store.key("k1")["revoked_at"] == T0  # type: ignore[index]
    store.audit("cli", "key.revoke", "k1", "{}", T0)
    assert store.audit_log(5)[0]["action"] == "key.revoke"


def test_retention_purges_raw_events_and_keeps_aggregates(store: Store) -> None:
    old, new = T0 - 40 * 86400, T0
    store.insert_events([event(1, ts=old, received_at=old), event(2, ts=new, received_at=new)])
    lab = {"event_id": "l1", "prediction_id": "p1", "model": "m", "version": "v1"}
    store.upsert_labels([lab | {"ts": old, "received_at": old, "label": "1"}])
    point = {
        "model": "m",
        "version": "v1",
        "segment": "*",
        "window_size": 300,
        "window_start": int(old // 300 * 300),
        "metric": "events",
        "column": "",
        "method": "",
        "value": 1.0,
        "status": "ok",
        "n": 1,
        "details": "{}",
        "evaluated_at": old,
    }
    store.upsert_metric_points([point])
    purged = store.purge(T0 - 30 * 86400)
    assert purged["events"] == 1 and purged["labels"] == 1
    assert store.event_counts("m", "v1", 0, 2**40) == 1
    assert len(store.metric_points(MetricQuery(metric="events"))) == 1


def test_migrate_twice_is_a_no_op(store: Store) -> None:
    store.insert_events([event(1)])
    store.migrate()
    assert store.event_counts("m", "v1", 0, 2**40) == 1


def test_purged_predictions_stay_labellable_until_the_label_horizon(store: Store) -> None:
    day = 86400.0
    old = T0 - 40 * day
    store.insert_events([event(1, prediction_id="p1", ts=old, received_at=old)])
    failed = list(event(2, prediction_id="p2", ts=old, received_at=old))
    failed[EVENT_COLUMNS.index("status")] = "error"
    store.insert_events([tuple(failed)])
    purged = store.purge(T0 - 30 * day, label_before=T0 - 365 * day)
    # the ok prediction moved to the index, the failed one (nothing to label) is gone
    assert purged["events"] == 1 and purged["prediction_index"] == 0
    assert store.event_counts("m", "v1", 0, 2**40) == 0
    lab = {"event_id": "l1", "prediction_id": "p1", "model": "m", "version": None}
    lab |= {"ts": T0, "received_at": T0, "label": "1"}
    match = store.match_labels([lab, {**lab, "event_id": "l2", "prediction_id": "p2"}])
    assert match.windows == [("m", "v1", int(old // 300 * 300))]
    assert match.unmatched == {"m": 1}  # the error event is not indexed: nothing to label
    ((outcome, label),) = store.labelled("m", "v1", 0, 2**40)
    assert orjson.loads(label) == 1 and "prediction" in orjson.loads(outcome)
    # past the horizon the index row and the label go
    purged = store.purge(T0 + 400 * day, label_before=T0 + 2 * day)
    assert purged["prediction_index"] == 1 and purged["labels"] == 2
    assert store.match_labels([lab]).unmatched == {"m": 1}


def test_one_holder_per_lease_until_it_expires(store: Store) -> None:
    assert store.hold_lease("alerting", "a", T0, 30.0)
    assert not store.hold_lease("alerting", "b", T0 + 10, 30.0)  # a holds it
    assert store.hold_lease("alerting", "a", T0 + 20, 30.0)  # renewed until T0 + 50
    assert not store.hold_lease("alerting", "b", T0 + 45, 30.0)
    assert store.hold_lease("alerting", "b", T0 + 51, 30.0)  # a stopped renewing
    lease = store.lease("alerting")
    assert lease is not None and (lease["holder"], lease["acquired_at"]) == ("b", T0 + 51)
    assert not store.hold_lease("alerting", "a", T0 + 60, 30.0)
    store.release_lease("alerting", "a")  # not a's to give: nothing happens
    assert store.lease("alerting")["holder"] == "b"  # type: ignore[index]
    store.release_lease("alerting", "b")
    assert store.hold_lease("alerting", "a", T0 + 61, 30.0)


def test_latest_series_is_per_metric_and_column_and_keeps_a_window_whole(store: Store) -> None:
    base = {
        "model": "m", "version": "v1", "segment": "*", "window_size": 300, "column": "",
        "method": "", "status": "ok", "n": 10, "details": "{}", "evaluated_at": T0,
    }  # fmt: skip
    share = {**base, "metric": "feedback.share", "column": "thumbs"}
    store.upsert_metric_points(
        [
            {**base, "metric": "kpi.revenue", "window_start": 0, "value": 5.0},
            {**base, "metric": "kpi.revenue", "window_start": 300, "value": None},
            {**base, "metric": "kpi.clicks", "window_start": 300, "value": 2.0},
            {**share, "method": "down", "window_start": 0, "value": 0.5},
            {**share, "method": "up", "window_start": 0, "value": 0.5},
            {**share, "method": "up", "window_start": 300, "value": 1.0},
            {**base, "metric": "kpi_other", "window_start": 300, "value": 1.0},
            {**base, "segment": "site=a", "metric": "kpi.x", "window_start": 300, "value": 1.0},
        ]
    )
    got = store.latest_series(300, ("kpi.", "feedback."), since=0)
    seen = sorted((p["metric"], p["method"], p["window_start"], p["value"]) for p in got)
    assert seen == [
        ("feedback.share", "up", 300, 1.0),  # the kind's latest window, whole: no "down"
        ("kpi.clicks", "", 300, 2.0),
        ("kpi.revenue", "", 0, 5.0),  # the latest window where it has a value
    ]
    later = store.latest_series(300, ("kpi.",), since=300)
    assert [p["metric"] for p in later] == ["kpi.clicks"]
    assert store.latest_series(300, (), since=0) == []


def _segment_rows(ids: list[int], sid: str, received_at: float) -> tuple[list[tuple], Any]:
    """Event rows stored as the Arrow path stores them: payloads in one segment."""
    import pyarrow as pa

    from driftline.store import segments
    from driftline.store.base import EventSegment

    n = len(ids)
    table = pa.table(
        {
            "event_id": [f"e{i}" for i in ids],
            "prediction_id": [f"p{i}" for i in ids],
            "timestamp": ["2023-11-14T22:13:20Z"] * n,
            "ts": [T0] * n,
            "model": ["m"] * n,
            "version": ["v1"] * n,
            "features": pa.array([{"x": float(i), "c": None if i % 2 else "a"} for i in ids]),
            "prediction": [i % 2 for i in ids],
            "scores": pa.nulls(n),
            "segment": pa.array([{"region": "eu"}] * n),
            "latency_ms": [None] + [12.5] * (n - 1),
            "status": ["ok"] * n,
            "error_type": pa.nulls(n, pa.string()),
            "shadow": [False] * n,
            "tags": pa.nulls(n, pa.struct([("k", pa.string())])),
            "outlier": ['{"score":3.5,"model":"abc"}'] + [None] * (n - 1),
        }
    )
    rows = []
    for k, i in enumerate(ids):
        row = [*event(i, received_at=received_at), sid, k]
        row[EVENT_COLUMNS.index("payload")] = ""
        rows.append(tuple(row))
    return rows, EventSegment(sid, received_at, n, segments.encode(table))


def test_events_stored_as_a_segment_read_back_as_payloads(store: Store) -> None:
    """An Arrow batch's payloads are one segment; every reader gets each event's payload."""
    rows, seg = _segment_rows([1, 2, 3], "S1", T0)
    assert store.insert_events(rows, seg) == {"e1", "e2", "e3"}
    # a retried batch (a new segment id, as a new request makes) stores nothing, not even it
    again, seg2 = _segment_rows([1, 2, 3], "S2", T0)
    assert store.insert_events(again, seg2) == set()
    store.insert_events([event(4)])  # a JSON batch's row beside them: its own payload
    start = int(T0 // 300 * 300)
    got = [orjson.loads(p) for p in store.uncovered_events("m", "v1", start, start + 300)]
    assert [e["event_id"] for e in got] == ["e1", "e2", "e3", "e4"]
    assert got[0] == {
        "type": "prediction", "event_id": "e1", "prediction_id": "p1",
        "timestamp": "2023-11-14T22:13:20Z", "ts": T0, "model": "m", "version": "v1",
        "features": {"x": 1.0}, "prediction": 1, "scores": None, "segment": {"region": "eu"},
        "latency_ms": None, "status": "ok", "error_type": None, "shadow": False, "tags": {},
        "outlier": {"score": 3.5, "model": "abc"},
    }  # fmt: skip
    assert got[1]["features"] == {"x": 2.0, "c": "a"} and "outlier" not in got[1]
    assert got[1]["latency_ms"] == 12.5
    payloads = store.event_payloads("m", ["e2", "e4", "e9"])
    assert sorted(payloads) == ["e2", "e4"] and orjson.loads(payloads["e2"]) == got[1]
    assert sorted(orjson.loads(p)["event_id"] for p in store.sample_events("m", None, None,
                                                                           None, 10)) == [
        "e1", "e2", "e3", "e4"]  # fmt: skip
    lab = {"event_id": "l1", "prediction_id": "p2", "model": "m", "version": None}
    store.match_labels([lab | {"ts": T0, "received_at": T0, "label": "1"}])
    ((payload, label),) = store.labelled("m", "v1", 0, 2**40)
    assert orjson.loads(payload) == got[1] and orjson.loads(label) == 1
    fb = {"event_id": "f1", "model": "m", "version": "v1", "prediction_id": "p3", "ts": T0}
    store.insert_feedback([fb | {"received_at": T0, "kind": "thumbs", "value": "1"}])
    ((payload, kind, _),) = store.feedback_of("m", "v1", start, start + 300)
    assert orjson.loads(payload)["event_id"] == "e3" and kind == "thumbs"
    # retention: the ok predictions move to the index (outcome from the segment), then the
    # segment goes with its events
    purged = store.purge(T0 + 1, label_before=T0 - 1)
    assert purged["event_segments"] == 1 and store.event_counts("m", "v1", 0, 2**40) == 0
    ((payload, label),) = store.labelled("m", "v1", 0, 2**40)
    assert orjson.loads(payload)["prediction"] == 0 and orjson.loads(payload)["segment"] == {
        "region": "eu"
    }
