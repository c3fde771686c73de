"""What people do with alerts: silences, acknowledgements, outcome labels (mixed into the engine).

Acknowledging an alert stops its repeat notifications and, for every receiver
that was paged through PagerDuty, queues an ``acknowledge`` event with the
same ``dedup_key``, so the incident shows who is on it. Every action is
audited with its author.
"""

from __future__ import annotations

import abc
import threading
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from driftline._utils.durations import parse_duration
from driftline.alerts.matchers import Matcher, parse_matchers
from driftline.alerts.precision import RulePrecision, rule_precision
from driftline.alerts.records import (
    Alert,
    AlertState,
    AuditEvent,
    Notification,
    NotifiedAlert,
    Outcome,
    Silence,
)
from driftline.errors import InputError

if TYPE_CHECKING:
    from driftline._utils.clock import Clock
    from driftline.alerts.config import AlertsConfig
    from driftline.alerts.grouping import Groups
    from driftline.alerts.records import Sink
    from driftline.alerts.rules import Rule
    from driftline.alerts.store import AlertStore


class HumanInput(abc.ABC):
    """:class:`~driftline.alerts.AlertEngine`'s methods for silences, acks and outcomes.

    The engine provides the state they act on (the abstract methods below).
    """

    config: AlertsConfig
    store: AlertStore
    clock: Clock
    sink: Sink | None
    rules: tuple[Rule, ...]
    groups: Groups
    _lock: threading.RLock

    @abc.abstractmethod
    def _get(self, fp: str) -> Alert:
        """Implemented by the engine."""

    @abc.abstractmethod
    def _persist(self, alert: Alert) -> None:
        """Implemented by the engine."""

    @abc.abstractmethod
    def _generator_url(self, alert: Alert) -> str:
        """Implemented by the engine."""

    def add_silence(
        self,
        matchers: Sequence[str] | Mapping[str, str],
        *,
        created_by: str,
        comment: str,
        duration: str | float | None = None,
        ends_at: float | None = None,
        starts_at: float | None = None,
    ) -> Silence:
        """Mute matching alerts until ``ends_at`` or for ``duration``; needs author and comment."""
        if not created_by.strip() or not comment.strip():
            raise InputError("a silence needs created_by and a comment (who and why)")
        try:
            parsed: tuple[Matcher, ...] = parse_matchers(matchers)
        except ValueError as exc:
            raise InputError(f"silence: {exc}") from None
        if not parsed:
            raise InputError("a silence needs at least one matcher (it would mute everything)")
        start = self.clock.time() if starts_at is None else starts_at
        if (duration is None) == (ends_at is None):
            raise InputError("a silence needs exactly one of duration or ends_at")
        end = ends_at if ends_at is not None else start + parse_duration(duration or 0)
        if end <= start:
            raise InputError(f"silence ends_at ({end}) must be after starts_at ({start})")
        silence = Silence(uuid.uuid4().hex, parsed, start, end, created_by, comment)
        with self._lock:
            self.store.save_silence(silence)
            self.store.record(
                AuditEvent(
                    at=self.clock.time(),
                    kind="silence",
                    fingerprint="",
                    rule="",
                    actor=created_by,
                    to_state="active",
                    detail=silence.to_dict(),
                )
            )
        return silence

    def expire_silence(self, silence_id: str, by: str) -> Silence:
        """End a silence now."""
        with self._lock:
            found = [s for s in self.store.silences() if s.id == silence_id]
            if not found:
                raise InputError(f"no silence with id {silence_id!r}")
            now = self.clock.time()
            old = found[0]
            silence = Silence(
                old.id, old.matchers, old.starts_at, min(old.ends_at, now), old.created_by,
                old.comment, expired_by=by,
            )  # fmt: skip
            self.store.save_silence(silence)
            self.store.record(
                AuditEvent(now, "silence", "", "", by, "active", "expired", silence.to_dict())
            )
        return silence

    # -- people -----------------------------------------------------------------------
    def acknowledge(self, fp: str, by: str, comment: str = "") -> Alert:
        """Someone is on it: no more repeat notifications for this alert until it resolves."""
        with self._lock:
            alert = self._get(fp)
            if alert.state is not AlertState.FIRING:
                raise InputError(f"alert {fp} is {alert.state.value}; only firing alerts are acked")
            alert.acked_by, alert.acked_at = by, self.clock.time()
            self._persist(alert)
            self.store.record(
                AuditEvent(
                    alert.acked_at, "ack", fp, alert.rule, by, alert.state.value,
                    alert.state.value, {"comment": comment},
                )
            )  # fmt: skip
            self._page_acknowledged(alert, by)
            return alert

    def _page_acknowledged(self, alert: Alert, by: str) -> None:
        """Tell the receivers that were sent this alert firing (PagerDuty acknowledges)."""
        if self.sink is None:
            return
        now = self.clock.time()
        sent = NotifiedAlert.of(alert, self._generator_url(alert))
        for group in self.groups.holding(alert.fingerprint):
            if group.sent.get(alert.fingerprint) != "firing":
                continue  # never paged there (muted, or still waiting): nothing to acknowledge
            self.sink.submit_acknowledge(
                Notification(
                    receiver=group.route.receiver,
                    group_key=group.key,
                    group_labels=dict(group.labels),
                    alerts=(sent,),
                    external_url=self.config.external_url,
                    created_at=now,
                ),
                by,
            )

    def set_outcome(self, fp: str, outcome: Outcome | str, by: str, comment: str = "") -> Alert:
        """Label a fired alert true_positive, false_positive or not_actionable."""
        try:
            label = Outcome(outcome)
        except ValueError:
            allowed = ", ".join(o.value for o in Outcome)
            raise InputError(f"outcome {outcome!r} is not allowed; allowed: {allowed}") from None
        with self._lock:
            alert = self._get(fp)
            if alert.fired_at is None:
                raise InputError(f"alert {fp} never fired; only fired alerts get an outcome")
            alert.outcome = label.value
            self._persist(alert)
            self.store.record(
                AuditEvent(
                    self.clock.time(), "outcome", fp, alert.rule, by, alert.state.value,
                    alert.state.value,
                    {"outcome": label.value, "episode": alert.fired_at, "comment": comment},
                )
            )  # fmt: skip
            return alert

    def precision(self) -> dict[str, RulePrecision]:
        """Per rule: fired episodes and their outcome labels (the last label of each episode)."""
        return rule_precision((r.name for r in self.rules), self.store.audit())

    def precision_report(self) -> list[dict[str, Any]]:
        """:meth:`precision` per rule as dicts, each with ``needs_review`` under the
        ``alerts:`` section's ``review_precision`` / ``review_min_rated``."""
        below, n = self.config.review_precision, self.config.review_min_rated
        return [p.to_dict(below, n) for _, p in sorted(self.precision().items())]
