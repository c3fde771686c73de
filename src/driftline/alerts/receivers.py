"""Receivers, their notifiers' settings, delivery retries and actions (docs/alerts.md, "Notifiers").

Secrets are never values in the file: each notifier names the environment
variables that hold them (``*_env`` keys); a secret written in the file is an
unknown key.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from driftline.alerts._fields import Duration, _listify, _Strict
from driftline.alerts.matchers import parse_matchers


class RetryConfig(_Strict):
    """Delivery attempts: ``attempts`` tries right away, then the outbox retries later."""

    timeout: Duration = "10s"
    attempts: Annotated[int, Field(ge=1, le=10)] = 3
    backoff: Duration = "1s"
    max_backoff: Duration = "5m"


class _Secretless(_Strict):
    """Notifier settings; secrets are names of environment variables (``*_env``), never values."""


class WebhookConfig(_Secretless):
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


class SlackConfig(_Secretless):
    webhook_url_env: str
    title: str = "driftline"


class PagerDutyConfig(_Secretless):
    routing_key_env: str
    url: str = "https://events.pagerduty.com/v2/enqueue"
    source: str = "driftline"


class EmailConfig(_Secretless):
    to: Annotated[list[str], BeforeValidator(_listify), Field(min_length=1)]
    from_: str = Field(alias="from")
    smarthost: Annotated[str, Field(pattern=r"^[^:\s]+:\d+$")]
    starttls: bool = True
    username_env: str | None = None
    password_env: str | None = None
    ca_file: str | None = None


class AlertmanagerConfig(_Secretless):
    url: str | None = None
    url_env: str | None = None
    ttl: Duration = "12h"
    bearer_token_env: str | None = None

    @model_validator(mode="after")
    def _one_url(self) -> AlertmanagerConfig:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("give exactly one of url or url_env (an environment variable)")
        return self


class LogConfig(_Strict):
    level: Literal["info", "warning", "error"] = "warning"


class ReceiverConfig(_Strict):
    """A named destination; one receiver may use several notifiers."""

    name: str
    send_resolved: bool = True
    webhook: WebhookConfig | None = None
    slack: SlackConfig | None = None
    pagerduty: PagerDutyConfig | None = None
    email: EmailConfig | None = None
    alertmanager: AlertmanagerConfig | None = None
    log: LogConfig | None = None
    retry: RetryConfig = RetryConfig()


class ActionConfig(_Strict):
    """Call a URL once when a matching alert starts firing (e.g. start a retraining run)."""

    name: str
    matchers: list[str] = Field(default_factory=list)
    url: str | None = None
    url_env: str | None = None
    method: Literal["POST", "PUT"] = "POST"
    bearer_token_env: str | None = None
    body: dict[str, Any] = Field(default_factory=dict)
    retry: RetryConfig = RetryConfig()

    @field_validator("matchers")
    @classmethod
    def _matchers(cls, v: list[str]) -> list[str]:
        parse_matchers(v)
        return v

    @model_validator(mode="after")
    def _one_url(self) -> ActionConfig:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("give exactly one of url or url_env (an environment variable)")
        return self
