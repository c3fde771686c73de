"""Multivariate drift: changes no single column shows (docs/drift.md, "Multivariate drift").

Four methods, all on the joint sample rebuilt from the profiles' reservoirs
(:mod:`._sample`), so merged window and partition profiles work as well:
``pca_reconstruction`` (:mod:`.pca`), ``domain_classifier`` (:mod:`.classifier`),
``mmd`` (:mod:`.mmd`) and ``correlation`` (:mod:`.correlation`).
:func:`multivariate_drift` runs them and returns the report's
``"multivariate"`` section; every result states the sample it used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from driftline.errors import ConfigError, MissingDependencyError
from driftline.stats.drift._result import DriftResult
from driftline.stats.multivariate._sample import Encoder, joint_sample, select_columns
from driftline.stats.multivariate.classifier import domain_classifier
from driftline.stats.multivariate.correlation import correlation_drift
from driftline.stats.multivariate.mmd import mmd
from driftline.stats.multivariate.pca import pca_reconstruction
from driftline.stats.profile import DatasetProfile

METHODS = ("pca_reconstruction", "domain_classifier", "mmd", "correlation")
#: Methods with a p-value share ``alpha`` (Bonferroni); see docs/drift.md.
_TESTS = ("domain_classifier", "mmd", "correlation")

__all__ = ["METHODS", "MultivariateOptions", "multivariate_drift"]


@dataclass(frozen=True)
class MultivariateOptions:
    """Settings of the multivariate methods (defaults as documented in docs/drift.md).

    ``min_rows``: fewer sampled rows on either side and no method decides.
    ``alpha``: the family-wise false-alarm rate of the tests, split evenly
    (Bonferroni) among the tests that run.
    """

    methods: tuple[str, ...] = METHODS
    min_rows: int = 100
    alpha: float = 0.05
    max_levels: int = 20
    pca_variance: float = 0.65
    pca_sigma: float = 3.0
    classifier_rows: int = 5000
    auc_threshold: float = 0.55
    mmd_rows: int = 1000
    permutations: int = 200
    correlation_threshold: float = 0.2
    seed: int = 0

    def __post_init__(self) -> None:
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown:
            raise ConfigError(
                f"multivariate methods: unknown {', '.join(map(repr, unknown))}; "
                f"allowed: {', '.join(METHODS)}"
            )
        if self.min_rows < 10:
            raise ConfigError(f"multivariate min_rows must be at least 10, got {self.min_rows}")
        if not 0 < self.alpha < 1:
            raise ConfigError(f"multivariate alpha must be in (0, 1), got {self.alpha}")


def multivariate_drift(
    ref: DatasetProfile, cur: DatasetProfile, opts: MultivariateOptions | None = None
) -> dict[str, Any]:
    """The ``"multivariate"`` report section: each method's result and the verdict."""
    o = opts or MultivariateOptions()
    sel = select_columns(ref, cur)
    rs = joint_sample(ref, sel.numeric, sel.categorical)
    cs = joint_sample(cur, sel.numeric, sel.categorical)
    enc = Encoder(o.max_levels).fit(rs, sel.numeric, sel.categorical)
    excluded = {**sel.excluded, **enc.dropped}
    sample = {
        "reference_rows": rs.n,
        "current_rows": cs.n,
        "reference_of": ref.n_rows,
        "current_of": cur.n_rows,
        "columns": enc.describe(),
        "excluded": excluded,
    }
    reason = _cannot_decide(rs.n, cs.n, enc.n_features, o.min_rows)
    n_tests = sum(1 for m in o.methods if m in _TESTS)
    alpha = o.alpha / max(n_tests, 1)
    results: dict[str, DriftResult] = {}
    for m in o.methods:
        if reason is None:
            try:
                results[m] = _run(m, rs, cs, enc, o, alpha)
            except MissingDependencyError as exc:
                results[m] = _undecided(m, rs.n, cs.n, str(exc))
        else:
            results[m] = _undecided(m, rs.n, cs.n, reason)
    tests = ", ".join(m for m in o.methods if m in _TESTS)
    decided = [r for r in results.values() if r.drifted is not None]
    drifted = any(r.drifted for r in decided) if decided else None
    return {
        "drifted": drifted,
        "drifted_methods": [m for m, r in results.items() if r.drifted],
        "rule": (
            f"drifted when any method drifts; the tests ({tests}) "
            f"share alpha={o.alpha} (each at {alpha:.4g}), PCA reconstruction error drifts "
            f"outside its {o.pca_sigma:g}-sigma reference band"
        ),
        "sample": sample,
        "methods": {m: r.to_dict() for m, r in results.items()},
    }


def _cannot_decide(n_ref: int, n_cur: int, n_features: int, min_rows: int) -> str | None:
    # columns first: with none usable the joint sample is empty, and "too few rows: 0"
    # would blame the data's size (a file of embedding, text or image columns only)
    if n_features < 2:
        return (
            f"{n_features} usable feature column(s); multivariate methods need at least 2 "
            "numeric or categorical columns (embedding, text and image columns have their own "
            "methods; sample.excluded says why each other column is left out)"
        )
    if n_ref < min_rows or n_cur < min_rows:
        return (
            f"too few rows: {n_ref} reference and {n_cur} current rows sampled, "
            f"at least {min_rows} a side are needed"
        )
    return None


def _undecided(method: str, n_ref: int, n_cur: int, reason: str) -> DriftResult:
    return DriftResult(
        method=method,
        statistic=math.nan,
        p_value=None,
        threshold=math.nan,
        drifted=None,
        n_reference=n_ref,
        n_current=n_cur,
        computed="insufficient",
        details={"reason": reason},
    )


def _run(
    method: str,
    rs: Any,
    cs: Any,
    enc: Encoder,
    o: MultivariateOptions,
    alpha: float,
) -> DriftResult:
    if method == "pca_reconstruction":
        return pca_reconstruction(
            enc.design(rs), enc.design(cs), variance=o.pca_variance, sigma=o.pca_sigma, seed=o.seed
        )
    if method == "mmd":
        if not enc.numeric:
            return _undecided(method, rs.n, cs.n, "no usable numeric column")
        return mmd(
            enc.scaled_numeric(rs),
            enc.scaled_numeric(cs),
            alpha=alpha,
            max_rows=o.mmd_rows,
            permutations=o.permutations,
            seed=o.seed,
        )
    if method == "correlation":
        return correlation_drift(
            enc.raw_numeric(rs),
            enc.raw_numeric(cs),
            enc.numeric,
            enc.codes(rs),
            enc.codes(cs),
            enc.categorical,
            alpha=alpha,
            threshold=o.correlation_threshold,
            levels=enc.levels,
        )
    ref = np.column_stack([enc.raw_numeric(rs), enc.codes(rs)])
    cur = np.column_stack([enc.raw_numeric(cs), enc.codes(cs)])
    mask = [False] * len(enc.numeric) + [True] * len(enc.categorical)
    return domain_classifier(
        ref,
        cur,
        enc.feature_names(),
        mask,
        alpha=alpha,
        auc_threshold=o.auc_threshold,
        max_rows=o.classifier_rows,
        seed=o.seed,
    )
