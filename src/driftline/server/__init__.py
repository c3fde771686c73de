"""The collector service: HTTP API, Prometheus export, API keys (``driftline serve``).

``create_app(settings, store, clock)`` builds the ASGI app; see docs/collector.md.
Importing :mod:`driftline` never imports this package.
"""

from __future__ import annotations

from driftline.server.app import create_app
from driftline.server.settings import Settings

__all__ = ["Settings", "create_app"]
