"""PagerDuty Events API v2: one trigger or resolve event per alert, with a stable dedup_key.

The dedup_key is ``driftline/<fingerprint>``: the same alert always maps to
the same PagerDuty incident, so a retried trigger is deduplicated by PagerDuty
and the resolve closes it. Acknowledging the alert in driftline sends an
``acknowledge`` event for the same key. The routing key (the credential) comes from
``routing_key_env``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from driftline._utils.durations import rfc3339
from driftline.alerts._fields import Secretless
from driftline.alerts.notifiers.base import HTTPNotifier, secret
from driftline.alerts.notifiers.registry import NotifierContext, NotifierType
from driftline.alerts.records import Notification, NotifiedAlert


class PagerDutyConfig(Secretless):
    routing_key_env: str
    url: str = "https://events.pagerduty.com/v2/enqueue"
    source: str = "driftline"


SEVERITIES = ("critical", "error", "warning", "info")
MAX_SUMMARY = 1024


def dedup_key(a: NotifiedAlert) -> str:
    return f"driftline/{a.fingerprint}"[:255]


def acknowledge_event(a: NotifiedAlert, routing_key: str) -> dict[str, Any]:
    """The Events v2 body that acknowledges the incident of ``a`` (someone is on it)."""
    return {"routing_key": routing_key, "event_action": "acknowledge", "dedup_key": dedup_key(a)}


def pagerduty_event(
    a: NotifiedAlert, routing_key: str, source: str = "driftline", client_url: str = ""
) -> dict[str, Any]:
    """The Events v2 body for one alert: trigger while firing, resolve once resolved."""
    if a.status != "firing":
        return {"routing_key": routing_key, "event_action": "resolve", "dedup_key": dedup_key(a)}
    summary = a.annotations.get("summary") or a.labels.get("alertname", "driftline alert")
    severity = a.labels.get("severity", "error")
    details: dict[str, Any] = {
        "labels": dict(a.labels),
        "value": a.value,
        "threshold": a.threshold,
        "description": a.annotations.get("description", ""),
        "context": json.loads(json.dumps(dict(a.context), default=str)),
    }
    links = [
        {"href": url, "text": text}
        for key, text in (("runbook_url", "Runbook"), ("dashboard_url", "Dashboard"))
        if (url := a.annotations.get(key))
    ]
    body: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": dedup_key(a),
        "payload": {
            "summary": summary[:MAX_SUMMARY],
            "source": source,
            "severity": severity if severity in SEVERITIES else "error",
            "timestamp": rfc3339(a.starts_at),
            "component": a.labels.get("model", ""),
            "group": a.labels.get("team", ""),
            "class": a.labels.get("alertname", ""),
            "custom_details": details,
        },
        "links": links,
        "client": "driftline",
    }
    if client_url:
        body["client_url"] = client_url
    return body


class PagerDutyNotifier(HTTPNotifier):
    """Sends one Events v2 event per alert of a notification (202 = accepted)."""

    kind = "pagerduty"

    def __init__(
        self,
        receiver: str,
        cfg: PagerDutyConfig,
        *,
        env: Mapping[str, str],
        client: httpx.Client,
        timeout: float,
    ) -> None:
        super().__init__(receiver, client=client, timeout=timeout, url=cfg.url)
        self.cfg = cfg
        self._key = secret(env, cfg.routing_key_env, receiver, "PagerDuty routing key") or ""

    def __repr__(self) -> str:
        return f"PagerDutyNotifier(receiver={self.receiver!r}, env={self.cfg.routing_key_env!r})"

    def send(self, notification: Notification) -> None:
        for a in notification.alerts:
            self.post(pagerduty_event(a, self._key, self.cfg.source, a.generator_url))

    def acknowledge(self, notification: Notification) -> None:
        """Acknowledge the incidents of the notification's alerts (same ``dedup_key``)."""
        for a in notification.alerts:
            self.post(acknowledge_event(a, self._key))


def _build(receiver: str, cfg: PagerDutyConfig, ctx: NotifierContext) -> PagerDutyNotifier:
    return PagerDutyNotifier(receiver, cfg, env=ctx.env, client=ctx.client, timeout=ctx.timeout)


NOTIFIER = NotifierType(
    "pagerduty", PagerDutyConfig, _build, "PagerDuty Events API v2 (trigger, acknowledge, resolve)"
)
