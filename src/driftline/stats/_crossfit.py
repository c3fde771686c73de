"""Cross-fitted domain classifiers: can a model tell current rows from reference rows?

Shared by the multivariate domain classifier (gradient boosting on columns,
:mod:`driftline.stats.multivariate.classifier`) and the embedding one (logistic
regression on vectors, :mod:`driftline.stats.drift.embedding_classifier`).

At most ``max_rows`` rows a side (the reference at most twice the current
rows), stratified ``folds``-fold cross-fitting: every row is scored by a model
that never saw it, and the ROC AUC of those scores is the statistic (0.5:
indistinguishable). Each fold's held-out scores come from a model that never saw
those rows, so the one-sided Mann-Whitney test of one fold's scores is exact; the
folds' tests are positively dependent (each fold's model learned the other folds'
chance differences), so the p-value is Bonferroni's over the folds (``folds`` times
the smallest), not the pooled test, which rejected about twice alpha with no drift
(benchmarks/classifier_null.py). Needs scikit-learn.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from driftline.errors import require
from driftline.stats.drift._result import DriftResult

#: How the p-value is made (the results' ``details.null``).
NULL = "Mann-Whitney on each fold's held-out scores, Bonferroni over the folds"


@dataclass(frozen=True)
class CrossFit:
    """The cross-fitted AUC, its Mann-Whitney p-value and the rows used a side."""

    auc: float
    p_value: float
    n_reference: int
    n_current: int

    def result(
        self,
        method: str,
        *,
        alpha: float,
        auc_threshold: float,
        threshold: float,
        details: dict[str, Any],
    ) -> DriftResult:
        """The drift result: drifted when ``p < alpha`` and ``AUC >= auc_threshold`` (an effect
        size, so that huge samples do not flag trivial differences)."""
        return DriftResult(
            method=method, statistic=self.auc, p_value=self.p_value, threshold=threshold,
            drifted=bool(self.p_value < alpha and self.auc >= auc_threshold),
            n_reference=self.n_reference, n_current=self.n_current, computed="reservoir",
            details={**details, "null": NULL},
        )  # fmt: skip


#: Called after each fold with the fitted model, the held-out rows, their sides, their
#: scores and the random generator (the multivariate classifier's feature importances).
OnFold = Callable[[Any, np.ndarray, np.ndarray, np.ndarray, np.random.Generator], None]


def cross_fit(
    ref: np.ndarray,
    cur: np.ndarray,
    *,
    fit: Callable[[np.ndarray, np.ndarray], Any],
    score: Callable[[Any, np.ndarray], np.ndarray],
    max_rows: int,
    folds: int,
    seed: int,
    on_fold: OnFold | None = None,
) -> CrossFit:
    """``fit(x, y)`` returns a model trained to tell ``y == 1`` (current) rows; ``score(model,
    x)`` is its score of each row (higher: more like the current side)."""
    require("sklearn", "ml")
    from scipy.stats import mannwhitneyu
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    rng = np.random.default_rng(seed)
    n_ref = min(ref.shape[0], max_rows, 2 * cur.shape[0])
    if ref.shape[0] > n_ref:
        ref = ref[rng.choice(ref.shape[0], n_ref, replace=False)]
    if cur.shape[0] > max_rows:
        cur = cur[rng.choice(cur.shape[0], max_rows, replace=False)]
    x = np.vstack([ref, cur])
    y = np.r_[np.zeros(ref.shape[0]), np.ones(cur.shape[0])]
    scores = np.zeros(y.size)
    fold_p: list[float] = []
    split = StratifiedKFold(folds, shuffle=True, random_state=seed)
    with _one_thread():
        for train, test in split.split(x, y):
            model = fit(x[train], y[train])
            scores[test] = score(model, x[test])
            held, sides = scores[test], y[test]
            # exact for its fold: the model never saw these rows or their sides
            fold_p.append(
                float(
                    mannwhitneyu(held[sides == 1], held[sides == 0], alternative="greater").pvalue
                )
            )
            if on_fold is not None:
                on_fold(model, x[test], sides, held, rng)
    auc = float(roc_auc_score(y, scores))
    # The folds' tests are dependent (each fold's model learned the other folds' chance
    # differences), so their pooled Mann-Whitney test rejected about twice alpha with no drift
    # (benchmarks/classifier_null.py); Bonferroni over the folds is valid under any dependence.
    p = min(1.0, len(fold_p) * min(fold_p))
    return CrossFit(auc, p, int(ref.shape[0]), int(cur.shape[0]))


def _one_thread() -> Any:
    """A model on a few thousand rows fits faster on one thread than on many busy ones."""
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    return threadpool_limits(1)
