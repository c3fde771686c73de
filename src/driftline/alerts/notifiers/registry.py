"""The notifier registry: every notifier, built-in or plug-in, declared once.

A notifier is one module holding its settings model, its class and a
:class:`NotifierType` named ``NOTIFIER``: the key a receiver uses for it in
driftline.yaml, the settings model of that key and a ``build`` function.
The receivers' configuration (``receivers[].<name>``), the dispatcher and
``driftline alerts test`` read :data:`NOTIFIERS`; plug-ins come through the
``driftline.notifiers`` entry point (docs/plugins.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from driftline.plugins import Registry, register_modules

if TYPE_CHECKING:
    import httpx

    from driftline.alerts.notifiers.base import Notifier


@dataclass(frozen=True)
class NotifierContext:
    """What a notifier may use when it is built: the environment (its secrets), the
    shared HTTP client, the attempt timeout in seconds and the clock's wall time."""

    env: Mapping[str, str]
    client: httpx.Client
    timeout: float
    now: Callable[[], float]


@dataclass(frozen=True)
class NotifierType:
    """A notifier's declaration: ``receivers[].<name>: <config>`` builds it with ``build``."""

    name: str
    config: type[BaseModel]
    build: Callable[[str, Any, NotifierContext], Notifier]
    description: str = ""

    def __post_init__(self) -> None:
        from driftline.errors import PluginError

        if not self.name.isidentifier() or self.name in ("name", "send_resolved", "retry"):
            raise PluginError(
                f"notifier name {self.name!r}: allowed: a Python identifier other than "
                "name, send_resolved and retry"
            )


#: the built-in notifiers in the order the docs and error messages list them
_ORDER = ("webhook", "slack", "pagerduty", "email", "alertmanager", "log")


def _builtins() -> None:
    register_modules(
        NOTIFIERS,
        "driftline.alerts.notifiers",
        attrs=("NOTIFIER",),
        order=_ORDER,
        skip=frozenset({"base", "dispatch", "action", "worker"}),
    )


NOTIFIERS: Registry[NotifierType] = Registry(
    "notifier", "driftline.notifiers", NotifierType, _builtins
)

__all__ = ["NOTIFIERS", "NotifierContext", "NotifierType"]
