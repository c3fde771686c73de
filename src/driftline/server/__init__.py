"""The collector service: HTTP API, Prometheus export, API keys (``driftline serve``).

``create_app(settings, store, clock)`` builds the ASGI app; see docs/collector.md.
Importing :mod:`driftline` never imports this package, and importing
``driftline.server.cli`` (for the command line) does not import FastAPI: the
names below load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from driftline.server.app import create_app
    from driftline.server.settings import Settings


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from driftline.server.app import create_app

        return create_app
    if name == "Settings":
        from driftline.server.settings import Settings

        return Settings
    raise AttributeError(f"module 'driftline.server' has no attribute {name!r}")


__all__ = ["Settings", "create_app"]
