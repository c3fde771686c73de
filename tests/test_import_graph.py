"""The intended dependency rules between driftline's packages, checked over the import graph.

Every ``import`` / ``from ... import`` in src/driftline counts, also those inside
functions and under ``TYPE_CHECKING``: a lazy import still couples the packages.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "driftline"

#: package -> the driftline packages it must never import, and why.
FORBIDDEN: dict[str, tuple[frozenset[str], str]] = {
    "stats": (
        frozenset({"server", "store", "sdk", "alerts", "report", "windows", "demo", "cli"}),
        "the statistics core imports no server, store, SDK, alert or rendering code",
    ),
    "schema": (
        frozenset({"server", "store", "sdk", "alerts", "report", "windows", "demo", "cli"}),
        "the statistics core imports no server, store, SDK, alert or rendering code",
    ),
    "sdk": (
        frozenset({"server", "store", "alerts", "windows", "report", "stats", "demo", "cli"}),
        "the SDK imports none of server, store, alerts (it runs inside model services)",
    ),
    "alerts": (
        frozenset({"server", "sdk", "windows", "demo", "cli"}),
        "alerts import no server code and borrow no utility from the SDK",
    ),
    "_utils": (
        frozenset(
            {"stats", "schema", "server", "store", "sdk", "alerts", "report", "windows", "cli"}
        ),
        "the neutral utilities import no other driftline package",
    ),
}

#: Known imports of another package's private module (package -> module), each with its reason.
PRIVATE_ALLOWED: dict[tuple[str, str], str] = {
    ("integrations", "driftline.sdk._ids"): "the FastAPI middleware is part of the SDK surface",
    ("report", "driftline.stats.performance._labels"): "label normalisation, stats-owned",
    ("server", "driftline.report._html_data"): "the dashboard embeds the report's chart data",
    ("windows", "driftline.stats._codec"): "windows persist profile parts in the stats codec",
}


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def imports_of(src: Path) -> list[tuple[str, str, int]]:
    """(importing module, imported driftline module, line) for every import under ``src``."""
    found: list[tuple[str, str, int]] = []
    for path in sorted(src.rglob("*.py")):
        rel = path.relative_to(src.parent).with_suffix("")
        module = ".".join(rel.parts).removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                continue
            found += [(module, t, node.lineno) for t in targets if t.startswith("driftline.")]
    return found


def violations(src: Path) -> list[str]:
    """Every import that breaks a rule, as 'module:line imports target (rule)'."""
    out: list[str] = []
    for module, target, line in imports_of(src):
        source_pkg, target_pkg = _package(module), _package(target)
        if source_pkg == target_pkg:
            continue
        banned, why = FORBIDDEN.get(source_pkg, (frozenset(), ""))
        if target_pkg in banned:
            out.append(f"{module}:{line} imports {target} ({why})")
        private = any(p.startswith("_") for p in target.split(".")[2:])
        if private and (source_pkg, target) not in PRIVATE_ALLOWED:
            out.append(f"{module}:{line} imports {target} (another package's private module)")
    return out


def test_the_package_keeps_the_dependency_rules() -> None:
    assert violations(SRC) == []


def test_sdk_windows_alerts_and_server_share_the_neutral_utilities() -> None:
    users = {_package(m) for m, t, _ in imports_of(SRC) if _package(t) == "_utils"}
    assert {"sdk", "alerts", "windows", "server"} <= users


def test_every_allowed_private_import_is_still_used() -> None:
    used = {(_package(m), t) for m, t, _ in imports_of(SRC)}
    assert set(PRIVATE_ALLOWED) <= used, "drop the allowances nothing needs any more"


@pytest.mark.parametrize(
    ("file", "line", "rule"),
    [
        ("stats/quality/ranges.py", "from driftline.server.app import App", "statistics core"),
        ("sdk/monitor.py", "from driftline.alerts.engine import AlertEngine", "the SDK"),
        ("sdk/events.py", "    import driftline.store.sqlite", "the SDK"),
        ("alerts/engine.py", "from driftline.server.settings import Settings", "no server"),
        ("alerts/rules.py", "from driftline.sdk.metrics import LATENCY_BUCKETS", "from the SDK"),
        ("_utils/clock.py", "from driftline.sdk import Monitor", "neutral utilities"),
        ("server/app.py", "from driftline.sdk._ids import uuid7_hex", "private module"),
    ],
    ids=["stats->server", "sdk->alerts", "sdk->store-lazy", "alerts->server", "alerts->sdk",
         "utils->sdk", "server->sdk-private"],
)  # fmt: skip
def test_a_forbidden_import_is_caught(tmp_path: Path, file: str, line: str, rule: str) -> None:
    copy = tmp_path / "driftline"
    shutil.copytree(SRC, copy, ignore=shutil.ignore_patterns("__pycache__", "*.html", "*.js"))
    target = copy / file
    body = target.read_text()
    if line.startswith("    "):  # a lazy import, inside a function
        body += f"\n\ndef _added() -> None:\n{line}\n"
    else:
        body += f"\n{line}\n"
    target.write_text(body)
    found = violations(copy)
    assert len(found) == 1, found
    assert rule in found[0]
    assert found[0].startswith("driftline." + file.removesuffix(".py").replace("/", "."))
