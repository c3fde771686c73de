"""Always-valid inference on a difference between two versions, and the verdict rule.

The estimate of ``metric(B) - metric(A)`` is asymptotically normal with variance
``V`` (shrinking as labels arrive). Treating ``S = estimate / V`` as a Brownian
motion in "information time" ``I = 1 / V``, the two-sided normal-mixture
boundary (Robbins 1970; Howard et al. 2021, "Time-uniform, nonparametric,
nonasymptotic confidence sequences", eq. for the normal mixture) gives a
confidence sequence that holds at every look simultaneously:

    estimate  +/-  sqrt( V (V + tau^2) / tau^2 * ( ln((V + tau^2) / V) + 2 ln(1/alpha) ) )

so a user may look after every window without inflating false verdicts (the
mixture SPRT of Johari et al. 2017 rejects exactly when this sequence excludes
0). ``tau`` is the mixture's scale: the sequence is tightest when the true
difference is about ``tau``; driftline sets it to the smallest difference the
user cares about. The guarantee is asymptotic (normal approximation, estimated
variance); benchmarks/stat_calibration.py measures the false-verdict rate with
a look every window.

Verdicts, for a metric where higher is better (mirrored for losses):

- ``better`` / ``worse``: the sequence excludes 0;
- ``equivalent``: the sequence lies within +/- ``min_effect``: no difference
  as large as the one the user cares about;
- ``undecided``: none of those yet; ``n_needed`` is the labelled sample (at the
  current split) at which the sequence's half-width falls to ``min_effect / 2``,
  where a true difference of ``min_effect`` would be called and a true zero
  would be called equivalent;
- ``insufficient_data``: fewer labelled requests than ``min_n`` per version.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Verdict = Literal["better", "worse", "equivalent", "undecided", "insufficient_data"]


def half_width(variance: float, alpha: float, tau: float) -> float:
    """Half-width of the normal-mixture confidence sequence at variance ``variance``."""
    if variance <= 0:
        return 0.0
    t2 = tau * tau
    return math.sqrt(
        variance
        * (variance + t2)
        / t2
        * (math.log((variance + t2) / variance) + 2 * math.log(1 / alpha))
    )


def mixture_p_value(estimate: float, variance: float, tau: float) -> float:
    """The mixture SPRT's p-value at this look: ``min(1, 1 / likelihood ratio)``."""
    if variance <= 0:
        return 0.0 if estimate != 0 else 1.0
    t2 = tau * tau
    log_lr = 0.5 * math.log(variance / (variance + t2)) + t2 * estimate * estimate / (
        2 * variance * (variance + t2)
    )
    return 1.0 if log_lr <= 0 else math.exp(-log_lr)


def samples_needed(
    per_request_variance: float, target: float, alpha: float, tau: float, at_least: int
) -> int | None:
    """Smallest labelled sample ``n >= at_least`` where the half-width is ``<= target``.

    ``per_request_variance``: the estimate's variance times the current sample
    size (so the variance at ``n`` is ``per_request_variance / n``).
    """
    if per_request_variance <= 0:
        return at_least
    if target <= 0:
        return None
    lo, hi = max(1, at_least), max(2, at_least)
    while half_width(per_request_variance / hi, alpha, tau) > target:
        lo, hi = hi, hi * 2
        if hi > 10**12:
            return None
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if half_width(per_request_variance / mid, alpha, tau) > target:
            lo = mid
        else:
            hi = mid
    return hi if half_width(per_request_variance / lo, alpha, tau) > target else lo


@dataclass(frozen=True)
class MetricVerdict:
    """One metric's comparison of B (challenger) against A (champion)."""

    metric: str
    a: float | None
    b: float | None
    difference: float | None
    #: fixed-sample ``1 - alpha`` interval of the difference (valid at one look only)
    low: float | None
    high: float | None
    #: always-valid confidence sequence of the difference (valid at every look)
    seq_low: float | None
    seq_high: float | None
    p_value: float | None
    verdict: Verdict
    n_a: int
    n_b: int
    n_needed: int | None
    method: str
    higher_is_better: bool
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def decide(
    metric: str,
    a: float,
    b: float,
    variance: float,
    n_a: int,
    n_b: int,
    *,
    higher_is_better: bool,
    min_effect: float,
    alpha: float,
    min_n: int,
    method: str,
    paired: bool,
    details: dict[str, Any] | None = None,
) -> MetricVerdict:
    """The verdict on ``b - a`` with variance ``variance`` (see the module documentation)."""
    from scipy import stats

    diff = b - a
    z = float(stats.norm.ppf(1 - alpha / 2))
    sd = math.sqrt(max(variance, 0.0))
    low, high = diff - z * sd, diff + z * sd
    if min(n_a, n_b) < min_n or not math.isfinite(variance):
        return MetricVerdict(
            metric,
            a,
            b,
            diff,
            low,
            high,
            None,
            None,
            None,
            "insufficient_data",
            n_a,
            n_b,
            None,
            method,
            higher_is_better,
            {**(details or {}), "min_n": min_n},
        )
    hw = half_width(variance, alpha, min_effect)
    seq_low, seq_high = diff - hw, diff + hw
    verdict: Verdict
    if seq_low > 0 or seq_high < 0:
        up = seq_low > 0
        verdict = "better" if up == higher_is_better else "worse"
    elif -min_effect < seq_low and seq_high < min_effect:
        verdict = "equivalent"
    else:
        verdict = "undecided"
    n_needed = None
    if verdict == "undecided":
        n_now = n_b if paired else n_a + n_b
        need = samples_needed(variance * n_now, min_effect / 2, alpha, min_effect, n_now)
        n_needed = None if need is None else max(0, need - n_now)
    return MetricVerdict(
        metric,
        a,
        b,
        diff,
        low,
        high,
        seq_low,
        seq_high,
        mixture_p_value(diff, variance, min_effect),
        verdict,
        n_a,
        n_b,
        n_needed,
        method,
        higher_is_better,
        details or {},
    )
