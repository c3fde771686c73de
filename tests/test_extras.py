"""The light install: the SDK runs on the core dependencies; everything else is an extra.

A missing extra is one line naming it, never a traceback. The real light
install (a fresh virtualenv with ``pip install driftline``) is measured by
benchmarks/startup.py; here the optional modules are hidden from a real
interpreter (``sys.modules[name] = None`` makes their import fail as if absent).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import tomllib

from driftline.errors import EXTRAS

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _python(code: str, *, hide: frozenset[str] | set[str] = frozenset()) -> Any:
    prelude = f"import sys\nfor _m in {sorted(hide)!r}:\n    sys.modules[_m] = None\n"
    return subprocess.run(
        [sys.executable, "-c", prelude + code], capture_output=True, text=True, timeout=120
    )


def _cli(argv: list[str], *, hide: set[str]) -> subprocess.CompletedProcess[str]:
    code = f"sys.argv = {['driftline', *argv]!r}\nfrom driftline.__main__ import main\nmain()\n"
    return _python(code, hide=hide)


def test_the_core_dependencies_are_what_the_sdk_needs() -> None:
    core = {d.split(">")[0].split("[")[0] for d in PYPROJECT["dependencies"]}
    assert core == {"numpy", "prometheus-client", "httpx"}


def _reached(extra: str) -> set[str]:
    """The extras ``driftline[extra]`` installs, following its ``driftline[...]`` entries."""
    seen, todo = set(), [extra]
    while todo:
        name = todo.pop()
        seen.add(name)
        for dep in PYPROJECT["optional-dependencies"][name]:
            if dep.startswith("driftline["):
                todo += [n for n in dep[len("driftline[") : -1].split(",") if n not in seen]
    return seen


def test_every_extra_named_in_a_hint_exists_and_all_installs_them() -> None:
    extras = set(PYPROJECT["optional-dependencies"])
    assert set(EXTRAS.values()) <= extras
    assert _reached("all") == extras - {"dev", "spark"}
    assert _reached("dev") >= _reached("all"), "make test and make demo need every extra"
    assert _reached("server") >= {"cli", "report", "profile"}


def test_the_sdk_runs_with_no_extra_installed() -> None:
    code = (
        "from driftline import Monitor\n"
        "from driftline.sdk import MemorySink\n"
        "sink = MemorySink()\n"
        "m = Monitor('fraud', version='1', sink=sink)\n"
        "with m.observe({'amount': 12.5, 'country': 'FR'}) as obs:\n"
        "    obs.record(prediction='ok', scores={'ok': 0.9, 'fraud': 0.1})\n"
        "m.close()\n"
        "loaded = {n.split('.')[0] for n, mod in sys.modules.items() if mod is not None}\n"
        f"print(len(sink.records('prediction')), sorted(loaded & {set(EXTRAS)!r}))\n"
    )
    done = _python(code, hide=set(EXTRAS))
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[0] == "1"
    assert done.stdout.strip().endswith("[]")


@pytest.mark.parametrize(
    ("argv", "hide", "extra"),
    [
        (["serve", "--port", "0"], {"uvicorn", "fastapi"}, "server"),
        (["--help"], {"typer"}, "cli"),
        (["report", "ref.csv", "cur.csv"], {"plotly"}, "report"),
    ],
    ids=["serve-without-server", "help-without-cli", "report-without-plotly"],
)
def test_a_missing_extra_is_one_line_naming_it(
    tmp_path: Path, argv: list[str], hide: set[str], extra: str
) -> None:
    for name in ("ref.csv", "cur.csv"):
        (tmp_path / name).write_text("a,b\n1,x\n2,y\n")
    argv = [str(tmp_path / a) if a.endswith(".csv") else a for a in argv]
    done = _cli(argv, hide=hide)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert f"pip install 'driftline[{extra}]'" in lines[0]
    assert "Traceback" not in done.stderr


def test_the_python_api_names_the_missing_extra() -> None:
    done = _python("import driftline\ndriftline.profile({'a': [1.0, 2.0]})\n", hide={"pyarrow"})
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        "driftline.errors.MissingDependencyError: this needs the 'profile' extra "
        "(module 'pyarrow' is not installed): pip install 'driftline[profile]'"
    )


def test_help_and_check_start_without_the_heavy_libraries() -> None:
    """Also no pydantic (typer coerces an unset --help through a TypeAdapter) and no rich
    help renderer (rich.markdown, markdown_it): the help is plain (driftline/_utils/cli.py)."""
    commands = (["--help"], ["check", "--help"], ["serve", "--help"], ["alerts", "test", "--help"])
    for argv in commands:
        code = (
            f"sys.argv = {['driftline', *argv]!r}\n"
            "from driftline.__main__ import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(sorted(sys.modules))\n"
        )
        done = _python(code)
        assert "Usage: driftline" in done.stdout, (argv, done.stdout, done.stderr)
        modules = set(eval(done.stdout.strip().splitlines()[-1]))
        loaded = {n.split(".")[0] for n in modules}
        heavy = {"scipy", "pyarrow", "numba", "numpy", "sqlalchemy", "fastapi", "plotly"}
        assert loaded & (heavy | {"pydantic", "markdown_it"}) == set(), argv
        assert "typer.rich_utils" not in modules, argv


@pytest.mark.parametrize(
    "argv",
    [
        ["check", "missing-ref.csv", "missing-cur.csv"],
        ["check", "missing-ref.csv", "missing-cur.csv", "--seed", "3", "--target", "y",
         "--scores", "a", "--scores", "b", "--fail-on", "drift", "--json", "out.json"],
        ["report", "missing-ref.csv", "missing-cur.csv", "--alpha", "0.01", "--title", "t"],
        ["profile", "missing-ref.csv", "-o", "out.dlprof", "--seed", "3"],
    ],
    ids=["check", "check-with-options", "report-with-options", "profile"],
)  # fmt: skip
def test_a_missing_input_is_said_before_the_heavy_imports(argv: list[str]) -> None:
    """The option values are converted without pydantic (driftline/_utils/cli_coercion.py),
    check's default settings (a pydantic model) and the report's renderers (scipy) come after
    the inputs are checked, and Rich is imported to print the error, not before."""
    code = (
        f"sys.argv = {['driftline', *argv]!r}\n"
        "from driftline.__main__ import main\n"
        "import atexit\n"
        "atexit.register(lambda: print(sorted(sys.modules)))\n"
        "main()\n"
    )
    done = _python(code)
    assert done.returncode == 2, done.stderr
    what = "DATA" if argv[0] == "profile" else "REFERENCE"
    assert done.stderr.strip() == f"error: {what}: cannot read missing-ref.csv: no such file"
    modules = set(eval(done.stdout.strip().splitlines()[-1]))
    loaded = {n.split(".")[0] for n in modules}
    assert loaded & {"pydantic", "scipy", "pyarrow", "numpy", "plotly", "markdown_it"} == set()
    assert {"typer._adapters", "driftline.config", "rich.progress"} & modules == set()


def test_every_extra_is_documented() -> None:
    page = (ROOT / "docs" / "install.md").read_text()
    for extra in PYPROJECT["optional-dependencies"]:
        if extra != "dev":
            assert f"`{extra}`" in page, f"extra {extra!r} is not in docs/install.md"


def test_the_documented_message_is_the_real_one() -> None:
    done = _cli(["serve", "--port", "0"], hide={"uvicorn"})
    line = done.stderr.strip()
    assert line.startswith("driftline serve: this needs the 'server' extra")
    assert line in (ROOT / "docs" / "install.md").read_text()
