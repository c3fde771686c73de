"""Alertmanager API: ``POST /api/v2/alerts``, so teams reuse their Alertmanager routing.

Alertmanager resolves an alert by itself once its ``endsAt`` passes, and
expects clients to re-send firing alerts. driftline sends firing alerts with
``endsAt`` = now + ``ttl`` (default 12h; keep it above the route's
repeat_interval, which re-sends them) and resolved alerts with their
resolution time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
from pydantic import model_validator

from driftline._utils.durations import parse_duration, rfc3339
from driftline.alerts._fields import Duration, Secretless
from driftline.alerts.notifiers.base import HTTPNotifier, secret
from driftline.alerts.notifiers.registry import NotifierContext, NotifierType
from driftline.alerts.records import Notification, NotifiedAlert


class AlertmanagerConfig(Secretless):
    url: str | None = None
    url_env: str | None = None
    ttl: Duration = "12h"
    bearer_token_env: str | None = None

    @model_validator(mode="after")
    def _one_url(self) -> AlertmanagerConfig:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("give exactly one of url or url_env (an environment variable)")
        return self


def api_alert(a: NotifiedAlert, now: float, ttl: float) -> dict[str, Any]:
    """One element of the POST /api/v2/alerts body."""
    ends = now + ttl if a.status == "firing" or a.ends_at is None else a.ends_at
    return {
        "labels": dict(a.labels),
        "annotations": dict(a.annotations),
        "startsAt": rfc3339(a.starts_at),
        "endsAt": rfc3339(ends),
        "generatorURL": a.generator_url,
    }


class AlertmanagerNotifier(HTTPNotifier):
    """Posts a notification's alerts to an Alertmanager."""

    kind = "alertmanager"

    def __init__(
        self,
        receiver: str,
        cfg: AlertmanagerConfig,
        *,
        env: Mapping[str, str],
        client: httpx.Client,
        timeout: float,
        now: Any,
    ) -> None:
        base = cfg.url or secret(env, cfg.url_env, receiver, "Alertmanager URL") or ""
        token = secret(env, cfg.bearer_token_env, receiver, "bearer token")
        url = base.rstrip("/") + "/api/v2/alerts"
        super().__init__(receiver, client=client, timeout=timeout, url=url, token=token)
        self.cfg = cfg
        self._ttl = parse_duration(cfg.ttl)
        self._now = now

    def send(self, notification: Notification) -> None:
        now = float(self._now())
        self.post([api_alert(a, now, self._ttl) for a in notification.alerts])


def _build(receiver: str, cfg: AlertmanagerConfig, ctx: NotifierContext) -> AlertmanagerNotifier:
    return AlertmanagerNotifier(
        receiver, cfg, now=ctx.now, env=ctx.env, client=ctx.client, timeout=ctx.timeout
    )


NOTIFIER = NotifierType(
    "alertmanager", AlertmanagerConfig, _build, "a Prometheus Alertmanager (its v2 API)"
)
