"""Domain classifier: how well gradient boosting tells the current rows from the reference.

At most ``max_rows`` rows a side (the reference at most twice the current rows),
stratified ``folds``-fold cross-fitting: every
row is scored by a model that never saw it, and the ROC AUC of those scores is
the statistic (0.5: indistinguishable). Under "no drift" the held-out scores do
not depend on the side, so the AUC is a Mann-Whitney statistic: the p-value is
the one-sided Mann-Whitney test of the scores (ties handled). The result drifts
when ``p < alpha`` and ``AUC >= auc_threshold`` (an effect size, so that huge
samples do not flag trivial differences). The features that separate best are
named: the drop in held-out AUC when one feature's values are shuffled.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from driftline.errors import require
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
    require("sklearn", "ml")
    from scipy.stats import mannwhitneyu
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    rng = np.random.default_rng(seed)
    # at most max_rows a side, and the reference at most twice the current side
    n_ref = min(ref.shape[0], max_rows, 2 * cur.shape[0])
    if ref.shape[0] > n_ref:
        ref = ref[rng.choice(ref.shape[0], n_ref, replace=False)]
    if cur.shape[0] > max_rows:
        cur = cur[rng.choice(cur.shape[0], max_rows, replace=False)]
    x = np.vstack([ref, cur])
    y = np.r_[np.zeros(ref.shape[0]), np.ones(cur.shape[0])]
    scores = np.zeros(y.size)
    drops = np.zeros(x.shape[1])
    split = StratifiedKFold(folds, shuffle=True, random_state=seed)
    with _one_thread():
        for train, test in split.split(x, y):
            model = _model(list(categorical), seed).fit(x[train], y[train])
            xt, yt = x[test], y[test]
            scores[test] = model.predict_proba(xt)[:, 1]
            fold_auc = float(roc_auc_score(yt, scores[test]))
            for j in range(x.shape[1]):
                shuffled = xt.copy()
                shuffled[:, j] = shuffled[rng.permutation(len(test)), j]
                drops[j] += fold_auc - float(roc_auc_score(yt, model.predict_proba(shuffled)[:, 1]))
    auc = float(roc_auc_score(y, scores))
    p = float(mannwhitneyu(scores[y == 1], scores[y == 0], alternative="greater").pvalue)
    drops /= folds
    order = np.argsort(-drops, kind="stable")
    features = [
        {"column": names[j], "auc_drop": float(drops[j])} for j in order[:top] if drops[j] > 0
    ]
    return DriftResult(
        method=METHOD,
        statistic=auc,
        p_value=p,
        threshold=auc_threshold,
        drifted=bool(p < alpha and auc >= auc_threshold),
        n_reference=int(ref.shape[0]),
        n_current=int(cur.shape[0]),
        computed="reservoir",
        details={
            "alpha": alpha,
            "folds": folds,
            "null": "Mann-Whitney on held-out scores",
            "top_features": features,
        },
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


def _one_thread() -> Any:
    """Gradient boosting on a few thousand rows runs faster on one thread than on busy many."""
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    return threadpool_limits(1)
