"""One contract for every AlertStore: in memory, SQLite and the real PostgreSQL.

PostgreSQL runs through the collector's Alembic migrations (so the migrated
tables are the ones tested); with CI=true an unreachable PostgreSQL fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from driftline.alerts import (
    Alert,
    AlertState,
    AlertStore,
    AuditEvent,
    Delivery,
    MemoryAlertStore,
    Silence,
    SQLAlertStore,
)
from driftline.alerts.matchers import parse_matchers
from driftline.alerts.tables import metadata
from postgres_db import postgres_database


@pytest.fixture(scope="session")
def alerts_postgres_url() -> Iterator[str]:
    with postgres_database("driftline_alerts") as url:
        yield url


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AlertStore]:
    if request.param == "memory":
        yield MemoryAlertStore()
        return
    if request.param == "sqlite":
        s = SQLAlertStore(f"sqlite:///{tmp_path / 'alerts.db'}")
        s.create_tables()
        yield s
        s.engine.dispose()
        return
    from driftline.store import open_store

    collector = open_store(request.getfixturevalue("alerts_postgres_url"))  # migrates
    engine = collector.engine  # type: ignore[attr-defined]
    names = ", ".join(f'"{tb.name}"' for tb in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY"))
    yield SQLAlertStore(engine)
    collector.close()


def _alert(fp: str, state: AlertState = AlertState.FIRING, **kw: object) -> Alert:
    labels = {"alertname": "drift", "model": "m", "column": "äge"}
    return Alert(fp, "drift", labels, {"summary": "age drifted"}, state=state, **kw)  # type: ignore[arg-type]


def test_alerts_are_saved_replaced_loaded_and_deleted(store: AlertStore) -> None:
    store.save_alert(_alert("a" * 16, value=0.5, breaches=3, last_window_end=600.0))
    store.save_alert(_alert("b" * 16, AlertState.PENDING))
    store.save_alert(_alert("a" * 16, AlertState.RESOLVED, resolved_at=900.0))
    loaded = {a.fingerprint: a for a in store.load_alerts()}
    assert sorted(loaded) == ["a" * 16, "b" * 16]
    a = loaded["a" * 16]
    assert (a.state, a.resolved_at, a.labels["column"]) == (AlertState.RESOLVED, 900.0, "äge")
    store.delete_alert("b" * 16)
    store.delete_alert("never-there")
    assert [x.fingerprint for x in store.load_alerts()] == ["a" * 16]


def test_audit_is_kept_in_order_and_filtered_by_fingerprint(store: AlertStore) -> None:
    for i, fp in enumerate(["f1", "f2", "f1"]):
        store.record(AuditEvent(float(i), "state", fp, "drift", "engine", "a", "b", {"i": i}))
    assert [e.detail["i"] for e in store.audit()] == [0, 1, 2]
    assert [e.detail["i"] for e in store.audit("f1")] == [0, 2]
    assert store.audit("nope") == []


def test_silences_are_replaced_by_id(store: AlertStore) -> None:
    s = Silence("s1", parse_matchers(["model=m", "column=~a.*"]), 10.0, 20.0, "ana", "deploy")
    store.save_silence(s)
    store.save_silence(Silence("s1", s.matchers, 10.0, 15.0, "ana", "deploy", expired_by="bo"))
    (got,) = store.silences()
    assert (got.ends_at, got.expired_by, [str(m) for m in got.matchers]) == (
        15.0,
        "bo",
        ['model="m"', 'column=~"a.*"'],
    )


def test_outbox_returns_due_pending_deliveries_oldest_first(store: AlertStore) -> None:
    def d(i: str, due: float, created: float) -> Delivery:
        return Delivery(i, "r", "webhook", {"alerts": [], "n": i}, created, due)

    store.enqueue(d("late", 50.0, 1.0))
    store.enqueue(d("early", 10.0, 2.0))
    store.enqueue(d("future", 500.0, 0.0))
    done = d("done", 0.0, 0.0)
    store.enqueue(done)
    done.status, done.attempts = "delivered", 1
    store.update_delivery(done)
    assert [x.id for x in store.due_deliveries(100.0)] == ["early", "late"]
    assert [x.id for x in store.due_deliveries(100.0, limit=1)] == ["early"]
    assert [x.payload["n"] for x in store.deliveries("delivered")] == ["done"]
    assert len(store.deliveries()) == 4


def test_groups_are_saved_replaced_and_deleted_under_long_keys(store: AlertStore) -> None:
    key = "ops/route:{" + ",".join(f'l{i}="{"x" * 100}"' for i in range(10)) + "}"
    store.save_group(key, {"key": key, "sent": {"f1": "firing"}}, 1.0)
    store.save_group("ml/route:{}", {"key": "ml/route:{}", "sent": {}}, 1.0)
    store.save_group(key, {"key": key, "sent": {"f1": "firing", "f2": "firing"}}, 2.0)
    groups = {g["key"]: g for g in store.load_groups()}
    assert groups[key]["sent"] == {"f1": "firing", "f2": "firing"}
    store.delete_group(key)
    assert [g["key"] for g in store.load_groups()] == ["ml/route:{}"]


def test_cursors_start_empty_and_keep_the_last_value(store: AlertStore) -> None:
    assert store.cursor("feed:300") is None
    store.set_cursor("feed:300", 1_767_225_900.5)
    store.set_cursor("feed:300", 1_767_226_200.25)
    store.set_cursor("other", 1.0)
    assert store.cursor("feed:300") == 1_767_226_200.25
