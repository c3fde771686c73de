"""Typer apps with driftline's settings: plain help and a fast start (issue 14).

Every ``driftline`` command group is made by :func:`typer_app`. Two things keep
``driftline --help`` and ``driftline check --help`` under 0.3 s of CPU
(benchmarks/startup.py):

- plain help (``rich_markup_mode=None``, set on the root app and inherited by
  every sub-command): typer's rich help panels import ``rich.markdown`` and
  ``markdown_it`` (about a third of the start-up); the help lists the same
  commands, options and texts, as click formats them;
- a group's ``--help`` flag defaults to False instead of None: typer coerces an
  unset flag's None through a pydantic ``TypeAdapter`` built on first use,
  which imports pydantic (another third) for every sub-command invocation,
  ``--help`` included. A command's own options still go through typer's
  coercion when the command runs.
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperGroup


class _Group(TyperGroup):
    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)
        if option is not None and option.default is None:
            option.default = False  # a bool: typer skips the pydantic coercion of None
        return option


def typer_app(**settings: Any) -> typer.Typer:
    """A command group: plain help, no shell-completion commands, no pretty tracebacks."""
    settings.setdefault("add_completion", False)
    settings.setdefault("pretty_exceptions_enable", False)
    return typer.Typer(cls=_Group, rich_markup_mode=None, **settings)
