"""Actions: call a URL once when a matching alert starts firing (e.g. start a retraining run).

The JSON body is the action's configured ``body`` (string values may use the
``{{ $labels.NAME }}`` / ``{{ $value }}`` templates) plus an ``alert`` object.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from driftline.alerts.matchers import match_all, parse_matchers
from driftline.alerts.notifiers.base import HTTPNotifier, secret
from driftline.alerts.notifiers.webhook import alertmanager_alert
from driftline.alerts.receivers import ActionConfig
from driftline.alerts.records import NotifiedAlert
from driftline.alerts.templates import render_template


def _render(value: Any, a: NotifiedAlert) -> Any:
    if isinstance(value, str):
        return render_template(value, a.labels, a.value, a.threshold)
    if isinstance(value, dict):
        return {k: _render(v, a) for k, v in value.items()}
    if isinstance(value, list):
        return [_render(v, a) for v in value]
    return value


def action_body(cfg: ActionConfig, a: NotifiedAlert) -> dict[str, Any]:
    body = _render(dict(cfg.body), a)
    body.setdefault("alert", {**alertmanager_alert(a), "value": a.value, "threshold": a.threshold})
    body.setdefault("action", cfg.name)
    return dict(body)


class ActionCaller(HTTPNotifier):
    kind = "action"

    def __init__(
        self, cfg: ActionConfig, *, env: Mapping[str, str], client: httpx.Client, timeout: float
    ) -> None:
        url = cfg.url or secret(env, cfg.url_env, cfg.name, "action URL") or ""
        token = secret(env, cfg.bearer_token_env, cfg.name, "bearer token")
        super().__init__(cfg.name, client=client, timeout=timeout, url=url, token=token)
        self.cfg = cfg
        self.matchers = parse_matchers(cfg.matchers)

    def __repr__(self) -> str:
        return f"ActionCaller(name={self.cfg.name!r})"

    def wants(self, labels: Mapping[str, str]) -> bool:
        return match_all(self.matchers, labels)

    def call(self, body: Mapping[str, Any]) -> None:
        self.post(dict(body), method=self.cfg.method)
