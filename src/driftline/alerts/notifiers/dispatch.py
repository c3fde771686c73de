"""The dispatcher: notifications and action calls -> outbox -> notifiers, with retries.

Every notification is written to the store's outbox before the first attempt.
An attempt that fails with a retryable error (HTTP 429/5xx, timeout, refused
connection, SMTP 4xx) is retried right away up to ``retry.attempts`` times
with exponential backoff (``backoff`` x 2^n, at most ``max_backoff``, at least
what Retry-After asks for), sleeping at most :data:`MAX_INLINE_SLEEP` seconds
in line; then it stays in the outbox and :meth:`Dispatcher.retry_due` (called
by every engine tick) tries again when due. After :data:`GIVE_UP_AFTER` an
entry is marked failed; it stays in the store for inspection. A permanent
error (other 4xx, refused login) fails the entry at once.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from driftline._utils.clock import Clock, SystemClock
from driftline._utils.durations import parse_duration
from driftline.alerts.config import AlertsConfig
from driftline.alerts.notifiers.action import ActionCaller, action_body
from driftline.alerts.notifiers.base import (
    NotificationError,
    Notifier,
    env_mapping,
    install_log_redaction,
)
from driftline.alerts.notifiers.registry import NOTIFIERS, NotifierContext
from driftline.alerts.receivers import RetryConfig
from driftline.alerts.records import AuditEvent, Delivery, Notification, NotifiedAlert
from driftline.alerts.store import AlertStore

logger = logging.getLogger("driftline.alerts")
MAX_INLINE_SLEEP = 5.0
GIVE_UP_AFTER = 24 * 3600.0


class DeliveryMetrics:
    """Counters of delivery results and of failed attempts (docs/alerts.md, "Metrics")."""

    def __init__(self, registry: Any) -> None:
        from prometheus_client import Counter

        self.results = Counter(
            "driftline_alert_notifications",
            "Notification deliveries by final result of a dispatch (delivered, deferred, failed).",
            ("receiver", "notifier", "outcome"),
            registry=registry,
        )
        self.failures = Counter(
            "driftline_alert_notification_failures",
            "Failed delivery attempts by reason (http_429, http_5xx, http_4xx, timeout, ...).",
            ("receiver", "notifier", "reason"),
            registry=registry,
        )


def delivery_metrics(registry: Any = None) -> DeliveryMetrics:
    from prometheus_client import REGISTRY

    from driftline._utils.metrics import shared_families

    reg = REGISTRY if registry is None else registry
    return shared_families(reg, "alerts", lambda: DeliveryMetrics(reg))


class Dispatcher:
    """Builds the configured notifiers and delivers through the outbox (the engine's sink)."""

    def __init__(
        self,
        config: AlertsConfig,
        store: AlertStore,
        *,
        clock: Clock | None = None,
        env: Mapping[str, str] | None = None,
        registry: Any = None,
        sleep: Callable[[float], None] = time.sleep,
        client: httpx.Client | None = None,
    ) -> None:
        install_log_redaction()
        environ = env_mapping(env)
        self.store = store
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.sleep = sleep
        self.metrics = delivery_metrics(registry)
        self.client = client if client is not None else httpx.Client(follow_redirects=False)
        #: With ``deferred``, submitting only writes the outbox (and calls ``on_enqueue``);
        #: a :class:`~driftline.alerts.notifiers.worker.DeliveryWorker` sends, off the
        #: caller's thread. Without, the first attempt is made in line.
        self.deferred = False
        self.on_enqueue: Callable[[], None] | None = None
        self.retry: dict[str, RetryConfig] = {}
        self.notifiers: dict[tuple[str, str], Notifier] = {}
        self.receivers: dict[str, list[str]] = {}
        for r in config.receivers:
            timeout = parse_duration(r.retry.timeout)
            self.retry[r.name] = r.retry
            ctx = NotifierContext(environ, self.client, timeout, self.clock.time)
            built: list[Notifier] = [
                kind.build(r.name, getattr(r, kind.name), ctx)
                for kind in NOTIFIERS
                if getattr(r, kind.name, None) is not None
            ]
            for n in built:
                self.notifiers[(r.name, n.kind)] = n
            self.receivers[r.name] = [n.kind for n in built]
        self.actions = {
            a.name: ActionCaller(
                a, env=environ, client=self.client, timeout=parse_duration(a.retry.timeout)
            )
            for a in config.actions
        }
        for a in config.actions:
            self.retry[a.name] = a.retry

    def close(self) -> None:
        self.client.close()

    # -- the engine's sink -----------------------------------------------------------
    def submit(self, notification: Notification) -> None:
        now = self.clock.time()
        for kind in self.receivers.get(notification.receiver, []):
            delivery = Delivery(
                id=uuid.uuid4().hex,
                receiver=notification.receiver,
                notifier=kind,
                payload=notification.to_dict(),
                created_at=now,
                next_attempt_at=now,
            )
            self._queue(delivery)

    def _queue(self, delivery: Delivery) -> None:
        self.store.enqueue(delivery)
        if not self.deferred:
            self._attempt(delivery)
        elif self.on_enqueue is not None:
            self.on_enqueue()

    def submit_action(self, alert: NotifiedAlert) -> None:
        now = self.clock.time()
        for action in self.actions.values():
            if not action.wants(alert.labels):
                continue
            delivery = Delivery(
                id=uuid.uuid4().hex,
                receiver=action.cfg.name,
                notifier="action",
                payload={"body": action_body(action.cfg, alert), "fingerprint": alert.fingerprint},
                created_at=now,
                next_attempt_at=now,
            )
            self._queue(delivery)

    def submit_acknowledge(self, notification: Notification, by: str) -> None:
        """Queue an acknowledgement for the receiver's notifiers that support one (PagerDuty).

        Delivered by the next :meth:`retry_due` (the engine's tick), so the
        person acknowledging does not wait on PagerDuty.
        """
        now = self.clock.time()
        for kind in self.receivers.get(notification.receiver, []):
            notifier = self.notifiers[(notification.receiver, kind)]
            if not hasattr(notifier, "acknowledge"):
                continue
            payload = {**notification.to_dict(), "event": "acknowledge", "by": by}
            self.store.enqueue(
                Delivery(
                    id=uuid.uuid4().hex, receiver=notification.receiver, notifier=kind,
                    payload=payload, created_at=now, next_attempt_at=now,
                )
            )  # fmt: skip

    def retry_due(self) -> None:
        """Attempt what is due in the outbox (nothing when a worker sends: ``deferred``)."""
        if self.deferred:
            if self.on_enqueue is not None:
                self.on_enqueue()
            return
        for delivery in self.store.due_deliveries(self.clock.time()):
            self._attempt(delivery)

    def attempt(self, delivery: Delivery) -> None:
        """Send one outbox entry now (retries in line, then defers): the worker's call."""
        self._attempt(delivery)

    # -- attempts --------------------------------------------------------------------
    def _send(self, d: Delivery) -> None:
        if d.notifier == "action":
            action = self.actions.get(d.receiver)
            if action is None:
                raise NotificationError(
                    f"action {d.receiver!r} is no longer configured", retryable=False,
                    reason="config",
                )  # fmt: skip
            action.call(d.payload["body"])
            return
        notifier = self.notifiers.get((d.receiver, d.notifier))
        if notifier is None:
            raise NotificationError(
                f"receiver {d.receiver!r} has no {d.notifier} notifier any more",
                retryable=False,
                reason="config",
            )
        notification = Notification.from_dict(d.payload)
        if d.payload.get("event") == "acknowledge":
            notifier.acknowledge(notification)  # type: ignore[attr-defined]
        else:
            notifier.send(notification)

    def _attempt(self, d: Delivery) -> None:
        retry = self.retry.get(d.receiver, RetryConfig())
        backoff, cap = parse_duration(retry.backoff), parse_duration(retry.max_backoff)
        delay = backoff
        for i in range(retry.attempts):
            d.attempts += 1
            try:
                self._send(d)
            except NotificationError as exc:
                self.metrics.failures.labels(d.receiver, d.notifier, exc.reason).inc()
                d.last_error = str(exc)
                if not exc.retryable:
                    self._finish(d, "failed", logging.ERROR)
                    return
                delay = min(cap, backoff * 2 ** (d.attempts - 1))
                if exc.retry_after is not None:
                    delay = max(delay, min(exc.retry_after, cap))
                if i + 1 < retry.attempts and delay <= MAX_INLINE_SLEEP:
                    self.sleep(delay)
                    continue
                break
            else:
                d.last_error = ""
                self._finish(d, "delivered", logging.DEBUG)
                return
        now = self.clock.time()
        if now - d.created_at >= GIVE_UP_AFTER:
            d.last_error += f" (gave up after {d.attempts} attempts)"
            self._finish(d, "failed", logging.ERROR)
            return
        d.next_attempt_at = now + delay
        self.store.update_delivery(d)
        self.metrics.results.labels(d.receiver, d.notifier, "deferred").inc()
        logger.warning(
            "alert delivery deferred: %s; attempt %d, next in %.0fs",
            d.last_error, d.attempts, delay,
        )  # fmt: skip

    def _finish(self, d: Delivery, status: str, level: int) -> None:
        d.status = status
        self.store.update_delivery(d)
        self.metrics.results.labels(d.receiver, d.notifier, status).inc()
        if status == "failed":
            logger.log(level, "alert delivery failed: %s", d.last_error)
        now = self.clock.time()
        if d.notifier == "action":
            targets = [(d.payload.get("fingerprint", ""), "")]
        else:
            targets = [
                (a["fingerprint"], a["labels"].get("alertname", "")) for a in d.payload["alerts"]
            ]
        for fp, rule in targets:
            self.store.record(
                AuditEvent(
                    now, "delivery", fp, rule, "dispatcher", "", status,
                    {"receiver": d.receiver, "notifier": d.notifier, "attempts": d.attempts,
                     "error": d.last_error, "delivery": d.id},
                )
            )  # fmt: skip
