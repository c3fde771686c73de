"""Same inputs, same answer: `driftline report` and `check` are deterministic by default."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from driftline import profile
from driftline.stats.accumulators import QuantileSketch

DRIFTLINE = Path(sys.executable).with_name("driftline")


def _run(args: list[object], hash_seed: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed, "COLUMNS": "120"}
    return subprocess.run(
        [str(DRIFTLINE), *map(str, args)], capture_output=True, text=True, env=env, timeout=300
    )


def test_two_report_runs_write_byte_identical_json(files: dict[str, Path], tmp_path: Path) -> None:
    """No --seed: two processes (different hash seeds) write the same JSON but for the time."""
    texts = []
    for i, hash_seed in enumerate(("1", "2")):
        out = tmp_path / f"r{i}.json"
        args: list[object] = ["report", files["ref"], files["cur"], "-o", tmp_path / f"r{i}.html"]
        args += ["--json", out, "--chunk-by", "week", "--target", "label", "--prediction", "pred"]
        res = _run(args, hash_seed)
        assert res.returncode == 0, res.stderr
        texts.append(out.read_text())
    stamps = [json.loads(t)["inputs"]["generated_at"] for t in texts]
    a, b = (t.replace(s, "<time>") for t, s in zip(texts, stamps, strict=True))
    assert a == b
    data = json.loads(a)
    assert data["chunks"] and data["performance"]["realized"]  # the report is a full one
    # quantile summaries come from the sketch, which compacts 4000 values: seeded coin flips
    assert data["columns"]["amount"]["summary"]["current"]["median"] is not None


def test_report_and_check_agree_on_the_same_inputs(files: dict[str, Path], tmp_path: Path) -> None:
    rep, chk = tmp_path / "report.json", tmp_path / "check.json"
    res = _run(
        ["report", files["ref"], files["cur"], "-o", tmp_path / "r.html", "--json", rep], "3"
    )
    assert res.returncode == 0, res.stderr
    res = _run(["check", files["ref"], files["cur"], "--json", chk], "4")
    assert res.returncode == 1  # the current file drifts
    a, b = json.loads(rep.read_text()), json.loads(chk.read_text())
    assert {n: c["drift"] for n, c in a["columns"].items()} == {
        n: c["drift"] for n, c in b["columns"].items()
    }
    assert a.get("multivariate") == b.get("multivariate")
    failed = {c["name"] for c in b["checks"] if c["suite"] == "drift" and c["status"] == "fail"}
    assert failed & set(a["columns"]) == set(a["dataset"]["drifted_columns"])


def test_profiles_of_the_same_data_are_identical_without_a_seed() -> None:
    rng = np.random.default_rng(5)
    data = {"x": rng.standard_t(3, 300_000), "c": rng.choice(["a", "b", "c"], 300_000)}
    one, two = profile(data), profile(data)
    assert one.to_bytes() == two.to_bytes()
    assert profile(data, seed=7).to_bytes() != one.to_bytes()  # the seed is used


def test_quantile_sketch_is_deterministic_and_within_its_rank_error() -> None:
    """The sketch's coin flips are seeded; its error stays within the stated bound."""
    x = np.random.default_rng(0).standard_t(3, size=200_000)
    sketches = []
    for _ in range(2):
        q = QuantileSketch()
        for part in np.array_split(x, 13):
            q.update(part)
        sketches.append(q)
    assert sketches[0].to_bytes() == sketches[1].to_bytes()
    probs = np.linspace(0.01, 0.99, 49)
    ranks = np.searchsorted(np.sort(x), sketches[0].quantiles(probs)) / x.size
    assert np.max(np.abs(ranks - probs)) <= sketches[0].rank_error
    back = QuantileSketch.from_bytes(sketches[0].to_bytes())
    np.testing.assert_array_equal(back.quantiles(probs), sketches[0].quantiles(probs))


def test_profiles_saved_with_the_datasketches_kll_still_load() -> None:
    """Profiles written before the seeded sketch hold a DataSketches KLL: read, converted."""
    import datasketches as ds

    from driftline.stats._codec import pack

    x = np.random.default_rng(1).normal(size=50_000)
    old = ds.kll_doubles_sketch(200)
    old.update(x)
    raw = np.frombuffer(old.serialize(), dtype=np.uint8)
    blob = pack("kll", 1, {"k": 200, "sample_above": 65_536, "sampled": False}, {"sketch": raw})
    q = QuantileSketch.from_bytes(blob)
    probs = np.array([0.05, 0.5, 0.95])
    np.testing.assert_allclose(q.quantiles(probs), old.get_quantiles(probs.tolist()))
    assert q.n == x.size
    q.update(x[:1000])  # and it keeps working as a sketch
    assert q.n == x.size + 1000
