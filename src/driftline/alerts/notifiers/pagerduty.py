"""PagerDuty Events API v2: one trigger or resolve event per alert, with a stable dedup_key.

The dedup_key is ``driftline/<fingerprint>``: the same alert always maps to
the same PagerDuty incident, so a retried trigger is deduplicated by PagerDuty
and the resolve closes it. The routing key (the credential) comes from
``routing_key_env``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from driftline.alerts._time import rfc3339
from driftline.alerts.model import Notification, NotifiedAlert
from driftline.alerts.notifiers.base import post_json, secret
from driftline.alerts.receivers import PagerDutyConfig

SEVERITIES = ("critical", "error", "warning", "info")
MAX_SUMMARY = 1024


def dedup_key(a: NotifiedAlert) -> str:
    return f"driftline/{a.fingerprint}"[:255]


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


class PagerDutyNotifier:
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
        self.receiver = receiver
        self.cfg = cfg
        self._key = secret(env, cfg.routing_key_env, receiver, "PagerDuty routing key") or ""
        self._client = client
        self._timeout = timeout

    def __repr__(self) -> str:
        return f"PagerDutyNotifier(receiver={self.receiver!r}, env={self.cfg.routing_key_env!r})"

    def send(self, notification: Notification) -> None:
        for a in notification.alerts:
            post_json(
                self._client, self.cfg.url,
                pagerduty_event(a, self._key, self.cfg.source, a.generator_url),
                receiver=self.receiver, kind=self.kind, timeout=self._timeout,
            )  # fmt: skip
