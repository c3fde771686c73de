"""Every Python example in the README and the core docs runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [
    "README.md",
    "docs/drift.md",
    "docs/embeddings.md",
    "docs/llm.md",
    "docs/profiles.md",
    "docs/quality.md",
    "docs/versions.md",
    "docs/service.md",
]
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def _examples() -> list[tuple[str, str]]:
    out = []
    for doc in DOCS:
        path = ROOT / doc
        if path.exists():
            for i, code in enumerate(BLOCK.findall(path.read_text())):
                out.append((f"{doc}#{i + 1}", code))
    return out


@pytest.mark.parametrize(("where", "code"), _examples(), ids=[w for w, _ in _examples()])
def test_doc_example_runs(
    where: str, code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    exec(compile(code, where, "exec"), {"__name__": "__doc_example__"})
