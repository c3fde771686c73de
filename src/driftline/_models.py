"""The one strict base of driftline's configuration models, and the one error formatter.

Every section of driftline.yaml (``check:``, ``collector:``, ``alerts:``) is a
:class:`Strict` model: unknown keys are errors, values are frozen, a field
with an alias (``from``, ``for``) is also accepted by its name.
:func:`describe` turns pydantic's errors into one line each that names the
dotted key, the bad value and what is allowed.
"""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError


class Strict(BaseModel):
    """Base of every configuration model: unknown keys are errors; instances are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def describe(prefix: str, exc: ValidationError, root: type[BaseModel]) -> str:
    """One line per pydantic error: the dotted key, the bad value and what is allowed.

    ``prefix`` is the dotted key of ``root`` in the file ("" at the top level);
    an unknown key lists the keys allowed where it was found.
    """
    lines = []
    for err in exc.errors():
        loc = [str(x) for x in err["loc"] if not str(x).startswith(("function-", "list[", "dict["))]
        loc = [x for x in loc if x not in ("int", "str", "float", "PresetOverride")]
        key = ".".join([p for p in (prefix, *loc) if p]) or prefix
        if err["type"] == "extra_forbidden":
            parent = _model_at(err["loc"][:-1], root)
            allowed = ", ".join(_keys(parent)) if parent is not None else "see the docs"
            lines.append(f"unknown key {key!r}; allowed: {allowed}")
            continue
        msg = str(err["msg"]).removeprefix("Value error, ")
        value = err.get("input")
        if isinstance(value, dict) and err["type"] == "value_error":
            lines.append(f"key {key!r}: {msg}")
        else:
            lines.append(f"key {key!r}: value {value!r} is not allowed: {msg}")
    return "; ".join(lines)


def _keys(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


def _model_at(loc: tuple[Any, ...], root: type[BaseModel]) -> type[BaseModel] | None:
    model = root
    for part in loc:
        if isinstance(part, int) or (part not in model.model_fields and not _by_alias(model, part)):
            continue
        name = part if part in model.model_fields else _by_alias(model, part)
        assert name is not None
        found = _submodel(model.model_fields[name].annotation)
        if found is None:
            return None
        model = found
    return model


def _by_alias(model: type[BaseModel], alias: str) -> str | None:
    for name, f in model.model_fields.items():
        if f.alias == alias:
            return name
    return None


def _submodel(tp: Any) -> type[BaseModel] | None:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _submodel(typing.get_args(tp)[0])
    if origin in (list, dict, typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            found = _submodel(arg)
            if found is not None:
                return found
    return None


__all__ = ["Strict", "describe"]
