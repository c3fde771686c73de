"""The request id of the current request, set by web integrations, read by ``observe()``."""

from __future__ import annotations

from contextvars import ContextVar

#: When set (by :func:`driftline.integrations.fastapi.instrument`), ``observe()``
#: uses it as the default prediction id, so labels can be joined by request id.
request_id: ContextVar[str | None] = ContextVar("driftline_request_id", default=None)
