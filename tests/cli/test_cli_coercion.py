"""Option values converted without pydantic give typer's own results and errors.

driftline/_utils/cli_coercion.py converts plain values (a string, a path, a
decimal number) itself and hands everything else to typer's converter; here
both run on every parameter of every driftline command, on plain values and on
the awkward ones, and must agree: same value and type, or the same error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer._click.exceptions import BadParameter
from typer._coercion import build_runtime_param

from driftline._utils.cli_coercion import PlainRuntimeParam, install
from driftline.cli import app


def _params() -> list[tuple[str, Any, Any]]:
    """(command path, parameter, a context of its command) for every driftline command."""
    found: list[tuple[str, Any, Any]] = []

    def walk(command: Any, path: str) -> None:
        ctx = command.context_class(command, info_name=path)
        for param in command.get_params(ctx):
            found.append((f"{path} {param.name}", param, ctx))
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, f"{path} {name}")

    walk(typer.main.get_command(app), "driftline")
    return found


PARAMS = _params()

VALUES: dict[Any, list[Any]] = {
    str: ["abc", "", " x ", "-", "ümlaut", "0.5", b"bytes"],
    int: ["12", "-3", "007", "+3", " 3", "1_000", "1e3", "3.0", "abc", "", "٣",
          "123456789012345678", "1234567890123456789012", 5, 0, True, 2.0],
    float: ["0.05", "1", "-2.5", "007.50", "1e-3", ".5", "5.", "nan", "-inf", "abc", "",
            "1234567890.12345", 0.05, 3, True],
    bool: [True, False, "yes", "0", ""],
    Path: ["a.csv", "", "-", "~/x", "{file}", "{dir}", Path("p.csv"), 3],
}  # fmt: skip


def _outcome(runtime: Any, value: Any, param: Any, ctx: Any) -> tuple[str, str]:
    try:
        result = runtime.coerce(value, param=param, ctx=ctx)
    except BadParameter as exc:
        return "error", exc.format_message()
    return type(result).__name__, repr(result)  # repr: nan == nan


def _values(descriptor: Any, tmp_path: Path) -> list[Any]:
    item = descriptor.annotation
    if descriptor.is_list:
        (item,) = item.__args__
    samples = [
        v.format(file=tmp_path / "f.csv", dir=tmp_path) if isinstance(v, str) else v
        for v in VALUES[item]
    ]
    if descriptor.is_list:
        return [None, (), [], tuple(samples[:3]), [samples[0]], samples[0], tuple(samples)]
    return [None, *samples]


@pytest.mark.parametrize(("where", "param", "ctx"), PARAMS, ids=[p[0] for p in PARAMS])
def test_plain_conversion_equals_typers(where: str, param: Any, ctx: Any, tmp_path: Path) -> None:
    (tmp_path / "f.csv").write_text("a\n1\n")
    install([param])
    plain = param._runtime_param
    typers = build_runtime_param(param.type_descriptor)
    descriptor = param.type_descriptor
    if plain is None:  # a parameter this module leaves to typer (bounds, a parser, ...)
        assert descriptor.parameter_info.min is not None or descriptor.annotation not in VALUES
        return
    assert isinstance(plain, PlainRuntimeParam)
    for value in _values(descriptor, tmp_path):
        assert _outcome(plain, value, param, ctx) == _outcome(typers, value, param, ctx), value


def test_every_kind_of_parameter_is_covered() -> None:
    """The commands use these types; a new one needs its samples in VALUES (or is typer's)."""
    kinds = set()
    for _, param, _ in PARAMS:
        d = param.type_descriptor
        kinds.add((d.annotation, d.parameter_info.min is not None))
    plain_kinds = {a for a, bounded in kinds if not bounded}
    assert {str, int, float, bool, Path, list[str]} <= plain_kinds
    assert all(k in VALUES or getattr(k, "__args__", (None,))[0] in VALUES for k in plain_kinds)
