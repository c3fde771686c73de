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


def test_the_signals_doc_lists_every_signal_as_catalogued() -> None:
    """docs/signals.md's table is driftline.signals.SIGNALS, row for row."""
    from driftline.signals import SIGNALS

    rows = {}
    for line in (ROOT / "docs/signals.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0].startswith("`"):
            rows[cells[0].strip("`").rstrip("*")] = cells
    for s in SIGNALS:
        assert s.kind in rows, f"docs/signals.md lacks a row for signal {s.kind!r}"
        _, fam, alert, page, doc = rows.pop(s.kind)
        assert fam == ", ".join(f"`{f}`" for f in s.families), s.kind
        assert alert == (", ".join(f"`{a}`" for a in s.alert) or "-"), s.kind
        assert (page, doc) == (s.page, s.doc), s.kind
    assert not rows, f"docs/signals.md lists signals the catalogue does not: {sorted(rows)}"
