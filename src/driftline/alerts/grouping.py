"""Notification groups: which alerts go out together, and when (Alertmanager's semantics).

An alert that starts firing (or resolves) joins one group per matching route,
keyed by the route and its ``group_by`` labels. A new group waits
``group_wait`` before its first message; after that it is flushed at most
every ``group_interval``, and only when something changed (an alert started
firing or resolved) or ``repeat_interval`` passed with an unacknowledged
alert still firing.

Groups are saved in the alert store whenever they change, so a restarted
collector neither re-sends what was sent nor forgets what is due.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from driftline.alerts.records import Alert, AlertState, Notification, NotifiedAlert
from driftline.alerts.routing import Route
from driftline.alerts.store import AlertStore


@dataclass
class Group:
    """One group of one route: its alerts and what was last sent for each."""

    key: str
    route: Route
    labels: dict[str, str]
    created_at: float
    next_flush: float
    fingerprints: set[str] = field(default_factory=set)
    sent: dict[str, str] = field(default_factory=dict)  # fingerprint -> status last sent
    last_sent_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "route": self.route.path,
            "labels": dict(self.labels),
            "created_at": self.created_at,
            "next_flush": self.next_flush,
            "fingerprints": sorted(self.fingerprints),
            "sent": dict(self.sent),
            "last_sent_at": self.last_sent_at,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], route: Route) -> Group:
        return cls(
            key=str(data["key"]),
            route=route,
            labels=dict(data["labels"]),
            created_at=float(data["created_at"]),
            next_flush=float(data["next_flush"]),
            fingerprints=set(data["fingerprints"]),
            sent=dict(data["sent"]),
            last_sent_at=data.get("last_sent_at"),
        )


def _walk(route: Route) -> Iterator[Route]:
    yield route
    for child in route.routes:
        yield from _walk(child)


class Groups:
    """The engine's notification groups, kept in step with the alert store."""

    def __init__(self, route: Route, store: AlertStore) -> None:
        self.route = route
        self.store = store
        self.by_key: dict[str, Group] = {}
        self._changed: set[str] = set()
        routes = {r.path: r for r in _walk(route)}
        for data in store.load_groups():
            node = routes.get(str(data.get("route")))
            if node is None or not str(data["key"]).startswith(f"{node.receiver}/"):
                store.delete_group(str(data["key"]))  # the routing tree changed: start over
                continue
            group = Group.from_dict(data, node)
            self.by_key[group.key] = group

    def __iter__(self) -> Iterator[Group]:
        return iter(list(self.by_key.values()))

    def holding(self, fp: str) -> list[Group]:
        return [g for g in self.by_key.values() if fp in g.fingerprints]

    def join(self, alert: Alert, now: float) -> None:
        """Add ``alert`` to its group on every route that takes it (new groups wait)."""
        for route in self.route.match(alert.labels):
            key, group_labels = route.group_key(alert.labels)
            key = f"{route.receiver}/{key}"
            group = self.by_key.get(key)
            if group is None:
                group = self.by_key[key] = Group(
                    key=key,
                    route=route,
                    labels=group_labels,
                    created_at=now,
                    next_flush=now + route.group_wait,
                )
            group.fingerprints.add(alert.fingerprint)
            self._changed.add(key)

    def flush(
        self,
        group: Group,
        now: float,
        alerts: Mapping[str, Alert],
        *,
        muted: Callable[[Alert], bool],
        send_resolved: bool,
        url_of: Callable[[Alert], str],
        external_url: str,
    ) -> Notification | None:
        """The group's notification if it is due and has news, else None."""
        if now < group.next_flush:
            return None
        self._changed.add(group.key)
        route = group.route
        current: dict[str, str] = {}
        for fp in sorted(group.fingerprints, key=lambda f: _order(alerts, f)):
            alert = alerts.get(fp)
            if alert is None:
                continue
            if alert.state is AlertState.FIRING and not muted(alert):
                current[fp] = "firing"
            elif alert.state is AlertState.RESOLVED and group.sent.get(fp) == "firing":
                current[fp] = "resolved"
        group.next_flush = now + route.group_interval
        for fp in [fp for fp in group.sent if fp not in current]:
            del group.sent[fp]  # muted since it was sent: notify again when unmuted
        changed = any(group.sent.get(fp) != st for fp, st in current.items())
        unacked = any(st == "firing" and alerts[fp].acked_by is None for fp, st in current.items())
        repeat = (
            group.last_sent_at is not None
            and now - group.last_sent_at >= route.repeat_interval
            and unacked
        )
        if group.last_sent_at is None and not any(st == "firing" for st in current.values()):
            changed = False
        if not (changed or repeat) or not current:
            self._forget(group, current, alerts)
            return None
        out = [
            NotifiedAlert.of(alerts[fp], url_of(alerts[fp]))
            for fp, st in current.items()
            if st == "firing" or send_resolved
        ]
        group.sent = {fp: st for fp, st in current.items() if st == "firing"}
        group.last_sent_at = now
        self._forget(group, current, alerts)
        if not out:
            return None
        return Notification(
            receiver=route.receiver,
            group_key=group.key,
            group_labels=dict(group.labels),
            alerts=tuple(out),
            external_url=external_url,
            created_at=now,
        )

    def _forget(
        self, group: Group, current: Mapping[str, str], alerts: Mapping[str, Alert]
    ) -> None:
        """Drop resolved or vanished alerts from a group, and the group once empty."""
        for fp in list(group.fingerprints):
            alert = alerts.get(fp)
            if alert is None or (alert.state is not AlertState.FIRING and fp not in group.sent):
                group.fingerprints.discard(fp)
                group.sent.pop(fp, None)
        for fp, st in current.items():
            if st == "resolved":
                group.fingerprints.discard(fp)
                group.sent.pop(fp, None)
        if not group.fingerprints:
            del self.by_key[group.key]

    def save(self, now: float) -> None:
        """Write the groups that changed since the last save (and delete emptied ones)."""
        for key in sorted(self._changed):
            group = self.by_key.get(key)
            if group is None:
                self.store.delete_group(key)
            else:
                self.store.save_group(key, group.to_dict(), now)
        self._changed.clear()


def _order(alerts: Mapping[str, Alert], fp: str) -> tuple[tuple[str, str], ...]:
    alert = alerts.get(fp)
    return tuple(sorted(alert.labels.items())) if alert is not None else ()
