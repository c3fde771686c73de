"""Typer apps with driftline's settings: plain help and a fast start (issue 14).

Every ``driftline`` command group is made by :func:`typer_app`, and every
command registered on one with ``app.command()``. Two things keep ``driftline
--help`` and ``driftline check --help`` under 0.3 s of CPU, and ``driftline
check`` on a missing file as quick (benchmarks/startup.py):

- plain help (``rich_markup_mode=None``, set on the root app and inherited by
  every sub-command): typer's rich help panels import ``rich.markdown`` and
  ``markdown_it`` (about a third of the start-up); the help lists the same
  commands, options and texts, as click formats them;
- option values converted without pydantic when they are plain
  (:mod:`driftline._utils.cli_coercion`): typer 0.29 builds a pydantic
  ``TypeAdapter`` for each parameter of the group or command it runs, unset
  ones and ``--help`` included, which imports pydantic and took another third
  (with ``check``'s twenty options, more than the help itself).
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup


def _plain_coercion(params: Any) -> None:
    try:
        from driftline._utils.cli_coercion import install
    except ImportError:  # a typer without the pydantic layer: click's types convert
        return
    install(params)


class _PlainValues:
    """Before a group or command parses its arguments: plain converters for its parameters."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        _plain_coercion(self.get_params(ctx))  # type: ignore[attr-defined]
        return super().parse_args(ctx, args)  # type: ignore[misc, no-any-return]


class _Group(_PlainValues, TyperGroup):
    pass


class _Command(_PlainValues, TyperCommand):
    pass


class _Typer(typer.Typer):
    """``app.command()`` makes a :class:`_Command` unless told another class."""

    def command(self, *args: Any, cls: Any = None, **kwargs: Any) -> Any:
        return super().command(*args, cls=cls or _Command, **kwargs)


def typer_app(**settings: Any) -> typer.Typer:
    """A command group: plain help, no shell-completion commands, no pretty tracebacks."""
    settings.setdefault("add_completion", False)
    settings.setdefault("pretty_exceptions_enable", False)
    return _Typer(cls=_Group, rich_markup_mode=None, **settings)
