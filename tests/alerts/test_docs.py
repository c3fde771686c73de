"""Every example in docs/alerts.md runs: Python blocks execute, YAML blocks validate."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from driftline.alerts import parse_alerts_config

DOC = Path(__file__).resolve().parents[2] / "docs" / "alerts.md"
PYTHON = re.compile(r"```python\n(.*?)```", re.DOTALL)
YAML = re.compile(r"```yaml\n(.*?)```", re.DOTALL)


def _blocks(pattern: re.Pattern[str]) -> list[str]:
    return pattern.findall(DOC.read_text())


@pytest.mark.parametrize("code", _blocks(PYTHON), ids=lambda c: c.splitlines()[0][:40])
def test_python_example_runs(code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    exec(compile(code, str(DOC), "exec"), {"__name__": "__doc_example__"})


@pytest.mark.parametrize("text", _blocks(YAML), ids=lambda t: t.splitlines()[1].strip()[:40])
def test_yaml_example_is_valid(text: str) -> None:
    data = yaml.safe_load(text)
    if "collector" in data:  # a whole driftline.yaml: valid for `driftline serve --config`
        from driftline.server.config import parse_serve_config

        assert parse_serve_config(data).alerts is not None
        return
    section = data["alerts"]
    names = {"ops", "data-owners", "ml-owners"}
    route = section.get("route")
    if route is not None:  # routing examples bring their receivers
        names = {r["name"] for r in section["receivers"]}
    section.setdefault("receivers", [{"name": n} for n in sorted(names)])
    parse_alerts_config(section)


def test_metric_table_matches_the_code() -> None:
    from driftline.alerts import METRICS

    text = DOC.read_text()
    for name in METRICS:
        assert f"`{name}`" in text, name
