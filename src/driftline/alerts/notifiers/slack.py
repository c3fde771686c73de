"""Slack incoming webhook: a fallback ``text`` plus Block Kit ``blocks``.

Limits from Slack: section text up to 3000 characters, at most 50 blocks per
message, ``&``, ``<`` and ``>`` escaped in text (they start Slack's markup).
The webhook URL is the secret: it comes from ``webhook_url_env``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from driftline._utils.durations import rfc3339
from driftline.alerts._fields import Secretless
from driftline.alerts.notifiers.base import HTTPNotifier, secret
from driftline.alerts.notifiers.registry import NotifierContext, NotifierType
from driftline.alerts.records import Notification, NotifiedAlert


class SlackConfig(Secretless):
    webhook_url_env: str
    title: str = "driftline"


MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_HEADER = 150


def escape(text: str) -> str:
    """Slack's escaping of the three control characters in message text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _link(url: str, label: str) -> str:
    safe = url.replace("|", "%7C").replace(">", "%3E").replace("<", "%3C")
    return f"<{safe}|{label}>"


def title(n: Notification, prefix: str = "driftline") -> str:
    firing, resolved = len(n.firing), len(n.resolved)
    names = sorted({a.labels.get("alertname", "") for a in n.alerts})
    status = f"FIRING:{firing}" if firing else f"RESOLVED:{resolved}"
    where = n.group_labels.get("model") or n.common_labels().get("model", "")
    return f"[{status}] {', '.join(names)}" + (f" ({where})" if where else "") + f" - {prefix}"


def _section(a: NotifiedAlert) -> dict[str, Any]:
    icon = ":red_circle:" if a.status == "firing" else ":large_green_circle:"
    summary = escape(a.annotations.get("summary", a.labels.get("alertname", "")))
    lines = [f"{icon} *{summary}*"]
    description = a.annotations.get("description")
    if description:
        lines.append(escape(description))
    where = " · ".join(
        f"{k} `{escape(a.labels[k])}`"
        for k in ("model", "version", "segment", "column", "severity", "owner")
        if a.labels.get(k)
    )
    lines.append(where)
    lines.append(f"since {rfc3339(a.starts_at)}" + (" · resolved" if a.status != "firing" else ""))
    links = [
        _link(url, label)
        for key, label in (("runbook_url", "Runbook"), ("dashboard_url", "Dashboard"))
        if (url := a.annotations.get(key))
    ]
    if a.generator_url:
        links.append(_link(a.generator_url, "Alert"))
    if links:
        lines.append(" · ".join(links))
    return {
        "type": "section",
        "text": {"type": "mrkdwn", "text": _cut("\n".join(lines), MAX_SECTION)},
    }


def slack_payload(n: Notification, prefix: str = "driftline") -> dict[str, Any]:
    """The message for one notification group (at most :data:`MAX_BLOCKS` blocks)."""
    head = title(n, prefix)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(head, MAX_HEADER)}}
    ]
    room = MAX_BLOCKS - 2  # header + a possible "and N more" context block
    alerts = list(n.alerts)
    for a in alerts[:room]:
        blocks.append(_section(a))
    if len(alerts) > room:
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"and {len(alerts) - room} more alerts"}],
            }
        )
    return {"text": escape(head), "blocks": blocks}


class SlackNotifier(HTTPNotifier):
    """Posts each notification group as one Slack message."""

    kind = "slack"

    def __init__(
        self,
        receiver: str,
        cfg: SlackConfig,
        *,
        env: Mapping[str, str],
        client: httpx.Client,
        timeout: float,
    ) -> None:
        url = secret(env, cfg.webhook_url_env, receiver, "Slack webhook URL") or ""
        super().__init__(receiver, client=client, timeout=timeout, url=url)
        self.cfg = cfg

    def __repr__(self) -> str:
        return f"SlackNotifier(receiver={self.receiver!r}, env={self.cfg.webhook_url_env!r})"

    def send(self, notification: Notification) -> None:
        self.post(slack_payload(notification, self.cfg.title))


def _build(receiver: str, cfg: SlackConfig, ctx: NotifierContext) -> SlackNotifier:
    return SlackNotifier(receiver, cfg, env=ctx.env, client=ctx.client, timeout=ctx.timeout)


NOTIFIER = NotifierType("slack", SlackConfig, _build, "Slack incoming webhook (Block Kit message)")
