"""Domain classifier on vectors: can a linear model tell current vectors from reference ones?

Logistic regression (L2, C=0.1) on the sampled vectors, cross-fitted as
:mod:`driftline.stats._crossfit` describes (3 folds, held-out ROC AUC: 0.5 is
indistinguishable; one-sided Mann-Whitney p-value of the scores). The result
drifts when the p-value is below alpha and the AUC reaches 0.55 (an effect
size). Needs scikit-learn
(``pip install 'driftline[ml]'``); without it the method says so and decides nothing.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from driftline.errors import MissingDependencyError
from driftline.stats._crossfit import cross_fit
from driftline.stats.drift._result import DriftResult
from driftline.stats.drift._vectors import excluded, sample_computed, samples_or_reason, undecided
from driftline.stats.drift.registry import EMBEDDING, DriftInputs, DriftMethod

NAME = "domain_classifier"
AUC_THRESHOLD = 0.55
MAX_ROWS = 1000
FOLDS = 3


def vector_classifier(
    ref: np.ndarray,
    cur: np.ndarray,
    *,
    alpha: float = 0.05,
    auc_threshold: float = AUC_THRESHOLD,
    max_rows: int = MAX_ROWS,
    folds: int = FOLDS,
    seed: int = 0,
) -> DriftResult:
    """The method on two samples of vectors; returns the cross-fitted AUC and its p-value."""

    def fit(x: np.ndarray, y: np.ndarray) -> Any:
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=0.1, max_iter=500).fit(x, y)

    res = cross_fit(
        ref, cur, fit=fit, score=lambda model, x: model.decision_function(x),
        max_rows=max_rows, folds=folds, seed=seed,
    )  # fmt: skip
    details = {
        "model": "logistic regression (C=0.1)",
        "folds": folds,
        "auc_threshold": auc_threshold,
    }
    return res.result(
        NAME, alpha=alpha, auc_threshold=auc_threshold, threshold=alpha, details=details
    )


def _compute(inputs: DriftInputs, threshold: float) -> DriftResult:
    rv, cv = inputs.reference_vectors, inputs.current_vectors
    r, c, why = samples_or_reason(rv, cv, NAME)
    if why is not None:
        return why
    try:
        res = vector_classifier(r, c, alpha=threshold)
    except MissingDependencyError as exc:
        return undecided(NAME, int(r.shape[0]), int(c.shape[0]), str(exc), threshold)
    res.details.update(excluded(rv, cv))
    if r.shape[0] <= MAX_ROWS and c.shape[0] <= MAX_ROWS:
        computed = sample_computed(rv, cv, r.shape[0], c.shape[0])
        if computed != res.computed:
            from dataclasses import replace

            res = replace(res, computed=computed)
    return res


METHOD = DriftMethod(
    name=NAME,
    kinds=EMBEDDING,
    is_test=True,
    compute=_compute,
    description="cross-fitted logistic regression telling current from reference vectors "
    "(ROC AUC, Mann-Whitney null; drifts at p < alpha and AUC >= 0.55)",
    by_default=True,
)
