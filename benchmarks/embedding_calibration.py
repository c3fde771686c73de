"""Calibration of the embedding drift methods on real sentence embeddings.

Data: tests/data/debian_descriptions.npz, all-MiniLM-L6-v2 embeddings of the
one-line descriptions of Debian packages in the sections science (1,637) and
games (1,093) (benchmarks/embeddings/make_fixture.py says how it was made).

1. No drift: ``--splits`` random splits of the science collection into two
   halves; the share of splits each method flags (false alarms; target <= 5 %),
   with its 95 % Wilson interval (over 100 splits a 5 % test shows 2-11 %).
2. Topic shift: science (reference) against games, and against science with
   a share of games mixed in; each method must flag the full shift.

Run:  .venv/bin/python benchmarks/embedding_calibration.py [--splits 100] [--methods mmd,...]
(benchmarks/stat_calibration.py runs it too). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import driftline
from driftline.stats.drift.registry import DRIFT_METHODS, inputs_for

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "data" / "debian_descriptions.npz"
METHODS = ("mmd", "domain_classifier", "centroid_cosine", "out_of_domain", "projection_ks")


def load() -> dict[str, np.ndarray]:
    """Section -> float32 vectors (n x 384)."""
    data = np.load(FIXTURE)
    vectors = data["codes"].astype(np.float32) * (data["scale"][:, None] / 127.0)
    sections = data["sections"]
    return {str(s): vectors[sections == s] for s in np.unique(sections)}


def verdicts(
    ref: np.ndarray, cur: np.ndarray, seed: int, methods: tuple[str, ...] = METHODS
) -> dict[str, bool | None]:
    schema = {"q": {"kind": "embedding"}}
    r = driftline.profile({"q": ref}, schema=schema, seed=seed).columns["q"]
    c = driftline.profile({"q": cur}, schema=schema, seed=seed + 1).columns["q"]
    inputs = inputs_for(r, c)
    out = {}
    for m in methods:
        method = DRIFT_METHODS[m]
        out[m] = method.compute(inputs, method.threshold(0.05)).drifted
    return out


def run(
    splits: int, seed: int = 20, methods: tuple[str, ...] = METHODS
) -> list[tuple[str, int, dict[str, float]]]:
    data = load()
    sci, games = data["science"], data["games"]
    rng = np.random.default_rng(seed)
    rows: list[tuple[str, int, dict[str, float]]] = []
    flags = {m: 0 for m in METHODS}
    for i in range(splits):
        perm = rng.permutation(sci.shape[0])
        half = sci.shape[0] // 2
        v = verdicts(sci[perm[:half]], sci[perm[half:]], seed + i, methods)
        for m in methods:
            flags[m] += bool(v[m])
    rows.append(("two random halves of science (no drift): flagged", splits,
                 {m: flags[m] / splits for m in methods}))  # fmt: skip
    for share in (1.0, 0.3, 0.1):
        trials = 10
        hits = {m: 0 for m in methods}
        for t in range(trials):
            perm = rng.permutation(sci.shape[0])
            ref = sci[perm[:800]]
            rest = sci[perm[800:]]
            n_games = round(800 * share)
            cur = np.vstack([
                games[rng.choice(games.shape[0], n_games, replace=False)],
                rest[rng.choice(rest.shape[0], 800 - n_games, replace=False)],
            ])  # fmt: skip
            v = verdicts(ref, cur, seed + 1000 + t, methods)
            for m in methods:
                hits[m] += bool(v[m])
        rows.append((f"science vs {share:.0%} games (topic shift): flagged", trials,
                     {m: hits[m] / trials for m in methods}))  # fmt: skip
    return rows


def wilson(rate: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """The 95 % Wilson score interval of a rate measured over ``n`` trials."""
    if n <= 0:
        return (0.0, 1.0)
    centre = (rate + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * ((rate * (1 - rate) / n + z * z / (4 * n * n)) ** 0.5)
    return max(0.0, centre - half), min(1.0, centre + half)


def print_table(rows: list[tuple[str, int, dict[str, float]]]) -> None:
    """Rates with their 95 % Wilson interval (the no-drift rate is a binomial estimate)."""
    methods = list(rows[0][2])
    print("| scenario | trials | " + " | ".join(methods) + " |")
    print("|---|---|" + "---|" * len(methods))
    for name, n, rates in rows:
        cells = []
        for m in methods:
            lo, hi = wilson(rates[m], n)
            cells.append(f"{rates[m]:.1%} ({lo:.1%}-{hi:.1%})")
        print(f"| {name} | {n} | " + " | ".join(cells) + " |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--splits", type=int, default=100)
    ap.add_argument("--seed", type=int, default=20)
    ap.add_argument("--methods", default=",".join(METHODS), help="comma-separated method names")
    args = ap.parse_args()
    t0 = time.perf_counter()
    rows = run(args.splits, args.seed, tuple(args.methods.split(",")))
    print(f"all-MiniLM-L6-v2 embeddings of Debian package descriptions; alpha 0.05; "
          f"{time.perf_counter() - t0:.0f} s")  # fmt: skip
    print()
    print_table(rows)


if __name__ == "__main__":
    main()
