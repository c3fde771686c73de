"""Calibration of the version-comparison verdict (driftline.stats.versions).

Simulated rollouts: 20,000 labelled requests arrive in 40 windows of 500; after
every window the user looks at the verdict (peeking). A false verdict is any
"better" or "worse" at any look when the challenger equals the champion. The
power scenario makes the challenger 2 points of accuracy worse (0.90 -> 0.88)
and counts rollouts called "worse" by the last look.

Scenarios:
- split: traffic split 50/50 (unpaired; each version's own labelled requests);
- shadow: the challenger scores every request the champion serves (paired);
  the versions' errors are correlated (both wrong on 6 % of requests when equal),
  as two models trained on the same data are.
- shadow with scores: the same, with binary scores, so accuracy and ROC AUC are
  both guarded (alpha shared, Bonferroni).

Run:  .venv/bin/python benchmarks/rollout_calibration.py [--rollouts 500]
(stat_calibration.py runs it too). Prints a Markdown table for RESULTS.md.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from driftline.stats.versions import (
    CompareOptions,
    VersionData,
    compare_paired,
    compare_unpaired,
)

WINDOWS, PER_WINDOW = 40, 500
OPTIONS = CompareOptions(alpha=0.05, min_n=200, bootstrap_resamples=0)


def _shadow_labels(
    rng: np.random.Generator, n: int, acc_b: float, with_scores: bool
) -> tuple[np.ndarray, ...]:
    y = rng.integers(0, 2, n)
    # champion right 90 %; challenger shares most of the champion's errors
    ok_a = rng.random(n) < 0.90
    both_wrong = 0.06
    p_b_wrong_given_a_wrong = both_wrong / 0.10
    p_b_wrong_given_a_ok = (1 - acc_b - both_wrong) / 0.90
    u = rng.random(n)
    ok_b = np.where(ok_a, u >= p_b_wrong_given_a_ok, u >= p_b_wrong_given_a_wrong)
    pa = np.where(ok_a, y, 1 - y)
    pb = np.where(ok_b, y, 1 - y)
    if not with_scores:
        return y, pa, pb, None, None
    # scores consistent with the predictions: distance from 0.5 random, side from the class
    sa = np.where(pa == 1, 0.5 + rng.random(n) / 2, rng.random(n) / 2)
    sb = np.where(pb == 1, 0.5 + rng.random(n) / 2, rng.random(n) / 2)
    return y, pa, pb, sa, sb


def rollout(rng: np.random.Generator, scenario: str, acc_b: float) -> tuple[str | None, str]:
    """The first decisive verdict over the looks (None: none) and the last verdict."""
    n = WINDOWS * PER_WINDOW
    first: str | None = None
    last = "undecided"
    if scenario == "split":
        arm = rng.random(n) < 0.5
        y = rng.integers(0, 2, n)
        ok = np.where(arm, rng.random(n) < acc_b, rng.random(n) < 0.90)
        pred = np.where(ok, y, 1 - y)
        for w in range(1, WINDOWS + 1):
            k = w * PER_WINDOW
            a, b = ~arm[:k], arm[:k]
            c = compare_unpaired(
                VersionData(y[:k][a], pred[:k][a]),
                VersionData(y[:k][b], pred[:k][b]),
                options=OPTIONS,
            )
            last = c.verdict
            if first is None and last in ("better", "worse"):
                first = last
        return first, last
    y, pa, pb, sa, sb = _shadow_labels(rng, n, acc_b, scenario == "shadow+scores")
    for w in range(1, WINDOWS + 1):
        k = w * PER_WINDOW
        c = compare_paired(
            y[:k],
            pa[:k],
            pb[:k],
            None if sa is None else sa[:k],
            None if sb is None else sb[:k],
            options=OPTIONS,
        )
        last = c.verdict
        if first is None and last in ("better", "worse"):
            first = last
    return first, last


def run(rollouts: int, seed: int) -> list[tuple[str, str, int, float, str]]:
    rng = np.random.default_rng(seed)
    rows = []
    for scenario in ("split", "shadow", "shadow+scores"):
        equal = [rollout(rng, scenario, 0.90) for _ in range(rollouts)]
        false_rate = float(np.mean([f is not None for f, _ in equal]))
        rows.append(
            (
                scenario,
                "equal challenger: any verdict at any of 40 looks",
                rollouts,
                false_rate,
                "<= 5%",
            )
        )
        worse_n = max(rollouts // 2, 100)
        worse = [rollout(rng, scenario, 0.88) for _ in range(worse_n)]
        power = float(np.mean([f == "worse" for f, _ in worse]))
        wrong = float(np.mean([f == "better" for f, _ in worse]))
        rows.append(
            (scenario, "2 points worse: called worse by 20k labels", worse_n, power, "called worse")
        )
        rows.append((scenario, "2 points worse: called better (wrong way)", worse_n, wrong, "0%"))
    return rows


def print_table(rows: list[tuple[str, str, int, float, str]]) -> None:
    print("| rollout | scenario | rollouts | measured | target |")
    print("|---|---|---|---|---|")
    for scenario, what, n, value, target in rows:
        print(f"| {scenario} | {what} | {n} | {value:.1%} | {target} |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rollouts", type=int, default=500)
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    t0 = time.perf_counter()
    rows = run(args.rollouts, args.seed)
    print(
        f"{WINDOWS} looks x {PER_WINDOW} labelled requests; champion accuracy 0.90; "
        f"alpha 0.05, min_n 200, min_effect 0.01; {time.perf_counter() - t0:.0f} s"
    )
    print()
    print_table(rows)


if __name__ == "__main__":
    main()
