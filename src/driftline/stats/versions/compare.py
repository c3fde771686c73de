"""Champion (A) against challenger (B): paired (shadow) or unpaired (split traffic).

    from driftline.stats.versions import compare_paired, compare_unpaired, VersionData
    c = compare_paired(labels, pred_a, pred_b, scores_a, scores_b, task="classification")
    c.verdict            # better | worse | equivalent | undecided | insufficient_data
                         # | not_comparable
    c.metrics            # one MetricVerdict per guarded metric (always-valid sequence)

Guarded metrics get a sequential verdict (``alpha`` shared among them,
Bonferroni): accuracy and, with binary scores, ROC AUC for classifiers; MAE and
RMSE for regression. Paired comparisons add agreement, McNemar, DeLong, paired
bootstrap intervals (F1, MAE, RMSE, Brier, calibration error) and the score
shift. The overall verdict is ``worse`` if any guarded metric is worse, else
``better`` if any is better, else ``equivalent`` if all are, else
``insufficient_data`` / ``undecided``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from driftline.errors import ConfigError, InputError
from driftline.stats.versions import bootstrap as bs
from driftline.stats.versions import paired as pt
from driftline.stats.versions.sequential import MetricVerdict, Verdict, decide

Task = Literal["classification", "regression"]
Overall = Literal[
    "better", "worse", "equivalent", "undecided", "insufficient_data", "not_comparable"
]
#: Smallest differences worth knowing about, absolute; losses default to 5 % of A's value.
DEFAULT_MIN_EFFECT = {"accuracy": 0.01, "auc": 0.01}
#: The guarded metrics (classification: accuracy, auc; regression: mae, rmse).
GUARDED = ("accuracy", "auc", "mae", "rmse")


@dataclass(frozen=True)
class CompareOptions:
    """``alpha``: false-verdict rate shared by the guarded metrics; ``min_n``: labelled
    requests per version before any verdict; ``min_effect``: the smallest difference
    the user cares about, per metric (losses: ``relative_effect`` of A's value)."""

    alpha: float = 0.05
    min_n: int = 200
    min_effect: Mapping[str, float] = field(default_factory=dict)
    relative_effect: float = 0.05
    #: resamples of the paired bootstrap intervals (0: skip them)
    bootstrap_resamples: int = 1000
    seed: int = 0

    def __post_init__(self) -> None:
        def bad(name: str, value: Any, allowed: str) -> ConfigError:
            return ConfigError(f"comparison {name}={value!r}; allowed: {allowed}")

        if not 0 < self.alpha < 1:
            raise bad("alpha", self.alpha, "a number between 0 and 1")
        if isinstance(self.min_n, bool) or not isinstance(self.min_n, int) or self.min_n < 2:
            raise bad("min_n", self.min_n, "a whole number >= 2")
        if not self.relative_effect > 0:
            raise bad("relative_effect", self.relative_effect, "a number > 0")
        if self.bootstrap_resamples < 0:
            raise bad("bootstrap_resamples", self.bootstrap_resamples, "0 (off) or more")
        for metric, value in self.min_effect.items():
            if metric not in GUARDED:
                raise bad(f"min_effect.{metric}", value, f"keys {', '.join(GUARDED)}")
            if not (isinstance(value, int | float) and value > 0 and math.isfinite(value)):
                raise bad(f"min_effect.{metric}", value, "a number > 0")

    def effect(self, metric: str, a_value: float) -> float:
        if metric in self.min_effect:
            return float(self.min_effect[metric])
        if metric in DEFAULT_MIN_EFFECT:
            return DEFAULT_MIN_EFFECT[metric]
        return max(abs(a_value) * self.relative_effect, 1e-12)


@dataclass(frozen=True)
class VersionData:
    """One version's labelled requests: labels, predictions, optional binary scores."""

    labels: ArrayLike
    predictions: ArrayLike
    scores: ArrayLike | None = None


@dataclass(frozen=True)
class Comparison:
    verdict: Overall
    paired: bool
    task: str | None
    n_a: int
    n_b: int
    metrics: list[MetricVerdict] = field(default_factory=list)
    reason: str | None = None
    n_needed: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def metric(self, name: str) -> MetricVerdict:
        for m in self.metrics:
            if m.metric == name:
                return m
        raise KeyError(f"no metric {name!r}; compared: {[m.metric for m in self.metrics]}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "paired": self.paired,
            "task": self.task,
            "n_a": self.n_a,
            "n_b": self.n_b,
            "reason": self.reason,
            "n_needed": self.n_needed,
            "metrics": [_finite(m.to_dict()) for m in self.metrics],
            **_finite(self.extra),
        }


def not_comparable(
    reason: str, *, paired: bool, task: str | None = None, n_a: int = 0, n_b: int = 0
) -> Comparison:
    return Comparison("not_comparable", paired, task, n_a, n_b, reason=reason)


def _finite(d: Any) -> Any:
    if isinstance(d, dict):
        return {k: _finite(v) for k, v in d.items()}
    if isinstance(d, list):
        return [_finite(v) for v in d]
    if isinstance(d, float) and not math.isfinite(d):
        return None
    return d


def _overall(metrics: Sequence[MetricVerdict]) -> tuple[Verdict, int | None]:
    vs = [m.verdict for m in metrics]
    needed = [m.n_needed for m in metrics if m.n_needed is not None]
    if "worse" in vs:
        return "worse", None
    if "better" in vs:
        return "better", None
    if vs and all(v == "equivalent" for v in vs):
        return "equivalent", None
    if "insufficient_data" in vs:
        return "insufficient_data", None
    return "undecided", max(needed) if needed else None


def _check_task(task: str | None, y: NDArray[Any], preds: Mapping[str, NDArray[Any]]) -> str | None:
    """A reason the versions cannot be compared on these labels, or None."""
    if task not in ("classification", "regression"):
        return f"task {task!r} is not comparable; tasks: classification, regression"
    if task == "regression":
        for name, p in (("labels", y), *preds.items()):
            if p.dtype.kind not in "iuf":
                return f"regression needs numeric {name}; got {p.dtype} values"
        return None
    labels = set(y.tolist())
    for name, p in preds.items():
        if len(p) >= 20 and not labels & set(p.tolist()):
            shown = sorted(map(str, set(p.tolist())))[:5]
            return (
                f"version {name}'s predictions {shown} never equal a label value "
                f"{sorted(map(str, labels))[:5]}: different label sets"
            )
    return None


def _binary_scores(
    y: NDArray[Any], scores: ArrayLike | None
) -> tuple[NDArray[np.float64], Any] | None:
    if scores is None:
        return None
    values = np.unique(y)
    s = np.asarray(scores, dtype=np.float64)
    if len(values) != 2 or s.ndim != 1 or not np.isfinite(s).all():
        return None
    return s, values[1]


def compare_paired(
    labels: ArrayLike,
    pred_a: ArrayLike,
    pred_b: ArrayLike,
    scores_a: ArrayLike | None = None,
    scores_b: ArrayLike | None = None,
    *,
    task: str | None = "classification",
    options: CompareOptions | None = None,
) -> Comparison:
    """Compare B with A on the same labelled requests (see the module documentation)."""
    o = options or CompareOptions()
    y, a, b = np.asarray(labels), np.asarray(pred_a), np.asarray(pred_b)
    if not len(y) == len(a) == len(b):
        raise InputError(f"paired inputs differ in length: labels {len(y)}, A {len(a)}, B {len(b)}")
    n = len(y)
    if n == 0:
        return not_comparable(
            "no request was scored by both versions and labelled", paired=True, task=task
        )
    reason = _check_task(task, y, {"A": a, "B": b})
    if reason:
        return not_comparable(reason, paired=True, task=task, n_a=n, n_b=n)
    sa = _binary_scores(y, scores_a)
    sb = _binary_scores(y, scores_b)
    guarded = ["accuracy", "auc"] if task == "classification" else ["mae", "rmse"]
    if task == "classification" and (sa is None or sb is None):
        guarded.remove("auc")
    alpha = o.alpha / len(guarded)
    common: dict[str, Any] = {"alpha": alpha, "min_n": o.min_n, "paired": True}
    out: list[MetricVerdict] = []
    extra: dict[str, Any] = {}
    if task == "classification":
        ok_a, ok_b = (a == y).astype(float), (b == y).astype(float)
        d = ok_b - ok_a
        mc = pt.mcnemar(y, a, b)
        acc_a = float(ok_a.mean())
        out.append(
            decide(
                "accuracy",
                acc_a,
                float(ok_b.mean()),
                _var_mean(d),
                n,
                n,
                higher_is_better=True,
                min_effect=o.effect("accuracy", acc_a),
                method="paired difference",
                details={"mcnemar": mc.to_dict()},
                **common,
            )
        )
        extra["agreement"] = pt.agreement(a, b, o.alpha).to_dict()
        extra["mcnemar"] = mc.to_dict()
        if sa is not None and sb is not None:
            pos_ok = min(int((y == sa[1]).sum()), int((y != sa[1]).sum())) >= 2
            if pos_ok:
                dl = pt.delong(y, sa[0], sb[0], positive=sa[1])
                out.append(
                    decide(
                        "auc",
                        dl.auc_a,
                        dl.auc_b,
                        dl.variance,
                        n,
                        n,
                        higher_is_better=True,
                        min_effect=o.effect("auc", dl.auc_a),
                        method="delong",
                        details=dl.to_dict(),
                        **common,
                    )
                )
                extra["delong"] = dl.to_dict()
            extra["score_shift"] = pt.score_shift(sa[0], sb[0]).to_dict()
        names = ["f1", *(["brier", "ece"] if sa is not None and sb is not None else [])]
        names = names if o.bootstrap_resamples > 0 else []
        classes = sorted(set(y.tolist()), key=str)
        pos = sa[1] if sa is not None else None
        boots = []
        for name in names:
            ca = bs.components(name, y, a, sa[0] if sa else None, classes=classes, positive=pos)
            cb = bs.components(name, y, b, sb[0] if sb else None, classes=classes, positive=pos)
            boots.append((name, ca, cb))
        extra["bootstrap"] = _boots(boots, o)
    else:
        yf, af, bf = y.astype(float), a.astype(float), b.astype(float)
        ea, eb = np.abs(af - yf), np.abs(bf - yf)
        mae_a = float(ea.mean())
        out.append(
            decide(
                "mae",
                mae_a,
                float(eb.mean()),
                _var_mean(eb - ea),
                n,
                n,
                higher_is_better=False,
                min_effect=o.effect("mae", mae_a),
                method="paired difference",
                **common,
            )
        )
        ra, rb, var = _rmse_paired(ea * ea, eb * eb)
        out.append(
            decide(
                "rmse",
                ra,
                rb,
                var,
                n,
                n,
                higher_is_better=False,
                min_effect=o.effect("rmse", ra),
                method="delta method",
                **common,
            )
        )
        extra["score_shift"] = pt.score_shift(af, bf).to_dict()
        extra["bootstrap"] = _boots(
            [
                (name, bs.components(name, y, a), bs.components(name, y, b))
                for name in (("mae", "rmse") if o.bootstrap_resamples > 0 else ())
            ],
            o,
        )
    verdict, needed = _overall(out)
    return Comparison(verdict, True, task, n, n, out, None, needed, extra)


def _boots(
    items: list[tuple[str, bs.Components, bs.Components]], o: CompareOptions
) -> list[dict[str, Any]]:
    """Paired bootstrap intervals of several metrics on one set of resamples."""
    rs = bs.paired_bootstraps(items, resamples=o.bootstrap_resamples, alpha=o.alpha, seed=o.seed)
    return [r.to_dict() for r in rs]


def _var_mean(x: NDArray[np.float64]) -> float:
    """Variance of the mean of ``x`` (``nan`` below two values)."""
    return float(np.var(x, ddof=1) / len(x)) if len(x) > 1 else math.nan


def _rmse_paired(
    sq_a: NDArray[np.float64], sq_b: NDArray[np.float64]
) -> tuple[float, float, float]:
    """RMSEs of A and B and the delta-method variance of their difference."""
    ma, mb = float(sq_a.mean()), float(sq_b.mean())
    ra, rb = math.sqrt(ma), math.sqrt(mb)
    if len(sq_a) < 2 or ra == 0 or rb == 0:
        return ra, rb, math.nan
    cov = np.cov(np.vstack([sq_a, sq_b])) / len(sq_a)
    ga, gb = -1 / (2 * ra), 1 / (2 * rb)
    return ra, rb, float(ga * ga * cov[0, 0] + gb * gb * cov[1, 1] + 2 * ga * gb * cov[0, 1])


def compare_unpaired(
    a: VersionData,
    b: VersionData,
    *,
    task: str | None = "classification",
    options: CompareOptions | None = None,
) -> Comparison:
    """Compare B with A when each served its own share of traffic (two samples)."""
    o = options or CompareOptions()
    ya, pa = np.asarray(a.labels), np.asarray(a.predictions)
    yb, pb = np.asarray(b.labels), np.asarray(b.predictions)
    for name, y, p in (("A", ya, pa), ("B", yb, pb)):
        if len(y) != len(p):
            raise InputError(f"version {name}: {len(y)} labels but {len(p)} predictions")
    na, nb = len(ya), len(yb)
    for name, k in (("A", na), ("B", nb)):
        if k == 0:
            return not_comparable(
                f"version {name} has no labelled requests yet (no traffic, or no label arrived)",
                paired=False,
                task=task,
                n_a=na,
                n_b=nb,
            )
    y_all = np.concatenate([ya, yb])
    reason = _check_task(task, y_all, {"A": pa, "B": pb}) or (
        _check_task(task, ya, {"A": pa}) or _check_task(task, yb, {"B": pb})
    )
    if reason:
        return not_comparable(reason, paired=False, task=task, n_a=na, n_b=nb)
    guarded: list[tuple[str, tuple[float, float], tuple[float, float], str]] = []
    if task == "classification":
        guarded.append(("accuracy", _prop(ya, pa), _prop(yb, pb), "two proportions"))
        sa, sb = _binary_scores(ya, a.scores), _binary_scores(yb, b.scores)
        if sa is not None and sb is not None and _two_each(ya, sa[1]) and _two_each(yb, sb[1]):
            guarded.append(
                (
                    "auc",
                    pt.auc_variance(ya, sa[0], sa[1]),
                    pt.auc_variance(yb, sb[0], sb[1]),
                    "delong (two samples)",
                )
            )
    else:
        ea = np.abs(pa.astype(float) - ya.astype(float))
        eb = np.abs(pb.astype(float) - yb.astype(float))
        guarded.append(
            ("mae", (float(ea.mean()), _var_mean(ea)), (float(eb.mean()), _var_mean(eb)), "welch")
        )
        guarded.append(("rmse", _rmse(ea * ea), _rmse(eb * eb), "delta method"))
    alpha = o.alpha / len(guarded)
    out = [
        decide(
            name,
            va,
            vb,
            var_a + var_b,
            na,
            nb,
            higher_is_better=bs.HIGHER_IS_BETTER[name],
            min_effect=o.effect(name, va),
            alpha=alpha,
            min_n=o.min_n,
            method=method,
            paired=False,
        )
        for name, (va, var_a), (vb, var_b), method in guarded
    ]
    verdict, needed = _overall(out)
    return Comparison(verdict, False, task, na, nb, out, None, needed, {})


def _two_each(y: NDArray[Any], positive: Any) -> bool:
    pos = int((y == positive).sum())
    return pos >= 2 and len(y) - pos >= 2


def _prop(y: NDArray[Any], p: NDArray[Any]) -> tuple[float, float]:
    """Accuracy and its variance (smoothed (k+1)/(n+2) so 0 % and 100 % keep a width)."""
    n = len(y)
    k = int(np.count_nonzero(p == y))
    s = (k + 1) / (n + 2)
    return k / n, s * (1 - s) / n


def _rmse(sq: NDArray[np.float64]) -> tuple[float, float]:
    m = float(sq.mean())
    r = math.sqrt(m)
    if len(sq) < 2 or r == 0:
        return r, math.nan
    return r, float(np.var(sq, ddof=1) / len(sq)) / (4 * m)
