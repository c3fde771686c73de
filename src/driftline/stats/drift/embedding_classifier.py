"""Domain classifier on vectors: can a linear model tell current vectors from reference ones?

Logistic regression (L2, C=0.1) on the sampled vectors, stratified 3-fold
cross-fitting: every vector is scored by a model that never saw it, and the
ROC AUC of those scores is the statistic (0.5: indistinguishable). Under no
drift the held-out scores do not depend on the side, so the null is the
one-sided Mann-Whitney test of the scores. The result drifts when the p-value is
below alpha and the AUC reaches 0.55 (an effect size). Needs scikit-learn
(``pip install 'driftline[ml]'``); without it the method says so and decides nothing.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from driftline.errors import MissingDependencyError, require
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
    require("sklearn", "ml")
    from scipy.stats import mannwhitneyu
    from sklearn.linear_model import LogisticRegression
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
    split = StratifiedKFold(folds, shuffle=True, random_state=seed)
    with _one_thread():
        for train, test in split.split(x, y):
            model = LogisticRegression(C=0.1, max_iter=500).fit(x[train], y[train])
            scores[test] = model.decision_function(x[test])
    auc = float(roc_auc_score(y, scores))
    p = float(mannwhitneyu(scores[y == 1], scores[y == 0], alternative="greater").pvalue)
    return DriftResult(
        method=NAME,
        statistic=auc,
        p_value=p,
        threshold=alpha,
        drifted=bool(p < alpha and auc >= auc_threshold),
        n_reference=int(ref.shape[0]),
        n_current=int(cur.shape[0]),
        computed="reservoir",
        details={
            "model": "logistic regression (C=0.1)",
            "folds": folds,
            "auc_threshold": auc_threshold,
            "null": "Mann-Whitney on held-out scores",
        },
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


def _one_thread() -> Any:
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    return threadpool_limits(1)


METHOD = DriftMethod(
    name=NAME,
    kinds=EMBEDDING,
    is_test=True,
    compute=_compute,
    description="cross-fitted logistic regression telling current from reference vectors "
    "(ROC AUC, Mann-Whitney null; drifts at p < alpha and AUC >= 0.55)",
    by_default=True,
)
