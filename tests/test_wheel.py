"""What the built wheel ships: typed, the light entry point, no test helpers."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(out), str(ROOT)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (built,) = out.glob("driftline-*.whl")
    return zipfile.ZipFile(built)


def test_the_wheel_is_typed_and_ships_no_test_helper(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    assert "driftline/py.typed" in names
    # the throw-away PostgreSQL databases of the tests live in tests/postgres_db.py
    assert "driftline/store/testing.py" not in names
    assert not any(n.endswith(("/testing.py", "/conftest.py")) for n in names)
    assert not any(n.startswith(("tests/", "examples/", "benchmarks/")) for n in names)
    assert "driftline/sdk/http_sink.py" in names and "driftline/alerts/replay.py" in names


def test_the_wheel_declares_the_light_core_and_the_entry_point(wheel: zipfile.ZipFile) -> None:
    meta = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
    text = wheel.read(meta).decode()
    core = [
        line.split(":", 1)[1].strip()
        for line in text.splitlines()
        if line.startswith("Requires-Dist:") and "extra ==" not in line
    ]
    assert sorted(c.split(">")[0] for c in core) == ["httpx", "numpy", "prometheus-client"]
    entry = next(n for n in wheel.namelist() if n.endswith("entry_points.txt"))
    assert "driftline = driftline.__main__:main" in wheel.read(entry).decode()
