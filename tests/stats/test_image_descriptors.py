"""Image columns: descriptors per image on scikit-learn's real sample images and digits."""

from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
import pytest
from scipy import ndimage

import driftline
from driftline.schema import Kind
from driftline.stats.descriptors import descriptors_for

pytest.importorskip("PIL")
from PIL import Image
from sklearn.datasets import load_digits, load_sample_images


@pytest.fixture(scope="module")
def photos() -> list[np.ndarray]:
    return list(load_sample_images().images)  # china.jpg, flower.jpg (uint8, 427 x 640 x 3)


def _crops(photos: list[np.ndarray], n: int, seed: int, size: int = 48) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        im = photos[rng.integers(len(photos))]
        y, x = rng.integers(0, im.shape[0] - size), rng.integers(0, im.shape[1] - size)
        out.append(im[y : y + size, x : x + size])
    return np.stack(out)


def _png(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    return buf.getvalue()


def _direct(rgb_u8: np.ndarray) -> dict[str, float]:
    x = rgb_u8.astype(np.float64) / 255
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    gray = 0.299 * r + 0.587 * g + 0.114 * b
    rg, yb = r - g, 0.5 * (r + g) - b
    return {
        "width": x.shape[1],
        "height": x.shape[0],
        "aspect": x.shape[1] / x.shape[0],
        "brightness": gray.mean(),
        "contrast": gray.std(),
        "colourfulness": np.sqrt(rg.std() ** 2 + yb.std() ** 2)
        + 0.3 * np.sqrt(rg.mean() ** 2 + yb.mean() ** 2),
        "blur": ndimage.laplace(gray)[1:-1, 1:-1].var(),
        "mean_red": r.mean(),
        "mean_green": g.mean(),
        "mean_blue": b.mean(),
    }


def test_each_descriptor_is_its_definition_on_real_photos(photos) -> None:
    whole = np.stack([p[:400, :600] for p in photos])  # both photos, one shape
    values = pa.FixedShapeTensorArray.from_numpy_ndarray(whole)
    got = {d.name: d.compute(values) for d in descriptors_for("image")}
    assert set(got) == set(_direct(whole[0]))
    for i, img in enumerate(whole):
        for name, want in _direct(img).items():
            assert got[name][i] == pytest.approx(want, rel=1e-9), name
    # encoded files give the same numbers (PNG is lossless)
    files = pa.array([_png(img) for img in whole], type=pa.binary())
    for d in descriptors_for("image"):
        np.testing.assert_allclose(d.compute(files), got[d.name], rtol=1e-9)


def test_darker_and_blurrier_images_drift_on_their_descriptors(photos) -> None:
    ref = _crops(photos, 150, 1)
    same = _crops(photos, 150, 2)
    dark = (_crops(photos, 150, 3) * 0.6).astype(np.uint8)
    blurred = np.stack([ndimage.uniform_filter(c, size=(3, 3, 1)) for c in _crops(photos, 150, 4)])
    schema = None
    quiet = driftline.compare({"img": ref}, {"img": same}, schema, multivariate=False).to_dict()
    assert quiet["dataset"]["verdict"] == "no_drift", quiet["dataset"]["drifted_columns"]
    assert quiet["schema"]["reference"]["img"]["kind"] == "image"
    darker = driftline.compare({"img": ref}, {"img": dark}, multivariate=False).to_dict()
    # one column in the verdict, its drifted descriptors named under it
    assert darker["dataset"]["drifted_columns"] == ["img"]
    assert "img.brightness" in darker["dataset"]["drifted_descriptors"]["img"]
    assert darker["columns"]["img.brightness"]["descriptor_of"] == "img"
    assert "img.width" not in darker["dataset"]["drifted_descriptors"]["img"]
    blurry = driftline.compare({"img": ref}, {"img": blurred}, multivariate=False).to_dict()
    assert "img.blur" in blurry["dataset"]["drifted_descriptors"]["img"]
    b = blurry["columns"]["img.blur"]["summary"]
    assert b["current"]["mean"] < 0.5 * b["reference"]["mean"]  # the Laplacian's variance fell


def test_digits_of_another_class_drift_in_their_strokes() -> None:
    digits = load_digits()
    images = (digits.images * (255 / 16)).astype(np.uint8)  # 8 x 8 grey, 0-16 -> 0-255
    ones, zeros = images[digits.target == 1], images[digits.target == 0]
    report = driftline.compare({"d": zeros}, {"d": ones}, multivariate=False).to_dict()
    assert report["columns"]["d"]["kind"] == "image"
    assert report["dataset"]["drifted_columns"] == ["d"]
    assert {"d.contrast", "d.blur"} <= set(report["dataset"]["drifted_descriptors"]["d"])
    assert "d.width" not in report["dataset"]["drifted_descriptors"]["d"]  # all 8 x 8
    mean = report["columns"]["d.mean_red"]["summary"]
    assert mean["reference"]["mean"] == pytest.approx(
        report["columns"]["d.brightness"]["summary"]["reference"]["mean"]
    )  # grey images: every channel is the luma


def test_undecodable_images_are_counted_with_a_reason(photos) -> None:
    good = [_png(c) for c in _crops(photos, 40, 5, size=16)]
    bad = [b"not an image at all", _png(_crops(photos, 1, 6)[0])[:40], None]
    table = pa.table({"img": pa.array(good + bad, type=pa.binary())})
    prof = driftline.profile(table)
    col = prof.columns["img"]
    assert col.kind is Kind.IMAGE
    assert (col.count, col.type_errors, col.missing) == (43, 2, 1)
    assert col.descriptors["brightness"].moments.n == 40
    report = driftline.compare(table, table, multivariate=False).to_dict()
    check = {q["check"]: q for q in report["columns"]["img"]["quality"]}["type_errors"]
    assert check["details"]["count"] == 2 and "image" in check["details"]["reason"]
