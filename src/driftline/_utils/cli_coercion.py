"""Option values converted without pydantic, as typer would convert them (issue 14).

typer 0.29 converts every option and argument of a command it runs through a
pydantic ``TypeAdapter`` built on first use, also for options left unset: the
command imports pydantic and builds about twenty adapters before it looks at
its inputs: ``driftline check`` on a missing file took twice the CPU of
``driftline --help`` (benchmarks/RESULTS.md, issue 14).

:func:`install` gives each parameter of a command a converter that handles the
plain cases itself, with the same result as typer's adapter:

- a ``str`` value for a ``str`` parameter is itself;
- a ``Path`` parameter gets ``Path(value)``, then typer's own path checks
  (``typer._param_types.coerce_cli_path``: exists, readable, ... as declared);
- an ``int`` / ``float`` parameter without bounds takes an ``int`` / ``float``
  value as it is, and a plain decimal string (``12``, ``-3``, ``0.05``) by
  ``int()`` / ``float()``;
- a ``bool`` flag's value is already a bool (typer skips those itself; an unset
  ``--help`` is None, which typer's ``coerce`` returns without converting, but
  only after building the adapter);
- a ``list[...]`` of these, item by item.

Anything else (another type, bounds, a custom parser, a value such as ``1e-3``,
``abc`` or `` 3``) goes to typer's own converter, built as typer builds it, so
its result and its error message ("Input should be a valid integer, ...") are
typer's. tests/cli/test_cli_coercion.py compares both converters on every
parameter of every driftline command. Only this module touches typer's
internals (``typer._coercion``); :func:`install` does nothing with a typer
that has no such layer (it then converts with click's types, no pydantic).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

from typer._coercion import RuntimeParam, TypeDescriptor, build_runtime_param
from typer._param_types import coerce_cli_path

_INT = re.compile(r"-?[0-9]{1,18}", re.ASCII)
_FLOAT = re.compile(r"-?[0-9]{1,15}(\.[0-9]{1,15})?", re.ASCII)
_MISS = object()  # "not a plain case": typer's converter decides


def install(params: Iterable[Any]) -> None:
    """Give each of a command's parameters the converter below (once; idempotent)."""
    for param in params:
        descriptor = getattr(param, "type_descriptor", None)
        # typer builds its converter lazily into ``_runtime_param`` (None until first use)
        unset = getattr(param, "_runtime_param", 0) is None
        if isinstance(descriptor, TypeDescriptor) and unset and _plain(descriptor) is not None:
            param._runtime_param = PlainRuntimeParam(
                parameter_info=descriptor.parameter_info,
                annotation=descriptor.annotation,
                descriptor=descriptor,
            )


def _plain(descriptor: TypeDescriptor) -> type | None:
    """The item type (str, Path, int, float, bool) of a plain case, else None: typer's."""
    info = descriptor.parameter_info
    if descriptor.file_annotation is not None or info.parser is not None:
        return None
    annotation: Any = descriptor.annotation
    if descriptor.is_list:
        args = get_args(annotation)
        annotation = args[0] if len(args) == 1 else None
    if annotation in (int, float) and (info.min is not None or info.max is not None):
        return None
    if annotation in (str, int, float, bool):
        return annotation  # type: ignore[no-any-return]
    if annotation is Path and info.path_type is None:
        return Path
    return None


@dataclass(frozen=True)
class PlainRuntimeParam(RuntimeParam):
    """typer's ``RuntimeParam`` (None and multi-value handling are typer's ``coerce``)."""

    descriptor: TypeDescriptor

    def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
        item_type = _plain(self.descriptor)
        if self.descriptor.is_list:
            items = value if isinstance(value, (list, tuple)) else [value]
            done = [_convert(item_type, v, self.parameter_info, param, ctx) for v in items]
            if all(v is not _MISS for v in done):
                return done
        else:
            done_one = _convert(item_type, value, self.parameter_info, param, ctx)
            if done_one is not _MISS:
                return done_one
        return build_runtime_param(self.descriptor)._coerce_value(value, param=param, ctx=ctx)


def _convert(item_type: Any, value: Any, info: Any, param: Any, ctx: Any) -> Any:
    """``value`` converted as typer would, or _MISS when it is not a plain case."""
    if item_type is str:
        return value if type(value) is str else _MISS
    if item_type is bool:
        return value if type(value) is bool else _MISS  # a string ("yes", "0"): typer's
    if item_type is int:
        if type(value) is int:
            return value
        return int(value) if type(value) is str and _INT.fullmatch(value) else _MISS
    if item_type is float:
        if type(value) is float:
            return value
        return float(value) if type(value) is str and _FLOAT.fullmatch(value) else _MISS
    if item_type is Path:
        if type(value) is str and value:
            value = Path(value)
        if not isinstance(value, Path):
            return _MISS
        return coerce_cli_path(value, info, path_type=Path, param=param, ctx=ctx)
    return _MISS
