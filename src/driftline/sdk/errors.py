"""Errors raised by the SDK; all of them are :class:`~driftline.errors.DriftlineError`.

The SDK raises only while it is being configured (a bad sink, a missing hash
key). Once a :class:`~driftline.sdk.Monitor` runs, nothing it does raises into
the model service: failures are logged (rate-limited) and counted.
"""

from __future__ import annotations

from driftline.errors import ConfigError, DriftlineError


class SDKConfigError(ConfigError):
    """A Monitor, sink, privacy policy or router option has a bad value."""


class SinkError(DriftlineError):
    """A batch could not be delivered; used inside the shipper, never raised to callers."""

    def __init__(self, message: str, *, retry: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry = retry
        self.retry_after = retry_after


class JudgeError(DriftlineError):
    """One judge call failed (``invalid`` False) or answered something that is not a result
    (``invalid`` True); ``reason`` is what the judge's result records. Raised by scorers
    such as :class:`~driftline.sdk.judges.HTTPJudge`, caught and counted by the runner."""

    def __init__(self, reason: str, *, invalid: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.invalid = invalid
