"""Which method decides drift for a column, and the dataset-level verdict.

The default rule ("auto"), documented in docs/drift.md:

* Too few values on either side (fewer than ``min_samples``, default 30):
  no verdict ("insufficient data").
* Numeric and text (length) columns: the effect size is the
  Wasserstein distance normalised by the reference standard deviation; the
  guard test is two-sample Kolmogorov-Smirnov.
* Embedding columns (vectors): the test is maximum mean discrepancy (RBF
  kernel, permutation p-value) on the sampled vectors; every other vector
  method (centroid cosine distance, norm KS, out-of-domain share, domain
  classifier, random projections) is computed beside it.
* Categorical and boolean columns: the effect size is the Jensen-Shannon
  distance (base 2); the guard test is chi-squared.
* A column drifts when its change is both *significant* (the guard test's
  p-value survives Benjamini-Hochberg across all tested columns at ``alpha``)
  and *large enough to matter* (effect >= threshold). Large samples make every
  p-value tiny, so there the effect size decides; small samples make every
  distance noisy, so there the test decides.
* The dataset drifts when any column drifts. Under no drift the chance of a
  false dataset alarm is at most ``alpha`` (Benjamini-Hochberg controls the
  family-wise error under the global null). A text or image column is one
  column however many descriptors it has (:func:`apply_verdicts`).

A user may instead name one method for all columns (``method="psi"``) or per
column; a distance then decides alone with its threshold, a test with its
(BH-adjusted) p-value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from driftline.schema import Kind, Role
from driftline.stats.drift import _bins
from driftline.stats.drift._categorical import (
    HINTS,
    id_like_bins,
    id_like_details,
    is_id_like,
    looks_like,
)
from driftline.stats.drift._result import DriftResult
from driftline.stats.drift.anderson import anderson_darling
from driftline.stats.drift.chi2 import chi_squared
from driftline.stats.drift.ks import kolmogorov_smirnov, kolmogorov_smirnov_bounded
from driftline.stats.drift.registry import (
    DRIFT_METHODS,
    ColumnFamily,
    DriftInputs,
    family_of,
    methods_for,
)
from driftline.stats.drift.shifts import mean_shift, quantile_shift, std_ratio
from driftline.stats.drift.wasserstein import wasserstein, wasserstein_binned
from driftline.stats.profile import CATEGORY_KINDS, ColumnProfile

#: The built-in binned distances computed here (with their sketch bounds); every method,
#: its kinds and thresholds are declared in its own module (:mod:`.registry`).
BINNED = ("psi", "jensen_shannon", "kl_divergence", "hellinger", "total_variation")


def method_names() -> tuple[str, ...]:
    """Every registered drift method (built-ins, then plug-ins), as configuration accepts them."""
    return DRIFT_METHODS.names()


def is_test(method: str) -> bool:
    """True when ``method`` is a registered hypothesis test (its threshold is alpha)."""
    m = DRIFT_METHODS.get(method)
    return m is not None and m.is_test


#: Effect thresholds of the default rule (both guarded by a test, see module doc).
AUTO_NUMERIC_EFFECT = 0.05
AUTO_CATEGORICAL_EFFECT = 0.05
NO_DRIFT_ROLES = frozenset({Role.ID, Role.TIMESTAMP})
NO_DRIFT_KINDS = frozenset({Kind.DATETIME})


@dataclass(frozen=True)
class DriftOptions:
    """Settings of the drift evaluation; every field is documented in docs/drift.md."""

    method: str = "auto"
    per_column: Mapping[str, str] = field(default_factory=dict)
    thresholds: Mapping[str, float] = field(default_factory=dict)
    alpha: float = 0.05
    min_samples: int = 30
    n_bins: int = 10
    max_categories: int = 200
    all_metrics: bool = True

    def threshold(self, method: str) -> float:
        return DRIFT_METHODS[method].threshold(self.alpha, self.thresholds.get(method))


@dataclass
class ColumnDrift:
    """The deciding result of one column, the guard test and every other metric computed."""

    decision: DriftResult
    test: DriftResult | None
    metrics: dict[str, DriftResult]
    bins: _bins.Bins | None
    applicable: bool = True


def choose_method(name: str, kind: Kind, opts: DriftOptions) -> tuple[str, str, str | None]:
    """(method, source, note): the column's method and where it came from.

    A method named for the column (``per_column``) must apply to its kind (else
    :class:`ConfigError`); the global ``method`` applies to the kinds it can
    handle and the default rule ("auto") takes the others, with a note saying so.
    """
    allowed = methods_for(kind_family(kind))
    if name in opts.per_column:
        method = opts.per_column[name]
        if method != "auto" and method not in allowed:
            from driftline.errors import ConfigError

            raise ConfigError(
                f"drift method {method!r} does not apply to column {name!r} of kind "
                f"{kind.value}; allowed: auto, {', '.join(allowed)}"
            )
        return method, "per_column", None
    if opts.method == "auto":
        return "auto", "default", None
    if opts.method in allowed:
        return opts.method, "global", None
    return (
        "auto",
        "default",
        f"the global method {opts.method} does not apply to {kind.value} columns: "
        "the default rule decides",
    )


def _no_verdict(
    method: str, n_ref: int, n_cur: int, computed: str, details: dict[str, Any]
) -> DriftResult:
    """A result with no statistic: the column is not applicable, or has too few values."""
    return DriftResult(method, math.nan, None, math.nan, None, n_ref, n_cur, computed, details)


def evaluate_column(ref: ColumnProfile, cur: ColumnProfile, opts: DriftOptions) -> ColumnDrift:
    """All drift metrics of one column; ``decision.drifted`` is provisional until BH is applied."""
    kind = ref.kind
    method, source, note = choose_method(ref.name, kind, opts)
    how = {"method_source": source, **({"method_note": note} if note else {})}
    n_ref, n_cur = ref.present - ref.non_finite, cur.present - cur.non_finite
    categorical = kind in CATEGORY_KINDS
    named = method if method != "auto" else ("jensen_shannon" if categorical else "wasserstein")
    if ref.spec.role in NO_DRIFT_ROLES or kind in NO_DRIFT_KINDS:
        res = _no_verdict(
            named,
            n_ref,
            n_cur,
            "not_applicable",
            {"reason": f"no drift for role {ref.spec.role.value} / kind {kind.value}", **how},
        )
        return ColumnDrift(res, None, {}, None, applicable=False)
    if categorical:
        bins = _bins.category_bins(ref.categories, cur.categories)
        bin_computed = "exact" if bins.exact else "sketch"
    else:
        bins = _bins.numeric_bins(ref.histogram, cur.histogram, opts.n_bins)
        bin_computed = "bins"
    if min(n_ref, n_cur) < opts.min_samples:
        res = _no_verdict(
            named,
            n_ref,
            n_cur,
            "insufficient",
            {
                "reason": (
                    f"too few values to compare: {n_ref} in the reference and {n_cur} in "
                    f"the current data (missing values excluded); at least "
                    f"{opts.min_samples} a side are needed (min_samples)"
                ),
                "min_samples": opts.min_samples,
                **how,
            },
        )
        return ColumnDrift(res, None, {}, bins)
    if kind is Kind.EMBEDDING:
        return _evaluate_embedding(ref, cur, opts, method, how, bins)
    if source != "per_column" and is_id_like(ref):
        details, ov = id_like_details(ref, cur)
        res = DriftResult(
            named,
            ov.jensen_shannon,
            None,
            math.nan,
            None,
            n_ref,
            n_cur,
            "id_like",
            {**details, **how, "statistic_exact": ov.exact},
        )
        return ColumnDrift(res, None, {}, bins, applicable=False)

    metrics: dict[str, DriftResult] = {}
    family = family_of(ref)
    # Methods not marked by_default (Anderson-Darling is costly on large samples,
    # plug-ins) are computed only when asked for by name
    everyday = {m.name for m in DRIFT_METHODS if m.by_default and m.applies_to(family)}
    want = everyday if opts.all_metrics else {method}
    dist_bins = bins
    if categorical and not bins.exact and is_id_like(ref):  # a method named for the column
        dist_bins = id_like_bins(ref, cur)
    for m in BINNED:
        if m in want or m == method or (categorical and m == "jensen_shannon"):
            metrics[m] = _bins.binned_metric(m, dist_bins, opts.threshold(m), bin_computed)
            if dist_bins is not bins:
                metrics[m].details["estimate"] = (
                    "ID-like column past the exact limit: from the overlap of the distinct-count "
                    "sketches, taking every value as about equally frequent"
                )
    if categorical:
        metrics["chi_squared"] = chi_squared(
            bins.reference, bins.current, alpha=opts.alpha, computed=bin_computed
        )
        if not bins.exact:
            metrics["chi_squared"] = _bins.with_sketch(metrics["chi_squared"], bins)
        test = metrics["chi_squared"]
        effect = metrics["jensen_shannon"]
        auto_effect = AUTO_CATEGORICAL_EFFECT
    else:
        metrics.update(_numeric_metrics(ref, cur, bins, opts, want | {method}))
        test = metrics["ks"]
        effect = metrics["wasserstein"]
        auto_effect = AUTO_NUMERIC_EFFECT
    if method != "auto" and method not in metrics:  # a plug-in, computed from the registry
        inputs = DriftInputs(
            ref, cur, bins.reference, bins.current, bin_computed, opts.alpha, list(bins.labels)
        )
        metrics[method] = DRIFT_METHODS[method].compute(inputs, opts.threshold(method))
    if method == "auto":
        thr = float(opts.thresholds.get("auto", auto_effect))
        significant = test.p_value is not None and test.p_value < opts.alpha
        decision = replace(
            effect,
            threshold=thr,
            drifted=auto_verdict(effect, thr, significant),
            p_value=test.p_value,
            details={
                **effect.details,
                "test": test.method,
                "test_statistic": test.statistic,
                "rule": "auto",
                **how,
            },
        )
    else:
        decision = replace(metrics[method], details={**metrics[method].details, **how})
    if kind is Kind.CATEGORICAL and (shape := looks_like(ref)) is not None:
        decision.details.update(looks_like=shape, hint=HINTS[shape])
    return ColumnDrift(decision, test, metrics, bins)


def kind_family(kind: Kind) -> ColumnFamily:
    """The drift-method family of a column kind."""
    if kind is Kind.EMBEDDING:
        return "embedding"
    return "categorical" if kind in CATEGORY_KINDS else "numeric"


def value_bins(ref: ColumnProfile, cur: ColumnProfile, n_bins: int = 10) -> _bins.Bins:
    """Both sides' values (an embedding's norms, a text's lengths) counted in the reference's
    quantile bins plus under/overflow, from the exact histograms (no drift method run)."""
    return _bins.numeric_bins(ref.histogram, cur.histogram, n_bins)


#: The default rule's test for embedding columns (its MMD² must also be above 0).
AUTO_EMBEDDING_TEST = "mmd"


def _evaluate_embedding(
    ref: ColumnProfile,
    cur: ColumnProfile,
    opts: DriftOptions,
    method: str,
    how: dict[str, Any],
    bins: _bins.Bins,
) -> ColumnDrift:
    """Every vector method (or the one named); the default rule decides by MMD.

    The binned inputs are the norms' (for plug-ins and the report's norm
    distribution).
    """
    everyday = [m.name for m in DRIFT_METHODS if m.by_default and m.applies_to("embedding")]
    want = everyday if opts.all_metrics else [method if method != "auto" else AUTO_EMBEDDING_TEST]
    if method != "auto" and method not in want:
        want.append(method)
    if AUTO_EMBEDDING_TEST not in want:
        want.append(AUTO_EMBEDDING_TEST)
    inputs = DriftInputs(
        ref, cur, bins.reference, bins.current, "bins", opts.alpha, list(bins.labels)
    )
    metrics = {m: DRIFT_METHODS[m].compute(inputs, opts.threshold(m)) for m in want}
    test = metrics[AUTO_EMBEDDING_TEST]
    if method == "auto":
        decision = replace(
            test,
            threshold=float(opts.thresholds.get("auto", 0.0)),
            details={**test.details, "test": test.method, "rule": "auto", **how},
        )
        if test.drifted is None:
            decision = replace(decision, drifted=None)
    else:
        decision = replace(metrics[method], details={**metrics[method].details, **how})
    return ColumnDrift(decision, test if test.p_value is not None else None, metrics, bins)


def auto_verdict(effect: DriftResult, threshold: float, significant: bool) -> bool | None:
    """The default rule: drifted when significant and the effect reaches the threshold.

    With a bounded effect (``details["statistic_range"]``, a sketched column)
    it is ``None`` (undecided) unless the bounds settle it.
    """
    lo, hi = effect.details.get("statistic_range", (effect.statistic, effect.statistic))
    if hi < threshold:
        return False
    if not significant:
        return False if lo == hi else None
    return True if lo >= threshold else None


def _numeric_metrics(
    ref: ColumnProfile, cur: ColumnProfile, bins: _bins.Bins, opts: DriftOptions, want: set[str]
) -> dict[str, DriftResult]:
    out: dict[str, DriftResult] = {}
    r_sample = _finite(ref.reservoir.values)
    c_sample = _finite(cur.reservoir.values)
    r_all = ref.present - ref.non_finite
    c_all = cur.present - cur.non_finite
    exact = r_sample.size >= r_all and c_sample.size >= c_all
    sample_computed = "exact" if exact else "reservoir"
    ref_std = ref.moments.std
    if exact:
        out["ks"] = kolmogorov_smirnov(r_sample, c_sample, alpha=opts.alpha)
    else:
        _, rc, cc = _bins.fine_bins(ref.histogram, cur.histogram)
        out["ks"] = kolmogorov_smirnov_bounded(rc, cc, r_sample, c_sample, alpha=opts.alpha)
    if exact:
        out["wasserstein"] = wasserstein(
            r_sample, c_sample, ref_std=ref_std, threshold=opts.threshold("wasserstein")
        )
    else:
        edges, rc, cc = _bins.fine_bins(ref.histogram, cur.histogram)
        out["wasserstein"] = wasserstein_binned(
            edges, rc, cc, ref_std=ref_std, threshold=opts.threshold("wasserstein")
        )
    if "anderson_darling" in want:
        out["anderson_darling"] = anderson_darling(
            r_sample, c_sample, alpha=opts.alpha, computed=sample_computed
        )
    if "chi_squared" in want:
        out["chi_squared"] = chi_squared(
            bins.reference, bins.current, alpha=opts.alpha, computed="bins"
        )
    out["mean_shift"] = mean_shift(
        ref.moments.mean,
        ref_std,
        cur.moments.mean,
        r_all,
        c_all,
        threshold=opts.threshold("mean_shift"),
    )
    out["std_ratio"] = std_ratio(
        ref_std, cur.moments.std, r_all, c_all, threshold=opts.threshold("std_ratio")
    )
    probs = np.array([0.05, 0.25, 0.5, 0.75, 0.95])
    out["quantile_shift"] = quantile_shift(
        probs,
        ref.quantiles.quantiles(probs),
        cur.quantiles.quantiles(probs),
        ref_std,
        r_all,
        c_all,
        threshold=opts.threshold("quantile_shift"),
    )
    return out


def _finite(values: np.ndarray) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    return v[np.isfinite(v)]


def benjamini_hochberg(p_values: list[float]) -> list[float]:
    """BH-adjusted p-values (step-up), in the input order."""
    p = np.asarray(p_values, dtype=np.float64)
    m = p.size
    if m == 0:
        return []
    order = np.argsort(p)
    ranked = p[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    return [float(x) for x in out]


def apply_verdicts(
    results: dict[str, ColumnDrift],
    opts: DriftOptions,
    descriptor_of: Mapping[str, str] | None = None,
) -> tuple[bool, dict[str, Any]]:
    """Adjust test p-values with Benjamini-Hochberg, finalise each column, decide the dataset.

    ``descriptor_of`` maps a descriptor's column (``answer.words``) to its text or image
    column (``answer``). Such a column is one column of the verdict, whatever its number of
    descriptors: its own values and its descriptors are one family of tests. The family's
    p-value is Simes' (the smallest of its Benjamini-Hochberg-adjusted p-values), the
    families are adjusted together with Benjamini-Hochberg, and within each family that
    survives its members are adjusted with Benjamini-Hochberg at ``alpha * R / m`` (``R``
    families of ``m`` survived): Benjamini and Bogomolov's (2014) selective procedure. The
    column drifted when any member did; ``drifted_columns`` names it once and
    ``drifted_descriptors`` its descriptors that drifted. Without descriptors every column is
    a family of one and this is Benjamini-Hochberg across the columns.

    Columns without a verdict are listed by why: ``id_like_columns`` (almost all
    values distinct: drift by category is not measurable), ``undecided_columns``
    (past the sketch's exact limit the bounds straddle the threshold) and
    ``insufficient_columns``. None of them makes the dataset drift.
    """
    parent = dict(descriptor_of or {})

    def column_of(name: str) -> str:
        return parent.get(name, name)

    tested = [
        n
        for n, r in results.items()
        if r.applicable and r.decision.computed != "insufficient" and r.decision.p_value is not None
    ]
    families: dict[str, list[str]] = {}
    for n in tested:
        families.setdefault(column_of(n), []).append(n)
    within: dict[str, float] = {}  # member -> BH-adjusted p-value within its family
    for members in families.values():
        ps = [1.0 if (p := results[n].decision.p_value) is None else p for n in members]
        within.update(zip(members, benjamini_hochberg(ps), strict=True))
    simes = [min(within[n] for n in members) for members in families.values()]
    family_p = dict(zip(families, benjamini_hochberg(simes), strict=True))
    selected = sum(1 for q in family_p.values() if q < opts.alpha)
    for name in tested:
        r = results[name]
        d = r.decision
        fam = column_of(name)
        extra: dict[str, Any] = {}
        if len(families[fam]) == 1:
            p_adj = family_p[fam]
        else:  # Benjamini-Bogomolov: BH within the family at alpha * selected / families
            p_adj = min(1.0, within[name] * len(families) / max(selected, 1))
            extra = {"p_value_column": family_p[fam]}
        significant = family_p[fam] < opts.alpha and p_adj < opts.alpha
        drifted: bool | None
        if d.details.get("rule") == "auto":
            drifted = auto_verdict(d, d.threshold, significant)
        elif is_test(d.method):
            drifted = significant
        else:
            drifted = d.drifted
        r.decision = replace(
            d, drifted=drifted, details={**d.details, "p_value_adjusted": p_adj, **extra}
        )
    for r in results.values():
        d = r.decision
        if r.applicable and d.drifted is None and "statistic_range" in d.details:
            lo, hi = d.details["statistic_range"]
            d.details["reason"] = (
                f"undecided: past the exact limit {d.method} lies in [{lo:.4g}, {hi:.4g}], "
                f"which holds the threshold {d.threshold:.4g}"
            )
    drifted_cols: list[str] = []
    drifted_descriptors: dict[str, list[str]] = {}
    for n, r in results.items():
        if r.decision.drifted:
            col = column_of(n)
            if col not in drifted_cols:
                drifted_cols.append(col)
            if col != n:
                drifted_descriptors.setdefault(col, []).append(n)

    def listed(computed: str) -> list[str]:
        return [n for n, r in results.items() if r.decision.computed == computed]

    undecided = [
        n
        for n, r in results.items()
        if r.applicable and r.decision.drifted is None and r.decision.computed == "sketch"
    ]
    grouped = any(len(m) > 1 for m in families.values())
    rule = (
        f"drifted when any column drifts; a column drifts when its effect size reaches its "
        f"threshold and its test survives Benjamini-Hochberg at alpha={opts.alpha} across "
        f"{len(families)} tested columns"
        + (
            f" ({len(tested)} tests: a text or image column's own values and descriptors are "
            "one column, tested by Simes' combination and, when it survives, each at "
            "alpha x surviving/tested columns with Benjamini-Hochberg within the column; "
            "it drifts when any of them does)"
            if grouped
            else ""
        )
        + "; ID-like columns (almost all values distinct) get no verdict and do not count"
    )
    methods: dict[str, list[str]] = {}
    for n, r in results.items():
        if r.applicable or r.decision.computed == "id_like":
            key = "auto" if r.decision.details.get("rule") == "auto" else r.decision.method
            methods.setdefault(key, []).append(n)
    return bool(drifted_cols), {
        "rule": rule,
        "drifted_columns": drifted_cols,
        "drifted_descriptors": drifted_descriptors,
        "n_columns": len({column_of(n) for n in results}),
        "n_tested": len(families),
        "n_tests": len(tested),
        "id_like_columns": listed("id_like"),
        "undecided_columns": undecided,
        "insufficient_columns": listed("insufficient"),
        "methods": methods,
    }
