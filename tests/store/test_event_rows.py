"""The events rows' write and the lookups by prediction id, on every engine.

PostgreSQL copies a batch straight into ``events`` and falls back to ``INSERT ... ON
CONFLICT`` when an id is known; ``ix_events_prediction`` holds only the events whose
prediction id is not their event id (migration 0011), the others are found by event id.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select, text

from driftline.store import Store, open_store
from driftline.store import tables as t
from driftline.store.base import INLINE_COLUMNS, EventSegment
from driftline.store.migrate import upgrade

T0 = 1_700_000_000.0
START = int(T0 // 300 * 300)
#: ids a hand-made client may send: quotes, separators, escapes, non-ASCII
ODD_IDS = ["o'brien", 'say "hi"', "tab\tand\\back", "ünï ✓ 😀", "line\nbreak", "a,b;c|d", r"\N"]


def row(eid: str, pid: str | None = None, *, model: str = "m", ts: float = T0) -> tuple:
    values = {
        "event_id": eid, "model": model, "version": "v1", "prediction_id": pid or eid,
        "ts": ts, "received_at": ts, "window_start": int(ts // 300 * 300), "partial_id": "P1",
        "seq": 1, "status": "ok", "shadow": False, "payload": f'{{"id": {len(eid)}}}',
    }  # fmt: skip
    return tuple(values[c] for c in INLINE_COLUMNS)


def segment_rows(eids: list[str], sid: str) -> tuple[list[tuple], EventSegment]:
    """Rows as an Arrow batch's (empty payload, a row of segment ``sid``); the segment's
    data is not read here."""
    rows = [(*row(e)[:-1], "", sid, k) for k, e in enumerate(eids)]
    return rows, EventSegment(sid, T0, len(eids), b"not read")


def _count(store: Store, table: Any) -> int:
    with store.engine.connect() as conn:  # type: ignore[attr-defined]
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _ids(store: Store) -> list[str]:
    with store.engine.connect() as conn:  # type: ignore[attr-defined]
        return sorted(conn.execute(select(t.events.c.event_id)).scalars())


@pytest.mark.parametrize("shape", ["inline", "segment"])
def test_new_ids_are_reported_exactly_inside_and_across_batches(store: Store, shape: str) -> None:
    def insert(eids: list[str], sid: str) -> set[str]:
        if shape == "inline":
            return store.insert_events([row(e) for e in eids])
        return store.insert_events(*segment_rows(eids, sid))

    assert insert(["a", "b"], "S1") == {"a", "b"}
    # an id twice in one batch: stored once, reported once
    assert insert(["c", "d", "c"], "S2") == {"c", "d"}
    # known ids before, between and after new ones
    assert insert(["a", "e", "b", "f", "d"], "S3") == {"e", "f"}
    assert insert(["f", "e"], "S4") == set()
    # after the fallback, a batch of new ids goes the straight way again
    assert insert(["g", "h"], "S5") == {"g", "h"}
    assert _ids(store) == ["a", "b", "c", "d", "e", "f", "g", "h"]
    # a segment is stored when any of its rows was new, and only then
    assert _count(store, t.event_segments) == (4 if shape == "segment" else 0)


def test_odd_ids_are_stored_and_found_as_sent(store: Store) -> None:
    assert store.insert_events([row(e) for e in ODD_IDS]) == set(ODD_IDS)
    assert store.insert_events([row(e) for e in [*ODD_IDS[::2], "new"]]) == {"new"}
    assert _ids(store) == sorted([*ODD_IDS, "new"])
    got = store.event_payloads("m", ODD_IDS)
    assert {e: got[e] for e in ODD_IDS} == {e: f'{{"id": {len(e)}}}' for e in ODD_IDS}
    assert store.prediction_windows("m", ODD_IDS) == {e: [("v1", START)] for e in ODD_IDS}


def test_predictions_are_found_whether_or_not_their_id_is_the_event_id(store: Store) -> None:
    later = T0 + 900
    store.insert_events(
        [
            row("x1"),  # the SDK's default: prediction id = event id
            row("x2", "shared"),
            row("shared", ts=later),  # an event id that is another event's prediction id
            row("y", "x1", ts=later),  # a prediction id that is another event's event id
            row("z"),
        ]
    )
    store.insert_events([row("o1", model="other"), row("o2", "x2", model="other")])
    got = {k: sorted(v) for k, v in store.prediction_windows("m", ["x1", "shared", "x2", "o1",
                                                                    "nope"]).items()}  # fmt: skip
    assert got == {
        "x1": [("v1", START), ("v1", START + 900)],
        "shared": [("v1", START), ("v1", START + 900)],
    }
    assert store.prediction_windows("other", ["o1", "x2", "x1"]) == {
        "o1": [("v1", START)],
        "x2": [("v1", START)],
    }
    labels = [
        {"event_id": f"l-{p}", "prediction_id": p, "model": "m", "version": None,
         "ts": T0, "received_at": T0, "label": "1"}
        for p in ("z", "shared", "o1")
    ]  # fmt: skip
    match = store.match_labels(labels)
    assert match.windows == [("m", "v1", START), ("m", "v1", START + 900)]
    assert match.unmatched == {"m": 1}  # o1 is another model's
    labelled = store.labelled("m", "v1", 0, 2**40)
    assert sorted(p for p, _ in labelled) == sorted(
        f'{{"id": {len(e)}}}' for e in ("z", "x2", "shared")
    )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine_url(request: pytest.FixtureRequest, tmp_path: Any) -> Any:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/m.db"
        return
    from postgres_db import fresh_database

    request.getfixturevalue("postgres_url")
    with fresh_database("driftline_events_index") as url:
        yield url


def test_upgrade_keeps_finding_predictions_stored_before_it(engine_url: str) -> None:
    store = open_store(engine_url, migrate=False)
    engine = store.engine  # type: ignore[attr-defined]
    with engine.begin() as conn:  # a store of the version before, with events
        upgrade(conn, "0010")
        conn.execute(
            t.events.insert(),
            [dict(zip(INLINE_COLUMNS, r, strict=True)) for r in (row("a"), row("b", "pb"))],
        )
    store.migrate()
    assert store.prediction_windows("m", ["a", "pb", "b"]) == {
        "a": [("v1", START)],
        "pb": [("v1", START)],
    }
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            sql = "SELECT sql FROM sqlite_master WHERE name = 'ix_events_prediction'"
        else:
            sql = "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_events_prediction'"
        definition = conn.execute(text(sql)).scalar_one()
    store.close()
    plain = definition.replace("(", "").replace(")", "").replace("::text", "")
    assert "WHERE prediction_id <> event_id" in plain
