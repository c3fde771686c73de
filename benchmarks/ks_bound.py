"""Kolmogorov-Smirnov past the reservoir: driftline's bounded KS against ks_2samp on raw rows.

50 cells: 5 shapes x 5 shifts x 2 seeds, 50k reference vs 50k current rows
(more than the 10k reservoir, so driftline bounds D from its histograms). For
each cell: is ks_2samp's D on the raw rows inside driftline's statistic_range,
does the p < alpha decision agree, and would KS on 10k-value samples (what
driftline did before) agree.

Run:  .venv/bin/python benchmarks/ks_bound.py
Prints one line per cell and a summary for benchmarks/RESULTS.md.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import stats

import driftline

Gen = Callable[[np.random.Generator, int, float], np.ndarray]
SHAPES: dict[str, Gen] = {
    "normal": lambda r, n, s: r.normal(s, 1.0, n),
    "lognormal": lambda r, n, s: r.lognormal(s, 1.0, n),
    "N(100, 15)": lambda r, n, s: r.normal(100 + 15 * s, 15, n),
    "exponential": lambda r, n, s: r.exponential(1 + s, n),
    "integers": lambda r, n, s: r.integers(0, 1000 + int(1000 * s), n).astype(float),
}
SHIFTS = (0.0, 0.005, 0.01, 0.02, 0.05)


def main() -> None:
    inside = agree = sample_agree = certain = cells = 0
    widths = []
    for i, (shape, gen) in enumerate(SHAPES.items()):
        for j, shift in enumerate(SHIFTS):
            for rep in range(2):
                rng = np.random.default_rng(1000 * rep + 100 * i + j)
                ref, cur = gen(rng, 50_000, 0.0), gen(rng, 50_000, shift)
                rep_ = driftline.compare({"x": ref}, {"x": cur}, seed=rep).to_dict()
                ks = rep_["columns"]["x"]["metrics"]["ks"]
                raw = stats.ks_2samp(ref, cur)
                lo, hi = ks["details"]["statistic_range"]
                widths.append(hi - lo)
                inside += lo - 1e-12 <= raw.statistic <= hi + 1e-12
                agree += ks["drifted"] == (raw.pvalue < 0.05)
                certain += ks["details"]["decision_certain"]
                r = np.random.default_rng(rep)
                sr = r.choice(ref, 10_000, replace=False)
                sc = r.choice(cur, 10_000, replace=False)
                sample_agree += (stats.ks_2samp(sr, sc).pvalue < 0.05) == (raw.pvalue < 0.05)
                cells += 1
                print(
                    f"{shape:12s} shift={shift:<6} seed={rep} D_raw={raw.statistic:.4f} "
                    f"range=[{lo:.4f}, {hi:.4f}] p_raw={raw.pvalue:.4f} "
                    f"p={ks['p_value']:.4f} drifted={ks['drifted']}"
                )
    print()
    print(
        "| cells | raw D inside the range | decision = ks_2samp on raw rows | "
        "certain | KS on 10k samples = raw | median range width |"
    )
    print("|---|---|---|---|---|---|")
    print(
        f"| {cells} | {inside} | {agree} | {certain} | {sample_agree} | "
        f"{float(np.median(widths)):.4f} |"
    )


if __name__ == "__main__":
    main()
