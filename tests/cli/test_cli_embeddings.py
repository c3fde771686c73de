"""`driftline report` and `driftline check` on Parquet files with embedding, text and image
columns (issue 20): real sentence embeddings and questions (the demo's RAG corpus: Python
documentation questions, then questions about data sets), real photos (scikit-learn's)."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from driftline.demo.rag import Corpus

from .test_commands import run

pytest.importorskip("PIL")


def _pngs(n: int, seed: int, scale: float = 1.0) -> list[bytes]:
    from PIL import Image
    from sklearn.datasets import load_sample_images

    photos = load_sample_images().images
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        im = photos[rng.integers(len(photos))]
        y, x = rng.integers(0, im.shape[0] - 32), rng.integers(0, im.shape[1] - 32)
        crop = (im[y : y + 32, x : x + 32] * scale).astype(np.uint8)
        buf = io.BytesIO()
        Image.fromarray(crop).save(buf, format="PNG")
        out.append(buf.getvalue())
    return out


def _write(path: Path, texts: list[str], vectors: np.ndarray, images: list[bytes]) -> Path:
    flat = pa.array(vectors.astype(np.float32).ravel())
    table = pa.table(
        {
            "question": pa.array(texts, pa.string()),
            "q_vec": pa.FixedSizeListArray.from_arrays(flat, vectors.shape[1]),
            "photo": pa.array(images, pa.binary()),
        }
    )
    pq.write_table(table, path)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    c = Corpus.load()
    d = tmp_path_factory.mktemp("emb")
    rng = np.random.default_rng(11)
    q, qv = c.questions, c.vectors["questions"]
    perm = rng.permutation(len(q))
    ref, same = perm[:100], perm[100:]
    ood = rng.permutation(len(c.ood))[:100]
    schema = d / "schema.yaml"
    schema.write_text("question: {kind: text}\nphoto: {kind: image}\n")
    return {
        "schema": schema,
        "ref": _write(d / "ref.parquet", [q[i] for i in ref], qv[ref], _pngs(100, 1)),
        "same": _write(d / "same.parquet", [q[i] for i in same], qv[same], _pngs(100, 2)),
        # questions about data sets, and darker photos
        "cur": _write(
            d / "cur.parquet", [c.ood[i] for i in ood], c.vectors["ood"][ood], _pngs(100, 3, 0.5)
        ),
    }


def test_report_shows_the_embedding_text_and_image_sections(
    files: dict[str, Path], tmp_path: Path
) -> None:
    out, js = tmp_path / "r.html", tmp_path / "r.json"
    code, stdout, _ = run(
        "report", files["ref"], files["cur"], "--schema", files["schema"], "-o", out, "--json", js
    )
    assert code == 0, stdout
    report = json.loads(js.read_text())
    cols = report["columns"]
    # the fixed-size list column is read as vectors without a schema entry
    assert cols["q_vec"]["kind"] == "embedding" and cols["q_vec"]["drift"]["drifted"] is True
    assert cols["q_vec"]["summary"]["current"]["dimension"] == 384
    assert set(cols["q_vec"]["metrics"]) >= {"mmd", "centroid_cosine", "out_of_domain"}
    assert cols["q_vec"]["projection"]["method"] == "PCA of both samples"
    assert cols["question"]["kind"] == "text"
    assert "question.words" in cols["question"]["descriptors"]
    assert cols["photo"]["kind"] == "image"
    assert cols["photo.brightness"]["drift"]["drifted"] is True  # the darker photos
    assert cols["photo.width"]["drift"]["drifted"] is False  # all 32 x 32
    # a text or image column counts once, its drifted descriptors named under it
    assert {"q_vec", "photo"} <= set(report["dataset"]["drifted_columns"])
    assert "photo.brightness" in report["dataset"]["drifted_descriptors"]["photo"]
    assert "photo.width" not in report["dataset"]["drifted_descriptors"]["photo"]
    n_sent = 3  # q_vec, question, photo
    assert report["dataset"]["n_columns"] == n_sent
    assert f" of {n_sent} columns drifted" in stdout
    html = out.read_text()
    for what in ("q_vec", "vector norms, quantile bins of the reference", "PCA of both samples",
                 "question.words", "photo.brightness"):  # fmt: skip
        assert what in html, what
    assert stdout.startswith("DRIFT")
    # no numeric or categorical column: the multivariate methods say so, not "too few rows: 0"
    assert "0 usable feature column(s)" in stdout and "too few rows" not in stdout


def test_check_fails_naming_the_vector_text_and_image_columns(
    files: dict[str, Path], tmp_path: Path
) -> None:
    junit = tmp_path / "j.xml"
    code, stdout, _ = run(
        "check", files["ref"], files["cur"], "--schema", files["schema"], "--junit", junit
    )
    assert code == 1
    assert stdout.startswith("FAIL") and "q_vec" in stdout and "photo.brightness" in stdout
    assert "question: descriptor_range" in stdout and "photo: descriptor_range" in stdout
    root = ET.parse(junit).getroot()
    drift = root.find("testsuite[@name='driftline.drift']")
    assert drift is not None
    failed = {c.get("name") for c in drift.iter("testcase") if c.find("failure") is not None}
    # one drift check per column sent: the image column's names its drifted descriptor
    assert {"q_vec", "photo"} <= failed and not any("." in str(n) for n in failed), failed
    messages = {
        c.get("name"): c.find("failure").get("message", "")  # type: ignore[union-attr]
        for c in drift.iter("testcase")
        if c.find("failure") is not None
    }
    assert "mmd" in messages["q_vec"].lower(), messages
    assert "photo.brightness" in messages["photo"], messages
    # one grouped range result per text/image column, none per descriptor
    quality = root.find("testsuite[@name='driftline.quality']")
    assert quality is not None
    names = {c.get("name") for c in quality.iter("testcase")}
    assert not any(n and n.startswith(("question.", "photo.")) for n in names), names


def test_check_passes_two_samples_of_the_same_traffic(files: dict[str, Path]) -> None:
    code, stdout, _ = run(
        "check", files["ref"], files["same"], "--schema", files["schema"],
        "--fail-on", "drift,quality",
    )  # fmt: skip
    assert code == 0, stdout
    assert stdout.startswith("PASS")
