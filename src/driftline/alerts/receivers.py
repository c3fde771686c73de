"""Receivers, delivery retries and actions (docs/alerts.md, "Notifiers").

Each notifier's settings live in its own module with the notifier
(:mod:`driftline.alerts.notifiers.registry`); a receiver takes one section per
registered notifier.

Secrets are never values in the file: each notifier names the environment
variables that hold them (``*_env`` keys); a secret written in the file is an
unknown key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, create_model, field_validator, model_validator

from driftline.alerts._fields import Duration, _Strict
from driftline.alerts.matchers import parse_matchers


class RetryConfig(_Strict):
    """Delivery attempts: ``attempts`` tries right away, then the outbox retries later."""

    timeout: Duration = "10s"
    attempts: Annotated[int, Field(ge=1, le=10)] = 3
    backoff: Duration = "1s"
    max_backoff: Duration = "5m"


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


class ReceiverBase(_Strict):
    """The keys every receiver has; the notifiers' keys come from the registry."""

    name: str
    send_resolved: bool = True
    retry: RetryConfig = RetryConfig()


def _receiver_model() -> type[ReceiverBase]:
    """``receivers[]``: a name, one optional section per registered notifier, and retries.

    Built from the notifier registry, so a plug-in notifier (``driftline.notifiers``
    entry point) is configured like a built-in: ``- name: x`` + ``<its name>: {...}``.
    """
    from driftline.alerts.notifiers.registry import NOTIFIERS

    fields: dict[str, Any] = {n.name: (n.config | None, None) for n in NOTIFIERS}
    model = create_model("ReceiverConfig", __base__=ReceiverBase, **fields)
    model.__doc__ = "A named destination; one receiver may use several notifiers."
    return model


if TYPE_CHECKING:
    ReceiverConfig = ReceiverBase
else:
    ReceiverConfig = _receiver_model()
