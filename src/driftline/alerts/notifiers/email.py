"""Email over SMTP: STARTTLS (on by default) and login, one message per notification group.

SMTP replies 4xx are transient (retried), 5xx permanent (not retried). The
password comes from ``password_env``; ``ca_file`` trusts a private CA.
"""

from __future__ import annotations

import html
import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from typing import Annotated

from pydantic import BeforeValidator, Field

from driftline._utils.durations import rfc3339
from driftline.alerts._fields import Secretless, _listify
from driftline.alerts.notifiers.base import NotificationError, secret
from driftline.alerts.notifiers.registry import NotifierContext, NotifierType
from driftline.alerts.notifiers.slack import title
from driftline.alerts.records import Notification


class EmailConfig(Secretless):
    to: Annotated[list[str], BeforeValidator(_listify), Field(min_length=1)]
    from_: str = Field(alias="from")
    smarthost: Annotated[str, Field(pattern=r"^[^:\s]+:\d+$")]
    starttls: bool = True
    username_env: str | None = None
    password_env: str | None = None
    ca_file: str | None = None


def email_message(n: Notification, sender: str, to: list[str]) -> EmailMessage:
    """The message: a plain-text body and an HTML alternative (escaped)."""
    msg = EmailMessage()
    msg["Subject"] = title(n)
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    text, rows = [], []
    for a in n.alerts:
        summary = a.annotations.get("summary", a.labels.get("alertname", ""))
        labels = ", ".join(f"{k}={v}" for k, v in sorted(a.labels.items()))
        links = [a.annotations[k] for k in ("runbook_url", "dashboard_url") if k in a.annotations]
        text.append(
            f"[{a.status.upper()}] {summary}\n{a.annotations.get('description', '')}\n"
            f"labels: {labels}\nsince: {rfc3339(a.starts_at)}\n"
            + "".join(f"link: {u}\n" for u in links)
        )
        link_html = " ".join(f'<a href="{html.escape(u)}">{html.escape(u)}</a>' for u in links)
        rows.append(
            f"<tr><td>{a.status}</td><td><b>{html.escape(summary)}</b><br>"
            f"{html.escape(a.annotations.get('description', ''))}<br>"
            f"<small>{html.escape(labels)}</small><br>{link_html}</td></tr>"
        )
    msg.set_content("\n".join(text) + f"\n{n.external_url}\n")
    msg.add_alternative(f"<table>{''.join(rows)}</table>", subtype="html")
    return msg


class EmailNotifier:
    kind = "email"

    def __init__(
        self, receiver: str, cfg: EmailConfig, *, env: Mapping[str, str], timeout: float
    ) -> None:
        self.receiver = receiver
        self.cfg = cfg
        host, _, port = cfg.smarthost.rpartition(":")
        self._host, self._port = host, int(port)
        self._user = secret(env, cfg.username_env, receiver, "SMTP user")
        self._password = secret(env, cfg.password_env, receiver, "SMTP password")
        self._timeout = timeout

    def __repr__(self) -> str:
        return f"EmailNotifier(receiver={self.receiver!r}, smarthost={self.cfg.smarthost!r})"

    def _tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.cfg.ca_file)

    def send(self, notification: Notification) -> None:
        where = f"email receiver {self.receiver!r}"
        msg = email_message(notification, self.cfg.from_, self.cfg.to)
        try:
            with smtplib.SMTP(self._host, self._port, timeout=self._timeout) as smtp:
                smtp.ehlo()
                if self.cfg.starttls:
                    smtp.starttls(context=self._tls())
                    smtp.ehlo()
                if self._user is not None:
                    try:
                        smtp.login(self._user, self._password or "")
                    except smtplib.SMTPServerDisconnected:  # some servers hang up on a bad login
                        raise smtplib.SMTPAuthenticationError(535, b"closed on login") from None
                smtp.send_message(msg)
        except smtplib.SMTPAuthenticationError as exc:
            raise NotificationError(
                f"{where}: login refused (SMTP {exc.smtp_code})", retryable=False, reason="auth"
            ) from None
        except smtplib.SMTPResponseException as exc:
            transient = 400 <= exc.smtp_code < 500
            raise NotificationError(
                f"{where}: SMTP {exc.smtp_code}",
                retryable=transient,
                reason="smtp_4xx" if transient else "smtp_5xx",
            ) from None
        except smtplib.SMTPRecipientsRefused:
            raise NotificationError(
                f"{where}: every recipient was refused", retryable=False, reason="smtp_5xx"
            ) from None
        except smtplib.SMTPNotSupportedError:
            raise NotificationError(
                f"{where}: the server does not offer STARTTLS or AUTH",
                retryable=False,
                reason="smtp_config",
            ) from None
        except ssl.SSLError as exc:
            raise NotificationError(
                f"{where}: TLS failed ({exc.reason})", retryable=False, reason="tls"
            ) from None
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            raise NotificationError(
                f"{where}: {type(exc).__name__}", retryable=True, reason="connection"
            ) from None


def _build(receiver: str, cfg: EmailConfig, ctx: NotifierContext) -> EmailNotifier:
    return EmailNotifier(receiver, cfg, env=ctx.env, timeout=ctx.timeout)


NOTIFIER = NotifierType("email", EmailConfig, _build, "email over SMTP (STARTTLS by default)")
