"""Generic webhook: Alertmanager's webhook payload (version 4) or driftline's own JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import httpx
from pydantic import Field, model_validator

from driftline._utils.durations import ZERO_TIME, rfc3339
from driftline.alerts._fields import Secretless
from driftline.alerts.notifiers.base import HTTPNotifier, secret
from driftline.alerts.notifiers.registry import NotifierContext, NotifierType
from driftline.alerts.records import Notification, NotifiedAlert


class WebhookConfig(Secretless):
    url: str | None = None
    url_env: str | None = None
    format: Literal["alertmanager", "json"] = "alertmanager"
    bearer_token_env: str | None = None
    max_alerts: Annotated[int, Field(ge=0)] = 0

    @model_validator(mode="after")
    def _one_url(self) -> WebhookConfig:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("give exactly one of url or url_env (an environment variable)")
        return self


#: Version of driftline's own JSON payload (``format: json``).
JSON_FORMAT = "driftline.alerts/v1"


def alertmanager_alert(a: NotifiedAlert) -> dict[str, Any]:
    """One alert of a webhook v4 payload; a firing alert ends at 0001-01-01T00:00:00Z."""
    return {
        "status": a.status,
        "labels": dict(a.labels),
        "annotations": dict(a.annotations),
        "startsAt": rfc3339(a.starts_at),
        "endsAt": ZERO_TIME if a.ends_at is None else rfc3339(a.ends_at),
        "generatorURL": a.generator_url,
        "fingerprint": a.fingerprint,
    }


def alertmanager_payload(n: Notification, max_alerts: int = 0) -> dict[str, Any]:
    """Alertmanager's webhook payload, version "4", for one notification group."""
    alerts = list(n.alerts)
    truncated = 0
    if max_alerts and len(alerts) > max_alerts:
        truncated = len(alerts) - max_alerts
        alerts = alerts[:max_alerts]
    return {
        "version": "4",
        "groupKey": n.group_key,
        "truncatedAlerts": truncated,
        "status": n.status,
        "receiver": n.receiver,
        "groupLabels": dict(n.group_labels),
        "commonLabels": n.common_labels(),
        "commonAnnotations": n.common_annotations(),
        "externalURL": n.external_url,
        "alerts": [alertmanager_alert(a) for a in alerts],
    }


def json_payload(n: Notification) -> dict[str, Any]:
    """driftline's payload: the v4 fields plus each alert's value, threshold and context."""
    body = alertmanager_payload(n)
    body["version"] = JSON_FORMAT
    for out, a in zip(body["alerts"], n.alerts, strict=True):
        out["value"] = a.value
        out["threshold"] = a.threshold
        out["context"] = json.loads(json.dumps(dict(a.context), default=str))
    return body


class WebhookNotifier(HTTPNotifier):
    """POSTs each notification as JSON to a URL (from ``url`` or the ``url_env`` variable)."""

    kind = "webhook"

    def __init__(
        self,
        receiver: str,
        cfg: WebhookConfig,
        *,
        env: Mapping[str, str],
        client: httpx.Client,
        timeout: float,
    ) -> None:
        url = cfg.url or secret(env, cfg.url_env, receiver, "webhook URL") or ""
        token = secret(env, cfg.bearer_token_env, receiver, "bearer token")
        super().__init__(receiver, client=client, timeout=timeout, url=url, token=token)
        self.cfg = cfg

    def __repr__(self) -> str:
        return f"WebhookNotifier(receiver={self.receiver!r}, format={self.cfg.format!r})"

    def payload(self, n: Notification) -> dict[str, Any]:
        if self.cfg.format == "json":
            return json_payload(n)
        return alertmanager_payload(n, self.cfg.max_alerts)

    def send(self, notification: Notification) -> None:
        self.post(self.payload(notification))


def _build(receiver: str, cfg: WebhookConfig, ctx: NotifierContext) -> WebhookNotifier:
    return WebhookNotifier(receiver, cfg, env=ctx.env, client=ctx.client, timeout=ctx.timeout)


NOTIFIER = NotifierType(
    "webhook", WebhookConfig, _build, "HTTP POST of an Alertmanager-style or plain JSON body"
)
