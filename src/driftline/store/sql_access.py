"""API keys, the audit log and leases: the access part of :class:`~driftline.store.sql.SQLStore`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, delete, or_, select, update

from driftline.store import tables as t
from driftline.store.base import Row
from driftline.store.sql_base import SQLBase


class AccessQueries(SQLBase):
    """API keys (hashed), the audit log and the alerting lease."""

    # -- access -------------------------------------------------------------------------
    def create_key(self, row: Row) -> None:
        with self.engine.begin() as conn:
            conn.execute(t.api_keys.insert(), [dict(row)])

    def key(self, key_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(t.api_keys).where(t.api_keys.c.key_id == key_id)).first()
        return None if row is None else dict(row._mapping)

    def api_keys(self) -> list[dict[str, Any]]:
        k = t.api_keys.c
        q = select(k.key_id, k.name, k.project, k.scopes, k.created_at, k.revoked_at).order_by(
            k.created_at, k.key_id
        )
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def revoke_key(self, key_id: str, at: float) -> bool:
        k = t.api_keys.c
        with self.engine.begin() as conn:
            res = conn.execute(
                update(t.api_keys)
                .where(k.key_id == key_id, k.revoked_at.is_(None))
                .values(revoked_at=at)
            )
        return bool(res.rowcount)

    def audit(self, actor: str, action: str, target: str, detail: str, at: float) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                t.audit_log.insert(),
                [{"ts": at, "actor": actor, "action": action, "target": target, "detail": detail}],
            )

    def audit_log(self, limit: int) -> list[dict[str, Any]]:
        a = t.audit_log.c
        with self.engine.connect() as conn:
            q = select(t.audit_log).order_by(a.id.desc()).limit(limit)
            return [dict(r._mapping) for r in conn.execute(q)]

    # -- leases -------------------------------------------------------------------------
    def hold_lease(self, name: str, holder: str, now: float, ttl: float) -> bool:
        ls = t.leases.c
        with self.engine.begin() as conn:
            # renew our own lease, or take one that expired (the row lock makes one winner)
            res = conn.execute(
                update(t.leases)
                .where(ls.name == name, or_(ls.holder == holder, ls.expires_at < now))
                .values(
                    holder=holder,
                    expires_at=now + ttl,
                    acquired_at=case((ls.holder == holder, ls.acquired_at), else_=now),
                )
            )
            if res.rowcount:
                return True
            stmt = (
                self._insert(t.leases)
                .values(name=name, holder=holder, acquired_at=now, expires_at=now + ttl)
                .on_conflict_do_nothing(index_elements=["name"])
                .returning(t.leases.c.name)  # (rowcount is -1 here on psycopg)
            )
            return conn.execute(stmt).first() is not None

    def release_lease(self, name: str, holder: str) -> None:
        ls = t.leases.c
        with self.engine.begin() as conn:
            conn.execute(delete(t.leases).where(ls.name == name, ls.holder == holder))

    def lease(self, name: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(t.leases).where(t.leases.c.name == name)).first()
        return None if row is None else dict(row._mapping)
