"""The ``"performance"`` and ``"segments"`` sections of a report (docs/report-format.md).

Realized metrics come from the current profile's performance accumulator
(exact, over every labelled row). Estimated metrics come from CBPE
(classifiers: fitted on the reference's joint sample of scores and target) or
DLE (regression: features + prediction -> error), applied to the current
profile's reservoir sample: exact up to the reservoir size, a uniform sample
beyond. A reference profiled by ``build_profile`` keeps these columns for up
to ``ESTIMATION_ROWS`` (100k) rows, so the estimator sees every row of
references up to that size, in an order that does not depend on the seed.
The fitted estimator is cached per reference profile, so chunks and windows
compared with one reference fit it once.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from driftline.errors import ConfigError, DriftlineError
from driftline.schema import Kind, Role
from driftline.stats.performance import CLASSIFICATION_METRICS, REGRESSION_METRICS
from driftline.stats.performance._labels import Label
from driftline.stats.performance.profile_part import PerformancePart, PerformanceSpec
from driftline.stats.profile import CATEGORY_KINDS, DatasetProfile

Range = tuple[float | None, float | None]
_METRICS = (*CLASSIFICATION_METRICS, *REGRESSION_METRICS)


@dataclass(frozen=True)
class PerformanceOptions:
    """Settings of the performance section.

    ``valid_ranges``: ``{column: (low, high)}`` (None = unbounded); score
    columns default to ``(0, 1)``. ``out_of_bounds_share``: the share of
    values outside their range above which the check fails (default 0: any).
    ``confidence_drop``: the fall of the mean top-class probability from the
    reference beyond which confidence has collapsed. ``estimate``: run CBPE/DLE.
    """

    estimate: bool = True
    valid_ranges: Mapping[str, Range] = field(default_factory=dict)
    out_of_bounds_share: float = 0.0
    confidence_drop: float = 0.05
    worst_segments: bool = True
    min_support: int = 30
    alpha: float = 0.05
    seed: int = 0

    def __post_init__(self) -> None:
        for col, rng in self.valid_ranges.items():
            ok = isinstance(rng, tuple | list) and len(rng) == 2
            if not ok or any(v is not None and not isinstance(v, int | float) for v in rng):
                raise ConfigError(
                    f"valid_ranges[{col!r}]: expected (low, high) with numbers or None, got {rng!r}"
                )
        if not 0 <= self.out_of_bounds_share <= 1 or not 0 <= self.confidence_drop <= 1:
            raise ConfigError("out_of_bounds_share and confidence_drop must lie in [0, 1]")


# -- reservoir samples ---------------------------------------------------------------------


def joint_sample(profile: DatasetProfile, columns: list[str]) -> dict[str, npt.NDArray[Any]]:
    """The rows every column's reservoir holds, aligned by their sampling keys."""
    res = [profile.columns[c].reservoir for c in columns]
    keys = res[0].keys
    for r in res[1:]:
        keys = np.intersect1d(keys, r.keys, assume_unique=True)
    keys = np.sort(keys)
    out = {}
    for c, r in zip(columns, res, strict=True):
        order = np.argsort(r.keys, kind="stable")
        pos = np.searchsorted(r.keys[order], keys)
        out[c] = r.values[order][pos]
    return out


def canonical_order(sample: dict[str, npt.NDArray[Any]]) -> dict[str, npt.NDArray[Any]]:
    """The sample's rows sorted by their numeric values, not by their random sampling keys.

    A reference profile holding every row then gives the same fit whatever the
    seed it was profiled with (the fits depend on row order through their folds).
    """
    numeric = [v for v in sample.values() if v.dtype.kind in "biuf"]
    if not numeric:
        return sample
    order = np.lexsort([np.nan_to_num(v.astype(np.float64), nan=np.inf) for v in numeric])
    return {k: v[order] for k, v in sample.items()}


def as_classes(values: npt.NDArray[Any], classes: list[Label]) -> npt.NDArray[Any]:
    """Reservoir strings (or floats) -> class labels; anything else -> None (missing)."""
    lookup: dict[str, Label] = {str(c): c for c in classes}
    if classes and all(isinstance(c, int) for c in classes):
        lookup |= {"false": 0, "true": 1} if set(classes) <= {0, 1} else {}
    out = np.empty(values.size, dtype=object)
    for i, v in enumerate(values.tolist()):
        key = None if v is None else (str(int(v)) if isinstance(v, float) and v == v else str(v))
        out[i] = lookup.get(key) if key is not None else None
    return out


def _scores(sample: dict[str, npt.NDArray[Any]], spec: PerformanceSpec) -> npt.NDArray[np.float64]:
    cols = [sample[s].astype(np.float64) for s in spec.scores]
    return cols[0] if len(cols) == 1 else np.column_stack(cols)


# -- estimation ------------------------------------------------------------------------------

_FITTED: weakref.WeakKeyDictionary[DatasetProfile, tuple[tuple[Any, ...], Any]] = (
    weakref.WeakKeyDictionary()
)


def _estimator(ref: DatasetProfile, spec: PerformanceSpec, seed: int) -> Any:
    """CBPE or DLE fitted on the reference's reservoir (cached per reference profile)."""
    part = ref.performance
    assert part is not None
    key = (ref.n_rows, spec.target, spec.prediction, spec.scores, seed)
    hit = _FITTED.get(ref)
    if hit is not None and hit[0] == key:
        return hit[1]
    if spec.task == "regression":
        from driftline.stats.estimation import DLE

        feats = _feature_names(ref)
        assert spec.prediction is not None
        sample = canonical_order(joint_sample(ref, [spec.target, spec.prediction, *feats]))
        est: Any = DLE(seed=seed, n_threads=1).fit(
            _frame(sample, ref, feats), sample[spec.prediction], sample[spec.target]
        )
    else:
        from driftline.stats.estimation import CBPE

        classes = part.classes
        sample = canonical_order(joint_sample(ref, [spec.target, *spec.scores]))
        y = as_classes(sample[spec.target], classes)
        est = CBPE(classes=classes, seed=seed).fit(_scores(sample, spec), y)
    _FITTED[ref] = (key, est)
    return est


def _feature_names(profile: DatasetProfile) -> list[str]:
    return [s.name for s in profile.schema if s.role is Role.FEATURE]


def _frame(sample: dict[str, npt.NDArray[Any]], profile: DatasetProfile, names: list[str]) -> Any:
    import pandas as pd

    data = {}
    for n in names:
        v = sample[n]
        data[n] = v.astype(object) if profile.columns[n].kind in CATEGORY_KINDS else v
    return pd.DataFrame(data, columns=names)


def estimate(
    ref: DatasetProfile, cur: DatasetProfile, spec: PerformanceSpec, seed: int = 0
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(estimated metrics, details)``; the details say why when nothing was estimated."""
    if ref.performance is None or ref.performance.n_labelled == 0:
        return {}, {"method": None, "reason": "the reference has no labels to fit an estimator"}
    if spec.task == "classification" and not spec.scores:
        return {}, {"method": None, "reason": "CBPE needs score columns (class probabilities)"}
    # the current side needs no target: estimation is for rows without labels
    missing = [c for c in spec.columns if c not in ref.columns]
    missing += [c for c in spec.columns[1:] if c not in cur.columns]
    if spec.task == "regression":  # DLE reads the features too
        missing += [c for c in _feature_names(ref) if c not in cur.columns]
    if missing:
        return {}, {"method": None, "reason": f"columns {missing} are not on both sides"}
    try:
        est = _estimator(ref, spec, seed)
        if spec.task == "regression":
            feats = _feature_names(ref)
            assert spec.prediction is not None
            sample = joint_sample(cur, [spec.prediction, *feats])
            res = est.estimate_result(_frame(sample, cur, feats), sample[spec.prediction])
        else:
            cols = [*([spec.prediction] if spec.prediction else []), *spec.scores]
            sample = joint_sample(cur, cols)
            pred = as_classes(sample[spec.prediction], est.classes) if spec.prediction else None
            res = est.estimate_result(_scores(sample, spec), pred)
    except (DriftlineError, ValueError) as exc:  # e.g. too few labelled reference rows
        return {}, {"method": "dle" if spec.task == "regression" else "cbpe", "reason": str(exc)}
    details = {
        "method": res.method,
        "n": res.n,
        "computed": "reservoir" if res.n < cur.n_rows else "exact",
        "n_reference": est.n_reference,
        "n_reference_rows": ref.n_rows,
        "excluded": res.excluded,
        **res.details,
    }
    return res.metrics, details


# -- the section -----------------------------------------------------------------------------


def _realized(results: Mapping[str, Any] | None) -> dict[str, float]:
    if not results:
        return {}
    return {m: float(results[m]) for m in _METRICS if results.get(m) is not None}


def _drift_of(drift: Mapping[str, Any], column: str | None) -> dict[str, Any] | None:
    if column is None or column not in drift:
        return None
    return {"column": column, **dict(drift[column])}


def performance_section(
    ref: DatasetProfile,
    cur: DatasetProfile,
    drift: Mapping[str, Mapping[str, Any]],
    options: PerformanceOptions | None = None,
) -> dict[str, Any] | None:
    """The ``"performance"`` entry (None without the roles); ``drift``: ``{column: result}``."""
    o = options or PerformanceOptions()
    part_c, part_r = cur.performance, ref.performance
    if part_c is None and part_r is None:
        return None
    spec = (part_c or part_r).spec  # type: ignore[union-attr]
    res_c = part_c.results() if part_c is not None else None
    res_r = part_r.results() if part_r is not None else None
    task = (part_c.task if part_c else None) or (part_r.task if part_r else None)
    n_labelled = part_c.n_labelled if part_c is not None else 0
    out: dict[str, Any] = {
        "task": task or ("regression" if spec.task == "regression" else "binary"),
        "n_labelled": n_labelled,
        "n_rows": cur.n_rows,
        "target": spec.target,
        "prediction": spec.prediction,
        "scores": list(spec.scores),
        "realized": _realized(res_c),
        "estimated": {},
        "reference": _realized(res_r),
    }
    if res_c:
        out["n"] = res_c["n"]
        out["computed"] = res_c["computed"]
        out["excluded"] = {
            "unlabelled": part_c.n_unlabelled if part_c else 0,
            "bad_label": part_c.n_bad_label if part_c else 0,
            **res_c["excluded"],
        }
        out["details"] = {
            k: res_c[k]
            for k in (
                "classes",
                "positive_class",
                "confusion_matrix",
                "per_class",
                "roc_auc_error_bound",
                "pr_auc_error_bound",
                "error_quantiles",
                "abs_error_quantiles",
            )
            if k in res_c
        }
    if o.estimate:
        out["estimated"], out["estimation"] = estimate(ref, cur, spec, o.seed)
    out["signals"] = _signals(ref, cur, spec, drift, o, n_labelled)
    out["warnings"] = _warnings(out, part_c, part_r)
    return out


def _signals(
    ref: DatasetProfile,
    cur: DatasetProfile,
    spec: PerformanceSpec,
    drift: Mapping[str, Mapping[str, Any]],
    o: PerformanceOptions,
    n_labelled: int,
) -> dict[str, Any]:
    signals: dict[str, Any] = {
        "prediction_drift": _drift_of(drift, spec.prediction),
        "score_drift": {s: _drift_of(drift, s) for s in spec.scores},
        "label_drift": _drift_of(drift, spec.target) if n_labelled else None,
    }
    conf_r = ref.performance.mean_confidence if ref.performance else None
    conf_c = cur.performance.mean_confidence if cur.performance else None
    if conf_c is not None or conf_r is not None:
        drop = None if conf_r is None or conf_c is None else conf_r - conf_c
        collapsed = None if drop is None else drop > o.confidence_drop
        signals["confidence"] = {
            "reference": conf_r,
            "current": conf_c,
            "drop": drop,
            "threshold": o.confidence_drop,
            "collapsed": collapsed,
            "status": "ok" if not collapsed else "fail",
            "n_current": cur.performance.confidence_n if cur.performance else 0,
        }
    signals["out_of_bounds"] = out_of_bounds(cur, spec, o)
    return signals


def out_of_bounds(
    cur: DatasetProfile, spec: PerformanceSpec, o: PerformanceOptions
) -> dict[str, Any]:
    """Per column with a valid range: how many values fall outside it.

    Exact when min and max are inside the range (0) or all rows fit the
    reservoir; else the share in the reservoir sample times the row count.
    """
    ranges: dict[str, Range] = {s: (0.0, 1.0) for s in spec.scores}
    ranges |= {str(k): (v[0], v[1]) for k, v in o.valid_ranges.items()}
    out: dict[str, Any] = {}
    for name, (lo, hi) in ranges.items():
        if name not in cur.columns:
            raise ConfigError(
                f"valid_ranges: column {name!r} is not in the data "
                f"(columns: {', '.join(list(cur.columns)[:30])})"
            )
        col = cur.columns[name]
        if col.kind is not Kind.NUMERIC:
            raise ConfigError(f"valid_ranges: column {name!r} is {col.kind.value}, not numeric")
        lo_f = -math.inf if lo is None else float(lo)
        hi_f = math.inf if hi is None else float(hi)
        m = col.moments
        n = col.present - col.non_finite
        if m.n == 0 or (m.min >= lo_f and m.max <= hi_f):
            count, computed = 0, "exact"
        else:
            v = col.reservoir.values.astype(np.float64)
            v = v[np.isfinite(v)]
            bad = int(np.count_nonzero((v < lo_f) | (v > hi_f)))
            exact = v.size >= n
            count = bad if exact else round(bad / max(v.size, 1) * n)
            computed = "exact" if exact else f"reservoir ({v.size} values)"
        share = count / n if n else None
        out[name] = {
            "low": lo,
            "high": hi,
            "n_out": count,
            "share": share,
            "min": m.min if m.n else None,
            "max": m.max if m.n else None,
            "threshold": o.out_of_bounds_share,
            "status": "fail" if share is not None and share > o.out_of_bounds_share else "ok",
            "computed": computed,
        }
    return out


def _warnings(
    out: Mapping[str, Any], part_c: PerformancePart | None, part_r: PerformancePart | None
) -> list[str]:
    warn = []
    ex = out.get("excluded") or {}
    if ex.get("unknown_class"):
        classes = part_r.classes if part_r else []
        warn.append(
            f"{ex['unknown_class']} labelled rows have a class not seen in the reference "
            f"{classes}; they are excluded from the metrics"
        )
    for key, what in (
        ("nan_score", "rows with a NaN score are left out of the score metrics"),
        ("renormalised", "rows of probabilities that did not sum to 1 were rescaled"),
        ("missing_prediction", "labelled rows without a prediction are excluded"),
        ("bad_label", "targets that are not numbers are excluded"),
    ):
        if ex.get(key):
            warn.append(f"{ex[key]} {what}")
    if part_c is not None and part_r is not None and part_c.classes and part_r.classes:
        unseen = [c for c in part_c.classes if c not in part_r.classes]
        if unseen:
            warn.append(f"classes {unseen} are not among the reference's classes {part_r.classes}")
    if out.get("n_labelled") == 0:
        warn.append("no labelled rows in the current data: realized metrics are not available")
    n = int(out.get("n") or 0)
    if 0 < n < FEW_LABELS:
        note = f"only {n} labelled rows: too few for the realized metrics to be taken at face value"
        acc = (out.get("realized") or {}).get("accuracy")
        if acc is not None and math.isfinite(acc):
            lo, hi = wilson_interval(round(acc * n), n)
            note += f" (accuracy {acc:.3g}: 95% interval {lo:.2f} to {hi:.2f}, Wilson)"
        warn.append(note)
    return warn


#: Fewer labelled rows than this get a warning with the accuracy's interval (the
#: drift verdict's ``min_samples`` default).
FEW_LABELS = 30


def wilson_interval(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """The Wilson score interval of a proportion ``k / n`` (95% by default)."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)
