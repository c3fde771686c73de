"""The engine's records: alerts, silences, audit events, notifications, deliveries."""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from driftline.alerts.matchers import Matcher, match_all


class AlertState(str, enum.Enum):
    """inactive -> pending -> firing -> resolved (docs/alerts.md, "States")."""

    INACTIVE = "inactive"
    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"


class Outcome(str, enum.Enum):
    """What a human said about a fired alert; feeds each rule's precision."""

    TRUE_POSITIVE = "true_positive"
    FALSE_POSITIVE = "false_positive"
    NOT_ACTIONABLE = "not_actionable"


def fingerprint(labels: Mapping[str, str]) -> str:
    """A stable 16-hex-digit id of a label set (order-independent)."""
    text = json.dumps(sorted(labels.items()), separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class Alert:
    """One alert: a rule applied to one series, with its state and history."""

    fingerprint: str
    rule: str
    labels: dict[str, str]
    annotations: dict[str, str]
    state: AlertState = AlertState.INACTIVE
    value: float = float("nan")
    threshold: float = float("nan")
    active_since: float | None = None  # start of the first breaching window
    fired_at: float | None = None
    resolved_at: float | None = None
    #: When the last episode resolved (kept while the alert is quiet or pending again,
    #: so the dashboard lists it as resolved for 7 days).
    last_resolved_at: float | None = None
    last_window_end: float | None = None
    last_seen: float | None = None  # clock time of the last point
    breaches: int = 0  # consecutive breaching windows
    clears: int = 0  # consecutive clear windows while firing
    clear_since: float | None = None
    acked_by: str | None = None
    acked_at: float | None = None
    outcome: str | None = None
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return self.state in (AlertState.PENDING, AlertState.FIRING)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["state"] = self.state.value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Alert:
        kw = dict(data)
        kw["state"] = AlertState(kw["state"])
        return cls(**kw)


@dataclass(frozen=True)
class Silence:
    """Mutes notifications of matching alerts between ``starts_at`` and ``ends_at``."""

    id: str
    matchers: tuple[Matcher, ...]
    starts_at: float
    ends_at: float
    created_by: str
    comment: str
    expired_by: str | None = None

    def active_at(self, now: float) -> bool:
        return self.starts_at <= now < self.ends_at

    def mutes(self, labels: Mapping[str, str], now: float) -> bool:
        return self.active_at(now) and match_all(self.matchers, labels)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "matchers": [str(m) for m in self.matchers],
            "starts_at": self.starts_at,
            "ends_at": self.ends_at,
            "created_by": self.created_by,
            "comment": self.comment,
            "expired_by": self.expired_by,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Silence:
        return cls(
            id=data["id"],
            matchers=tuple(Matcher.parse(m) for m in data["matchers"]),
            starts_at=float(data["starts_at"]),
            ends_at=float(data["ends_at"]),
            created_by=data["created_by"],
            comment=data["comment"],
            expired_by=data.get("expired_by"),
        )


@dataclass(frozen=True)
class AuditEvent:
    """One recorded change: a state transition, a silence, an ack, an outcome, a delivery."""

    at: float
    kind: str  # state | silence | ack | outcome | delivery
    fingerprint: str
    rule: str
    actor: str
    from_state: str = ""
    to_state: str = ""
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NotifiedAlert:
    """An alert as sent: a snapshot, so later changes do not alter what was sent."""

    fingerprint: str
    status: str  # firing | resolved
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: float
    ends_at: float | None
    value: float
    threshold: float
    context: Mapping[str, Any]
    generator_url: str = ""

    @classmethod
    def of(cls, alert: Alert, generator_url: str = "") -> NotifiedAlert:
        firing = alert.state in (AlertState.FIRING, AlertState.PENDING)
        return cls(
            fingerprint=alert.fingerprint,
            status="firing" if firing else "resolved",
            labels=dict(alert.labels),
            annotations=dict(alert.annotations),
            starts_at=alert.fired_at or alert.active_since or 0.0,
            ends_at=None if firing else alert.resolved_at,
            value=alert.value,
            threshold=alert.threshold,
            context=dict(alert.context),
            generator_url=generator_url,
        )


@dataclass(frozen=True)
class Notification:
    """One message for one receiver: a group of alerts (Alertmanager's unit of notification)."""

    receiver: str
    group_key: str
    group_labels: Mapping[str, str]
    alerts: tuple[NotifiedAlert, ...]
    external_url: str
    created_at: float

    @property
    def status(self) -> str:
        """``firing`` if any alert fires, else ``resolved``."""
        return "firing" if any(a.status == "firing" for a in self.alerts) else "resolved"

    @property
    def firing(self) -> list[NotifiedAlert]:
        return [a for a in self.alerts if a.status == "firing"]

    @property
    def resolved(self) -> list[NotifiedAlert]:
        return [a for a in self.alerts if a.status == "resolved"]

    def common_labels(self) -> dict[str, str]:
        return _common([a.labels for a in self.alerts])

    def common_annotations(self) -> dict[str, str]:
        return _common([a.annotations for a in self.alerts])

    def to_dict(self) -> dict[str, Any]:
        return {
            "receiver": self.receiver,
            "group_key": self.group_key,
            "group_labels": dict(self.group_labels),
            "alerts": [_alert_dict(a) for a in self.alerts],
            "external_url": self.external_url,
            "created_at": self.created_at,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Notification:
        return cls(
            receiver=data["receiver"],
            group_key=data["group_key"],
            group_labels=dict(data["group_labels"]),
            alerts=tuple(NotifiedAlert(**a) for a in data["alerts"]),
            external_url=data["external_url"],
            created_at=float(data["created_at"]),
        )


def _alert_dict(a: NotifiedAlert) -> dict[str, Any]:
    out = asdict(a)
    out["labels"] = dict(a.labels)
    out["annotations"] = dict(a.annotations)
    out["context"] = json.loads(json.dumps(dict(a.context), default=str))
    return out


def _common(maps: list[Mapping[str, str]]) -> dict[str, str]:
    if not maps:
        return {}
    first = maps[0]
    return {k: v for k, v in first.items() if all(m.get(k) == v for m in maps[1:])}


@dataclass
class Delivery:
    """An entry of the outbox: one notification (or action call) for one notifier."""

    id: str
    receiver: str
    notifier: str  # kind: webhook, slack, pagerduty, email, alertmanager, log, action
    payload: dict[str, Any]  # Notification.to_dict(), or an action's call
    created_at: float
    next_attempt_at: float
    attempts: int = 0
    status: str = "pending"  # pending | delivered | failed
    last_error: str = ""


class Sink(Protocol):
    """Where the engine hands notifications and action calls (the dispatcher, or a recorder)."""

    def submit(self, notification: Notification) -> None: ...
    def submit_action(self, alert: NotifiedAlert) -> None: ...
    def submit_acknowledge(self, notification: Notification, by: str) -> None:
        """Someone acknowledged these alerts (sent to this receiver firing)."""

    def retry_due(self) -> None: ...
