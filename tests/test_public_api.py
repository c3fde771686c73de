"""The public surface, pinned: what ``__all__`` lists is exactly what each package exports.

Modelled on httpx's tests/test_exported_members.py. A name added to a package
without a place in ``__all__`` (or listed but not importable) fails here.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import driftline

PACKAGES = [
    "driftline",
    "driftline.sdk",
    "driftline.alerts",
    "driftline.report",
    "driftline.windows",
    "driftline.stats.drift",
    "driftline.errors",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_unique_and_resolves(name: str) -> None:
    """(ruff's RUF022 keeps each ``__all__`` sorted.)"""
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert len(exported) == len(set(exported))
    for member in exported:
        assert getattr(module, member) is not None, f"{name}.{member} does not resolve"


@pytest.mark.parametrize("name", PACKAGES)
def test_every_public_object_is_in_all(name: str) -> None:
    module = importlib.import_module(name)
    for member in sorted(set(dir(module)) - set(module.__all__)):
        if member.startswith("_"):
            continue
        value = getattr(module, member)
        if inspect.ismodule(value):
            continue
        defined_in = getattr(value, "__module__", None) or ""
        assert not defined_in.startswith("driftline"), (
            f"{name}.{member} is public but not in __all__"
        )


@pytest.mark.parametrize(
    "name", ["driftline", "driftline.report", "driftline.alerts", "driftline.sdk"]
)
def test_the_lazy_table_and_the_type_checking_imports_match_all(name: str) -> None:
    """Lazy packages load names on first use; the table, typing imports and __all__ agree:
    every public name is either bound at import (eager) or in the lazy table, not both."""
    module = importlib.import_module(name)
    tree = ast.parse(Path(str(module.__file__)).read_text())
    typed: dict[str, str] = {}
    eager: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for stmt in node.body:
                assert isinstance(stmt, ast.ImportFrom)
                typed |= {alias.asname or alias.name: str(stmt.module) for alias in stmt.names}
        elif isinstance(node, ast.ImportFrom | ast.Import):
            eager |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            eager.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            eager |= {t.id for t in targets if isinstance(t, ast.Name)}
    lazy = dict(module._LAZY)
    assert set(lazy) == set(typed)
    assert not set(lazy) & eager, "a name both imported eagerly and in the lazy table"
    assert set(module.__all__) == set(lazy) | (eager & set(module.__all__))
    for export, home in lazy.items():
        assert getattr(importlib.import_module(home), export) is getattr(module, export)


def test_a_submodule_named_like_an_export_does_not_replace_it() -> None:
    import driftline.report
    import driftline.report.compare

    assert callable(driftline.report.compare)
    assert driftline.report.compare is driftline.compare
    assert driftline.report.compare.__module__ == "driftline.report.compare"


def test_every_error_is_a_driftline_error() -> None:
    import driftline.errors as errors

    for member in errors.__all__:
        value = getattr(errors, member)
        if inspect.isclass(value):
            assert issubclass(value, errors.DriftlineError)
            assert member in (errors.__doc__ or ""), f"{member} is not drawn in the tree"


def test_the_package_is_typed() -> None:
    assert (Path(driftline.__file__).parent / "py.typed").is_file()


def _modules_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return {line.split(".")[0] for line in out.splitlines()}


@pytest.mark.parametrize("statement", ["import driftline.sdk", "from driftline import Monitor"])
def test_the_sdk_loads_no_heavy_dependency(statement: str) -> None:
    loaded = _modules_after(statement)
    heavy = {"scipy", "pyarrow", "numba", "pydantic", "pandas", "polars", "sqlalchemy", "fastapi"}
    assert loaded & heavy == set()


def _loaded_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return set(out.splitlines())


#: What a plain Monitor never needs, so `import driftline.sdk` must not load it (each costs
#: start-up time in every model service): the LLM/RAG code and judges, the Router (asyncio,
#: a thread pool), the HTTP sink, OpenTelemetry, numpy (batches load it). (urllib.request is
#: not listed: prometheus_client's exposition module loads it.)
NOT_FOR_A_PLAIN_MONITOR = {
    "driftline.sdk.judges",
    "driftline.sdk.llm",
    "driftline._utils.llm",
    "driftline.sdk.router",
    "driftline.sdk.http_sink",
    "driftline.sdk.otel",
    "asyncio",
    "numpy",
    "scipy",
    "pydantic",
    "httpx",
}


@pytest.mark.parametrize("statement", ["import driftline.sdk", "from driftline import Monitor"])
def test_a_plain_monitor_loads_no_llm_judge_router_or_numpy_module(statement: str) -> None:
    loaded = _loaded_after(statement)
    assert "driftline.sdk.monitor" in loaded
    assert loaded & NOT_FOR_A_PLAIN_MONITOR == set()


def test_the_lazily_loaded_sdk_names_still_resolve() -> None:
    code = (
        "import sys, driftline.sdk as s; s.Router, s.HTTPJudge, s.Retrieved, s.HTTPSink; "
        "print('\\n'.join(sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(out.stdout.splitlines())
    assert {"driftline.sdk.router", "driftline.sdk.judges", "driftline.sdk.llm"} <= loaded


def test_importing_driftline_loads_nothing_heavy() -> None:
    loaded = _modules_after("import driftline")
    assert loaded & {"scipy", "pyarrow", "numba", "pydantic", "numpy", "sqlalchemy"} == set()


def test_every_error_class_in_the_package_is_in_the_one_tree() -> None:
    import driftline.errors as errors

    src = Path(driftline.__file__).parent
    found: dict[str, str] = {}
    for path in src.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and node.name.endswith("Error"):
                module = ".".join(path.relative_to(src.parent).with_suffix("").parts)
                found[node.name] = module
    assert {"SinkError", "NotificationError", "BodyError", "ForbiddenError"} <= set(found)
    for name, module in sorted(found.items()):
        if module.startswith("driftline.demo"):
            continue  # the demo's simulated model failures are not driftline errors
        assert name in (errors.__doc__ or ""), f"{module}.{name} is not drawn in errors.py"
        cls = getattr(importlib.import_module(module), name)
        assert issubclass(cls, errors.DriftlineError), f"{module}.{name}"
