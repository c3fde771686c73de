"""Where the engine keeps alert state, silences, the audit log and the outbox.

:class:`AlertStore` is the protocol; :class:`MemoryAlertStore` serves tests and
``driftline alerts test``; :class:`SQLAlertStore` uses the SQLAlchemy Core
tables of :mod:`driftline.alerts.tables` (SQLite or PostgreSQL). Both pass the
same contract suite (tests/alerts/test_store.py).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

from driftline.alerts.records import Alert, AuditEvent, Delivery, Silence

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


class AlertStore(Protocol):
    """Persistence of the alert engine; every method is one short transaction."""

    def save_alert(self, alert: Alert) -> None: ...
    def delete_alert(self, fingerprint: str) -> None: ...
    def load_alerts(self) -> list[Alert]: ...
    def record(self, event: AuditEvent) -> None: ...
    def audit(self, fingerprint: str | None = None) -> list[AuditEvent]: ...
    def save_silence(self, silence: Silence) -> None: ...
    def silences(self) -> list[Silence]: ...
    def enqueue(self, delivery: Delivery) -> None: ...
    def update_delivery(self, delivery: Delivery) -> None: ...
    def due_deliveries(self, now: float, limit: int = 100) -> list[Delivery]: ...
    def deliveries(self, status: str | None = None) -> list[Delivery]: ...
    def save_group(self, key: str, data: Mapping[str, Any], at: float) -> None: ...
    def delete_group(self, key: str) -> None: ...
    def load_groups(self) -> list[dict[str, Any]]: ...
    def cursor(self, name: str) -> float | None:
        """How far a reader of metric points got (see driftline.server.alerting)."""

    def set_cursor(self, name: str, value: float) -> None: ...


class MemoryAlertStore:
    """An :class:`AlertStore` in memory (lost on exit)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._alerts: dict[str, dict[str, Any]] = {}
        self._audit: list[AuditEvent] = []
        self._silences: dict[str, Silence] = {}
        self._outbox: dict[str, Delivery] = {}
        self._groups: dict[str, dict[str, Any]] = {}
        self._cursors: dict[str, float] = {}

    def save_alert(self, alert: Alert) -> None:
        with self._lock:
            self._alerts[alert.fingerprint] = alert.to_dict()

    def delete_alert(self, fingerprint: str) -> None:
        with self._lock:
            self._alerts.pop(fingerprint, None)

    def load_alerts(self) -> list[Alert]:
        with self._lock:
            return [Alert.from_dict(d) for d in self._alerts.values()]

    def record(self, event: AuditEvent) -> None:
        with self._lock:
            self._audit.append(event)

    def audit(self, fingerprint: str | None = None) -> list[AuditEvent]:
        with self._lock:
            return [e for e in self._audit if fingerprint in (None, e.fingerprint)]

    def save_silence(self, silence: Silence) -> None:
        with self._lock:
            self._silences[silence.id] = silence

    def silences(self) -> list[Silence]:
        with self._lock:
            return list(self._silences.values())

    def enqueue(self, delivery: Delivery) -> None:
        with self._lock:
            self._outbox[delivery.id] = replace(delivery)

    def update_delivery(self, delivery: Delivery) -> None:
        with self._lock:
            self._outbox[delivery.id] = replace(delivery)

    def due_deliveries(self, now: float, limit: int = 100) -> list[Delivery]:
        with self._lock:
            due = [
                replace(d)
                for d in self._outbox.values()
                if d.status == "pending" and d.next_attempt_at <= now
            ]
        return sorted(due, key=lambda d: (d.next_attempt_at, d.created_at))[:limit]

    def deliveries(self, status: str | None = None) -> list[Delivery]:
        with self._lock:
            return [replace(d) for d in self._outbox.values() if status in (None, d.status)]

    def save_group(self, key: str, data: Mapping[str, Any], at: float) -> None:
        with self._lock:
            self._groups[key] = json.loads(json.dumps(dict(data)))

    def delete_group(self, key: str) -> None:
        with self._lock:
            self._groups.pop(key, None)

    def load_groups(self) -> list[dict[str, Any]]:
        with self._lock:
            return [json.loads(json.dumps(g)) for _, g in sorted(self._groups.items())]

    def cursor(self, name: str) -> float | None:
        with self._lock:
            return self._cursors.get(name)

    def set_cursor(self, name: str, value: float) -> None:
        with self._lock:
            self._cursors[name] = value


class SQLAlertStore:
    """An :class:`AlertStore` on SQLAlchemy Core (SQLite or PostgreSQL)."""

    def __init__(self, engine: Engine | str) -> None:
        from sqlalchemy import create_engine

        self.engine = create_engine(engine) if isinstance(engine, str) else engine

    def create_tables(self) -> None:
        """Create the alert tables if missing (the collector uses its migrations instead)."""
        from driftline.alerts.tables import metadata

        metadata.create_all(self.engine)

    def save_alert(self, alert: Alert) -> None:
        from sqlalchemy import delete, insert

        from driftline.alerts.tables import alert_states as t

        row = {
            "fingerprint": alert.fingerprint,
            "rule": alert.rule,
            "state": alert.state.value,
            "data": json.dumps(alert.to_dict()),
            "updated_at": alert.last_seen or 0.0,
        }
        with self.engine.begin() as conn:
            conn.execute(delete(t).where(t.c.fingerprint == alert.fingerprint))
            conn.execute(insert(t).values(**row))

    def delete_alert(self, fingerprint: str) -> None:
        from sqlalchemy import delete

        from driftline.alerts.tables import alert_states as t

        with self.engine.begin() as conn:
            conn.execute(delete(t).where(t.c.fingerprint == fingerprint))

    def load_alerts(self) -> list[Alert]:
        from sqlalchemy import select

        from driftline.alerts.tables import alert_states as t

        with self.engine.connect() as conn:
            rows = conn.execute(select(t.c.data).order_by(t.c.fingerprint)).all()
        return [Alert.from_dict(json.loads(r.data)) for r in rows]

    def record(self, event: AuditEvent) -> None:
        from sqlalchemy import insert

        from driftline.alerts.tables import alert_audit as t

        with self.engine.begin() as conn:
            conn.execute(
                insert(t).values(
                    at=event.at,
                    kind=event.kind,
                    fingerprint=event.fingerprint,
                    rule=event.rule,
                    actor=event.actor,
                    from_state=event.from_state,
                    to_state=event.to_state,
                    detail=json.dumps(dict(event.detail), default=str),
                )
            )

    def audit(self, fingerprint: str | None = None) -> list[AuditEvent]:
        from sqlalchemy import select

        from driftline.alerts.tables import alert_audit as t

        query = select(t).order_by(t.c.id)
        if fingerprint is not None:
            query = query.where(t.c.fingerprint == fingerprint)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            AuditEvent(
                at=r.at,
                kind=r.kind,
                fingerprint=r.fingerprint,
                rule=r.rule,
                actor=r.actor,
                from_state=r.from_state,
                to_state=r.to_state,
                detail=json.loads(r.detail),
            )
            for r in rows
        ]

    def save_silence(self, silence: Silence) -> None:
        from sqlalchemy import delete, insert

        from driftline.alerts.tables import alert_silences as t

        d = silence.to_dict()
        d["matchers"] = json.dumps(d["matchers"])
        with self.engine.begin() as conn:
            conn.execute(delete(t).where(t.c.id == silence.id))
            conn.execute(insert(t).values(**d))

    def silences(self) -> list[Silence]:
        from sqlalchemy import select

        from driftline.alerts.tables import alert_silences as t

        with self.engine.connect() as conn:
            rows = conn.execute(select(t).order_by(t.c.starts_at)).mappings().all()
        return [Silence.from_dict({**r, "matchers": json.loads(r["matchers"])}) for r in rows]

    def enqueue(self, delivery: Delivery) -> None:
        from sqlalchemy import insert

        from driftline.alerts.tables import alert_outbox as t

        with self.engine.begin() as conn:
            conn.execute(insert(t).values(**_delivery_row(delivery)))

    def update_delivery(self, delivery: Delivery) -> None:
        from sqlalchemy import update

        from driftline.alerts.tables import alert_outbox as t

        row = _delivery_row(delivery)
        with self.engine.begin() as conn:
            conn.execute(update(t).where(t.c.id == delivery.id).values(**row))

    def due_deliveries(self, now: float, limit: int = 100) -> list[Delivery]:
        from sqlalchemy import select

        from driftline.alerts.tables import alert_outbox as t

        query = (
            select(t)
            .where(t.c.status == "pending", t.c.next_attempt_at <= now)
            .order_by(t.c.next_attempt_at, t.c.created_at)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [_delivery(r) for r in conn.execute(query).mappings().all()]

    def deliveries(self, status: str | None = None) -> list[Delivery]:
        from sqlalchemy import select

        from driftline.alerts.tables import alert_outbox as t

        query = select(t).order_by(t.c.created_at)
        if status is not None:
            query = query.where(t.c.status == status)
        with self.engine.connect() as conn:
            return [_delivery(r) for r in conn.execute(query).mappings().all()]

    def save_group(self, key: str, data: Mapping[str, Any], at: float) -> None:
        from sqlalchemy import delete, insert

        from driftline.alerts.tables import alert_groups as t

        gid = group_id(key)
        with self.engine.begin() as conn:
            conn.execute(delete(t).where(t.c.id == gid))
            conn.execute(insert(t).values(id=gid, data=json.dumps(dict(data)), updated_at=at))

    def delete_group(self, key: str) -> None:
        from sqlalchemy import delete

        from driftline.alerts.tables import alert_groups as t

        with self.engine.begin() as conn:
            conn.execute(delete(t).where(t.c.id == group_id(key)))

    def load_groups(self) -> list[dict[str, Any]]:
        from sqlalchemy import select

        from driftline.alerts.tables import alert_groups as t

        with self.engine.connect() as conn:
            rows = conn.execute(select(t.c.data).order_by(t.c.id)).all()
        return [json.loads(r.data) for r in rows]

    def cursor(self, name: str) -> float | None:
        from sqlalchemy import select

        from driftline.alerts.tables import alert_cursors as t

        with self.engine.connect() as conn:
            value = conn.execute(select(t.c.value).where(t.c.name == name)).scalar()
        return None if value is None else float(value)

    def set_cursor(self, name: str, value: float) -> None:
        from sqlalchemy import delete, insert

        from driftline.alerts.tables import alert_cursors as t

        with self.engine.begin() as conn:
            conn.execute(delete(t).where(t.c.name == name))
            conn.execute(insert(t).values(name=name, value=value))


def group_id(key: str) -> str:
    """The primary key of a group's row: group keys hold label values of any length."""
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _delivery_row(d: Delivery) -> dict[str, Any]:
    return {
        "id": d.id,
        "receiver": d.receiver,
        "notifier": d.notifier,
        "payload": json.dumps(d.payload, default=str),
        "created_at": d.created_at,
        "next_attempt_at": d.next_attempt_at,
        "attempts": d.attempts,
        "status": d.status,
        "last_error": d.last_error,
    }


def _delivery(r: Any) -> Delivery:
    return Delivery(
        id=r["id"],
        receiver=r["receiver"],
        notifier=r["notifier"],
        payload=json.loads(r["payload"]),
        created_at=r["created_at"],
        next_attempt_at=r["next_attempt_at"],
        attempts=r["attempts"],
        status=r["status"],
        last_error=r["last_error"],
    )
