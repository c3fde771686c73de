"""Domain classifier: how well gradient boosting tells the current rows from the reference.

Cross-fitted as :mod:`driftline.stats._crossfit` describes (at most ``max_rows``
rows a side, ``folds`` folds, held-out ROC AUC, Mann-Whitney p-value). The result drifts
when ``p < alpha`` and ``AUC >= auc_threshold`` (an effect size, so that huge
samples do not flag trivial differences). The features that separate best are
named: the drop in held-out AUC when one feature's values are shuffled.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from driftline.stats._crossfit import cross_fit
from driftline.stats.drift._result import DriftResult

METHOD = "domain_classifier"


def domain_classifier(
    ref: np.ndarray,
    cur: np.ndarray,
    names: Sequence[str],
    categorical: Sequence[bool],
    *,
    alpha: float = 0.05,
    auc_threshold: float = 0.55,
    max_rows: int = 5000,
    folds: int = 3,
    top: int = 5,
    seed: int = 0,
) -> DriftResult:
    """``ref``/``cur``: raw numeric columns (NaN = missing) then category codes."""
    drops = np.zeros(ref.shape[1])

    def importances(
        model: Any, xt: np.ndarray, yt: np.ndarray, st: np.ndarray, rng: np.random.Generator
    ) -> None:
        """Per feature, the held-out AUC lost when its values are shuffled."""
        from sklearn.metrics import roc_auc_score  # cross_fit has checked scikit-learn

        fold_auc = float(roc_auc_score(yt, st))
        for j in range(xt.shape[1]):
            shuffled = xt.copy()
            shuffled[:, j] = shuffled[rng.permutation(len(yt)), j]
            drops[j] += fold_auc - float(roc_auc_score(yt, model.predict_proba(shuffled)[:, 1]))

    fit = cross_fit(
        ref, cur, fit=lambda x, y: _model(list(categorical), seed).fit(x, y),
        score=lambda model, x: model.predict_proba(x)[:, 1],
        max_rows=max_rows, folds=folds, seed=seed, on_fold=importances,
    )  # fmt: skip
    drops /= folds
    order = np.argsort(-drops, kind="stable")
    features = [
        {"column": names[j], "auc_drop": float(drops[j])} for j in order[:top] if drops[j] > 0
    ]
    details = {"alpha": alpha, "folds": folds, "top_features": features}
    return fit.result(
        METHOD, alpha=alpha, auc_threshold=auc_threshold, threshold=auc_threshold, details=details
    )


def _model(categorical: list[bool], seed: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(
        max_iter=60,
        max_leaf_nodes=15,
        learning_rate=0.1,
        early_stopping=False,
        categorical_features=categorical if any(categorical) else None,
        random_state=seed,
    )
