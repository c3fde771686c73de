"""Why the live demo's RAG service (``docs_assistant``) is flagged as embedding drift in
quiet windows more often than 5 %: which windows are calibrated and which are not.

Windows of ~60 questions (one demo window) are compared to a 1,000-row reference with
the embedding methods (driftline.profile + the registry, as the collector does). Modes:

- ``refmix``: windows drawn like the demo's reference (rows independent);
- ``live``: the demo's quiet traffic (src/driftline/demo/rag.py): new sessions, 3 % out of
  the domain, and a user whose answer was a refusal asks again in other words (a
  near-duplicate row in the same window, 85 % of out-of-domain sessions);
- ``livemix_ref``: the same live windows against a reference drawn from live traffic;
- ``iidlive``: rows drawn independently from a pool of live traffic (same mix, no sessions);
- ``first_ref``: live traffic with only each session's first question, reference likewise.

The rates are conditional on one reference sample (its seed): over 150 windows one
reference of independent live rows gave the classifier 14 %, another 4 %.

Run:  .venv/bin/python benchmarks/rag_demo_false_alarms.py MODE [TRIALS [SEED]]
"""

from __future__ import annotations

import sys
import time

import numpy as np

import driftline
from driftline.demo.rag import REFUSAL, Corpus, RAGService, reference
from driftline.stats.drift.registry import DRIFT_METHODS, inputs_for

METHODS = ("mmd", "domain_classifier", "centroid_cosine", "out_of_domain")
SCHEMA = {"q": {"kind": "embedding"}}


def live_window(
    svc: RAGService, rng: np.random.Generator, follow_ups: bool, sessions: float = 60.0
) -> np.ndarray:
    """One quiet window of the demo's traffic (follow-ups in the window of their session)."""
    out = []
    for _ in range(int(rng.poisson(sessions))):
        ask = svc.ask(rng, bool(rng.random() < 0.03))
        out.append(ask.vector)
        hits = svc.retrieve(ask.vector)
        bad = svc.generate(hits) == REFUSAL or hits[0][1] < 0.5
        if rng.random() < (0.85 if bad else 0.03) and follow_ups and ask.again is not None:
            out.append(ask.again[1])
    return np.stack(out)


def main(mode: str, trials: int, seed: int) -> None:
    corpus = Corpus.load()
    svc = RAGService(corpus)
    rng = np.random.default_rng(seed)
    follow_ups = mode != "first_ref"
    pool: np.ndarray | None = None
    if mode == "iidlive":
        pool = np.vstack([live_window(svc, rng, True) for _ in range(300)])
        ref = pool[rng.choice(len(pool), 1000)]
    elif mode in ("livemix_ref", "first_ref"):
        ref = np.vstack([live_window(svc, rng, follow_ups) for _ in range(15)])[:1000]
    else:
        ref = reference(corpus, np.random.default_rng(3), 1000)["query_embedding"]
    ref_col = driftline.profile({"q": ref}, schema=SCHEMA, seed=1).columns["q"]
    flags = dict.fromkeys(METHODS, 0)
    sizes = []
    t0 = time.process_time()
    for i in range(trials):
        if mode == "refmix":
            cur = reference(corpus, rng, 70)["query_embedding"]
        elif pool is not None:
            cur = pool[rng.choice(len(pool), 63)]
        else:
            cur = live_window(svc, rng, follow_ups)
        sizes.append(len(cur))
        cur_col = driftline.profile({"q": cur}, schema=SCHEMA, seed=100 + i).columns["q"]
        inputs = inputs_for(ref_col, cur_col)
        for m in METHODS:
            method = DRIFT_METHODS[m]
            flags[m] += bool(method.compute(inputs, method.threshold(0.05)).drifted)
    rates = " | ".join(f"{flags[m] / trials:.1%}" for m in METHODS)
    cpu = time.process_time() - t0
    print(f"| {mode} | {seed} | {trials} | {np.mean(sizes):.0f} | {rates} | {cpu:.0f} s |")


if __name__ == "__main__":
    args = sys.argv[1:] + ["200", "7"][len(sys.argv) - 2 :]
    main(args[0], int(args[1]), int(args[2]))
