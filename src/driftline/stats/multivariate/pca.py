"""PCA reconstruction error with its expected band from reference chunks.

A PCA on the (encoded, standardised) reference sample keeps the fewest
components explaining ``variance`` of it; a row's error is the Euclidean
distance between the row and its reconstruction, a sample's value the mean
error. Errors are cross-fitted: the reference sample is cut into ``folds``
parts, each part's rows are scored by the PCA fitted on the other parts, and
a current row's error is its mean over those fold PCAs. So reference and
current errors are both measured on rows the PCA did not see (scored on its
own rows the error is understated: by 1.4% on NannyML's multiclass example
data, enough to cross a 3-sigma band).

The band is ``centre ± sigma * spread``: the centre is the reference rows'
mean error; the spread is the standard deviation of the mean error of a
reference chunk of the current sample's size, plus the centre's own
uncertainty: ``sd_rows * sqrt(1 / n_current + 1 / n_reference)``. (The
reservoir has no time order, so its chunks are random: their spread is exactly
``sd_rows / sqrt(n)``, computed here from every row rather than from a few
chunks, whose spread estimate would be noisy. NannyML's band comes from
consecutive chunks and so also holds slow variation within the reference.)
"""

from __future__ import annotations

import numpy as np

from driftline.stats.drift._result import DriftResult

METHOD = "pca_reconstruction"


class PCAModel:
    """Mean, components and the number kept, fitted on a reference design matrix."""

    def __init__(self, x: np.ndarray, variance: float = 0.65, n_components: int = 0) -> None:
        self.mean = x.mean(axis=0)
        _, s, vt = np.linalg.svd(x - self.mean, full_matrices=False)
        ev = s**2
        ratio = np.cumsum(ev) / ev.sum() if ev.sum() > 0 else np.ones_like(ev)
        k = n_components or int(np.searchsorted(ratio, variance) + 1)
        self.n_components = int(min(k, vt.shape[0]))
        self.explained = float(ratio[self.n_components - 1]) if ratio.size else 0.0
        self.components = vt[: self.n_components]

    def errors(self, x: np.ndarray) -> np.ndarray:
        """Each row's reconstruction error (Euclidean distance to its projection)."""
        c = x - self.mean
        rec = (c @ self.components.T) @ self.components
        out: np.ndarray = np.sqrt(((c - rec) ** 2).sum(axis=1))
        return out


def pca_reconstruction(
    ref: np.ndarray,
    cur: np.ndarray,
    *,
    variance: float = 0.65,
    sigma: float = 3.0,
    folds: int = 5,
    seed: int = 0,
) -> DriftResult:
    """The current sample's mean reconstruction error against the reference band."""
    rng = np.random.default_rng(seed)
    n_ref, n_cur = ref.shape[0], cur.shape[0]
    whole = PCAModel(ref, variance)
    part = rng.permutation(n_ref) % folds
    ref_err = np.zeros(n_ref)
    cur_err = np.zeros(n_cur)
    for k in range(folds):
        model = PCAModel(ref[part != k], variance, whole.n_components)
        ref_err[part == k] = model.errors(ref[part == k])
        cur_err += model.errors(cur) / folds
    value = float(cur_err.mean())
    centre = float(ref_err.mean())
    # the sd of the mean error of a reference chunk of n_cur rows, and of the centre
    spread = float(ref_err.std(ddof=1)) * float(np.sqrt(1 / n_cur + 1 / n_ref))
    lower, upper = centre - sigma * spread, centre + sigma * spread
    return DriftResult(
        method=METHOD,
        statistic=value,
        p_value=None,
        threshold=upper,
        drifted=bool(value > upper or value < lower),
        n_reference=n_ref,
        n_current=n_cur,
        computed="reservoir",
        details={
            "lower": lower,
            "upper": upper,
            "reference_mean": centre,
            "n_components": whole.n_components,
            "explained_variance": whole.explained,
            "chunk_size": n_cur,
            "sigma": sigma,
            "folds": folds,
        },
    )
