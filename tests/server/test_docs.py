"""The Python examples of docs/collector.md run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "collector.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.DOTALL)


@pytest.mark.parametrize("code", BLOCKS, ids=[f"collector.md#{i + 1}" for i in range(len(BLOCKS))])
def test_collector_doc_example_runs(
    code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "docs/collector.md", "exec"), {"__name__": "__doc_example__"})
