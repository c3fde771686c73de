"""Norm drift: the two-sample Kolmogorov-Smirnov test on vector norms (embedding columns).

The norms are profiled like a numeric column (exact histogram buckets, quantile
sketch, reservoir), so the test is :mod:`.ks`'s: exact when the reservoirs hold
every norm, else bounded from the histograms. Normalised vectors (every norm
within 1e-4 of the others on both sides) do not drift by rounding noise.
"""

from __future__ import annotations

from dataclasses import replace

from driftline.stats.drift import ks
from driftline.stats.drift._result import DriftResult
from driftline.stats.drift._vectors import undecided
from driftline.stats.drift.registry import EMBEDDING, DriftInputs, DriftMethod

NAME = "norm_ks"
#: Norms that all lie within this relative distance of each other are one norm (rounding).
NORM_TOLERANCE = 1e-4


def _compute(inputs: DriftInputs, threshold: float) -> DriftResult:
    ref, cur = inputs.reference_sample, inputs.current_sample
    if ref.size == 0 or cur.size == 0:
        return undecided(NAME, int(ref.size), int(cur.size), "a side has no finite norm")
    r_m, c_m = inputs.reference.moments, inputs.current.moments
    scale = max(abs(r_m.mean), abs(c_m.mean), 1e-300)
    lo, hi = min(r_m.min, c_m.min), max(r_m.max, c_m.max)
    if hi - lo <= NORM_TOLERANCE * scale:  # e.g. unit vectors: norms differ by rounding only
        return DriftResult(
            method=NAME,
            statistic=0.0,
            p_value=1.0,
            threshold=threshold,
            drifted=False,
            n_reference=int(r_m.n),
            n_current=int(c_m.n),
            computed="exact",
            details={
                "reason": f"every norm on both sides lies within {NORM_TOLERANCE:g} (relative) "
                f"of {r_m.mean:.6g}: normalised vectors, whose norms differ by rounding only",
            },
        )
    res = ks.METHOD.compute(inputs, threshold)
    return replace(
        res,
        method=NAME,
        details={
            **res.details,
            "reference_mean_norm": r_m.mean,
            "current_mean_norm": c_m.mean,
            "mean_shift_in_reference_sd": (c_m.mean - r_m.mean) / r_m.std
            if r_m.std and r_m.std > 0
            else None,
        },
    )


METHOD = DriftMethod(
    name=NAME,
    kinds=EMBEDDING,
    is_test=True,
    compute=_compute,
    description="Kolmogorov-Smirnov test on the vector norms",
    by_default=True,
)
