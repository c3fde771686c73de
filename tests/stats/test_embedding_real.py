"""Real sentence embeddings (all-MiniLM-L6-v2) of real text: a topic shift is drift,
random halves of one collection are not (benchmarks/embedding_calibration.py
measures the rates over 100 splits)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import driftline
from driftline.stats.drift.registry import DRIFT_METHODS, inputs_for

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "debian_descriptions.npz"


@pytest.fixture(scope="module")
def collections() -> dict[str, np.ndarray]:
    data = np.load(FIXTURE)
    vectors = data["codes"].astype(np.float32) * (data["scale"][:, None] / 127.0)
    return {s: vectors[data["sections"] == s] for s in ("science", "games")}


def _results(ref: np.ndarray, cur: np.ndarray) -> dict[str, object]:
    schema = {"q": {"kind": "embedding"}}
    r = driftline.profile({"q": ref}, schema=schema, seed=1).columns["q"]
    c = driftline.profile({"q": cur}, schema=schema, seed=2).columns["q"]
    inputs = inputs_for(r, c)
    names = ("mmd", "domain_classifier", "centroid_cosine", "out_of_domain")
    return {m: DRIFT_METHODS[m].compute(inputs, DRIFT_METHODS[m].threshold(0.05)) for m in names}


def test_the_fixture_is_what_its_readme_says(collections) -> None:
    data = np.load(FIXTURE)
    assert collections["science"].shape == (1637, 384)
    assert collections["games"].shape == (1093, 384)
    norms = np.linalg.norm(np.vstack(list(collections.values())), axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=0.01)  # normalised, int8 rounding
    assert "all-MiniLM-L6-v2" in str(data["model"])
    assert data["texts"].shape == data["sections"].shape


def test_a_topic_shift_is_flagged_by_centroid_mmd_and_classifier(collections) -> None:
    sci, games = collections["science"], collections["games"]
    res = _results(sci[:600], games[:600])
    for name in ("mmd", "domain_classifier", "centroid_cosine", "out_of_domain"):
        assert res[name].drifted is True, (name, res[name])
    assert res["centroid_cosine"].statistic > 0.3
    assert res["domain_classifier"].statistic > 0.9


@pytest.mark.parametrize("seed", [0, 1])
def test_two_random_halves_of_one_collection_are_not_flagged(collections, seed: int) -> None:
    sci = collections["science"]
    perm = np.random.default_rng(seed).permutation(sci.shape[0])
    half = sci.shape[0] // 2
    res = _results(sci[perm[:half]], sci[perm[half:]])
    for name, r in res.items():
        assert r.drifted is False, (name, r)
    assert res["centroid_cosine"].statistic < 0.02
