"""Drift methods: one small module each, one result shape (:class:`DriftResult`).

Binned methods (PSI, Jensen-Shannon, KL, Hellinger, total variation, chi-squared)
take two count vectors over the same bins; sample methods (Kolmogorov-Smirnov,
Anderson-Darling, Wasserstein) take two samples. ``driftline.stats.drift.rules``
chooses the method per column and makes the dataset-level verdict.
"""

from driftline.stats.drift._result import DriftResult
from driftline.stats.drift.anderson import anderson_darling
from driftline.stats.drift.chi2 import chi_squared
from driftline.stats.drift.hellinger import hellinger
from driftline.stats.drift.jensen_shannon import jensen_shannon
from driftline.stats.drift.kl import kl_divergence
from driftline.stats.drift.ks import kolmogorov_smirnov
from driftline.stats.drift.psi import psi
from driftline.stats.drift.shifts import mean_shift, quantile_shift, std_ratio
from driftline.stats.drift.total_variation import total_variation
from driftline.stats.drift.wasserstein import wasserstein, wasserstein_binned

__all__ = [
    "DriftResult",
    "anderson_darling",
    "chi_squared",
    "hellinger",
    "jensen_shannon",
    "kl_divergence",
    "kolmogorov_smirnov",
    "mean_shift",
    "psi",
    "quantile_shift",
    "std_ratio",
    "total_variation",
    "wasserstein",
    "wasserstein_binned",
]
