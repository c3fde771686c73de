"""What every notifier shares: the protocol, delivery errors, HTTP posting, secrets, metrics.

A notifier makes one delivery attempt per :meth:`Notifier.send` and raises
:class:`NotificationError` saying whether a retry can help (HTTP 429 and 5xx,
timeouts, refused connections) or not (other 4xx, bad configuration). The
dispatcher (:mod:`driftline.alerts.notifiers.dispatch`) retries with
exponential backoff and keeps what could not be delivered in the outbox.

Secrets (webhook URLs, routing keys, passwords, tokens) come only from
environment variables, are read when the notifier is built, and never appear
in logs, errors or reprs: error messages name the receiver, the environment
variable and the HTTP status, never the URL or the key.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx

from driftline.alerts.records import Notification
from driftline.errors import ConfigError, DriftlineError


class NotificationError(DriftlineError):
    """A delivery attempt failed; ``retryable`` says whether trying again can help."""

    def __init__(
        self, message: str, *, retryable: bool, reason: str, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.reason = reason
        self.retry_after = retry_after


class Notifier(Protocol):
    """Sends one notification to one destination (one attempt; :class:`NotificationError`)."""

    kind: str
    receiver: str

    def send(self, notification: Notification) -> None: ...


def secret(env: Mapping[str, str], var: str | None, receiver: str, what: str) -> str | None:
    """The value of environment variable ``var``; ConfigError naming it (not its value) if unset."""
    if var is None:
        return None
    value = env.get(var, "")
    if not value:
        raise ConfigError(
            f"receiver {receiver!r}: environment variable {var} ({what}) is not set; "
            "secrets are read from the environment only"
        )
    return value


def redact_url(url: str) -> str:
    """Keep scheme, host and port only: paths and queries of webhook URLs are secrets."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<url>"
    return f"{parts.scheme}://{host}{port}/***"


class _RedactHTTPXURLs(logging.Filter):
    """httpx logs every request's full URL at INFO; keep only scheme://host:port."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(
                redact_url(str(a)) if isinstance(a, httpx.URL) else a for a in record.args
            )
        return True


def install_log_redaction() -> None:
    """Attach the URL redaction filter to the httpx loggers (idempotent)."""
    for name in ("httpx", "httpcore"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _RedactHTTPXURLs) for f in logger.filters):
            logger.addFilter(_RedactHTTPXURLs())


def _retry_after(response: httpx.Response) -> float | None:
    raw = response.headers.get("retry-after")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        return None


def post_json(
    client: httpx.Client,
    url: str,
    body: Any,
    *,
    receiver: str,
    kind: str,
    timeout: float,
    headers: Mapping[str, str] | None = None,
    method: str = "POST",
) -> httpx.Response:
    """One HTTP request with a JSON body; NotificationError classifies any failure."""
    where = f"{kind} receiver {receiver!r}"
    try:
        response = client.request(method, url, json=body, headers=headers, timeout=timeout)
    except httpx.TimeoutException:
        raise NotificationError(
            f"{where}: timed out after {timeout:g}s", retryable=True, reason="timeout"
        ) from None
    except httpx.TransportError as exc:
        raise NotificationError(
            f"{where}: cannot connect ({type(exc).__name__})", retryable=True, reason="connection"
        ) from None
    status = response.status_code
    if 200 <= status < 300:
        return response
    if status == 429 or status >= 500:
        raise NotificationError(
            f"{where}: HTTP {status}",
            retryable=True,
            reason="http_429" if status == 429 else "http_5xx",
            retry_after=_retry_after(response),
        )
    raise NotificationError(
        f"{where}: HTTP {status} (not retried: the request itself was refused)",
        retryable=False,
        reason="http_4xx",
    )


class HTTPNotifier:
    """What the HTTP notifiers share: receiver, client, timeout, URL, bearer token, one request.

    Subclasses read their secrets with :func:`secret` and pass them in; the
    URL and token are kept private (reprs name the receiver only).
    """

    kind = "http"

    def __init__(
        self,
        receiver: str,
        *,
        client: httpx.Client,
        timeout: float,
        url: str,
        token: str | None = None,
    ) -> None:
        self.receiver = receiver
        self._client = client
        self._timeout = timeout
        self._url = url
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(receiver={self.receiver!r})"

    def post(self, body: Any, *, method: str = "POST") -> httpx.Response:
        """One attempt; :class:`NotificationError` says whether a retry can help."""
        return post_json(
            self._client, self._url, body, receiver=self.receiver, kind=self.kind,
            timeout=self._timeout, headers=self._headers, method=method,
        )  # fmt: skip


def env_mapping(env: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if env is None else env
