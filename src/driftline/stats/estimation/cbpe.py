"""Confidence-based performance estimation (CBPE) for classifiers without labels.

If the model's probabilities are calibrated, the label of a row is a coin
with the row's probability, so the confusion matrix of a chunk has a known
expectation: e.g. E[TP] = sum of P(positive) over rows predicted positive.
CBPE computes that expectation on an unlabelled chunk and derives accuracy,
precision, recall, F1 and ROC AUC from it.

Steps:

1. ``fit`` on reference scores with labels: test calibration (reliability
   error against what calibrated scores would show on as many rows); if the
   scores fail, fit scikit-learn's ``IsotonicRegression`` per class (one vs
   rest, rows renormalised for multiclass).
2. ``estimate`` on a chunk: calibrated probabilities -> expected confusion
   matrix -> metrics (ratios of expectations), and ROC AUC as the expected
   share of correctly ordered (positive, negative) pairs under the model's
   own score order.
3. The band: an interval for the chunk's *realized* metric. Labels are drawn
   ``n_simulations`` times, each time from the probabilities of one of
   ``n_boot`` calibration maps fitted to bootstrap resamples of the
   reference, the metric is computed on each draw, and the central
   ``confidence`` interval is reported. So it holds both the label noise of a
   chunk this size and the calibration's own uncertainty (how well the
   reference pins down P(y | score)), *if the calibration still holds* in
   the chunk (no concept shift).

CBPE assumes no concept shift: P(y | score) must be the same in the chunk as
in the reference. Covariate shift is fine; a change in what the labels mean
given the same inputs is not detected and gives confident, wrong estimates.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, Self

import numpy as np
import numpy.typing as npt

from driftline.errors import InputError, require
from driftline.stats.estimation._calibration import (
    CalibrationTest,
    IsotonicMaps,
    calibration_test,
    renormalise,
)
from driftline.stats.estimation._inputs import (
    Band,
    EstimationResult,
    band,
    nan_rows,
    probabilities,
)
from driftline.stats.performance._labels import (
    Label,
    check_kind,
    index_of,
    normalise_classes,
    normalise_labels,
)

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]

CBPE_METRICS = ("roc_auc", "accuracy", "precision", "recall", "f1")


class CBPE:
    """Estimate classification metrics of unlabelled chunks from calibrated scores.

    ``classes`` fixes the class order of score columns (default: the sorted
    labels seen in ``fit``). For two classes the positive class is
    ``classes[1]`` and a 1-d score is P(positive); precision/recall/F1 are of
    the positive class. For more classes they are macro averages and ROC AUC
    is one-vs-rest macro, as in :class:`~driftline.stats.performance.ClassificationMetrics`.
    ``calibration``: ``"auto"`` (calibrate when the test fails), ``"always"``
    or ``"never"``. ``calibration_tests`` holds the tests run in ``fit``: first
    the top-label confidence (P(prediction is right)), then one per score
    column (one vs rest); any failure triggers calibration in ``"auto"``.
    """

    def __init__(
        self,
        classes: Sequence[Any] | None = None,
        *,
        threshold: float = 0.5,
        calibration: Literal["auto", "always", "never"] = "auto",
        calibration_tolerance: float = 0.01,
        n_simulations: int = 200,
        confidence: float = 0.95,
        prob_tolerance: float = 1e-6,
        seed: int = 0,
        n_boot: int = 20,
    ) -> None:
        if calibration not in ("auto", "always", "never"):
            raise InputError("calibration: allowed values are 'auto', 'always', 'never'")
        if not 0 < confidence < 1 or n_simulations < 10 or not 1 <= n_boot <= n_simulations:
            raise InputError(
                "CBPE: 0 < confidence < 1, n_simulations >= 10 and "
                "1 <= n_boot <= n_simulations are required"
            )
        self.classes: list[Label] = normalise_classes(classes) if classes is not None else []
        self.threshold = threshold
        self.calibration = calibration
        self.calibration_tolerance = calibration_tolerance
        self.n_simulations = n_simulations
        self.confidence = confidence
        self.prob_tolerance = prob_tolerance
        self.seed = seed
        self.n_boot = n_boot
        self.calibration_tests: list[CalibrationTest] = []
        self.calibrated = False
        self._maps = IsotonicMaps(n_boot, seed)
        self.n_reference = 0

    @property
    def fitted(self) -> bool:
        return self.n_reference > 0

    def _k(self) -> int:
        return len(self.classes)

    # -- fit -------------------------------------------------------------------------

    def fit(self, scores: Any, y_true: Any) -> Self:
        """Learn on the reference: calibration test, and isotonic calibration if needed."""
        labels, missing, kind = normalise_labels(y_true, "y_true")
        if not self.classes:
            seen = np.unique(labels[~missing])
            self.classes = normalise_classes([v.item() for v in seen], "y_true")
        check_kind(kind, self.classes, "y_true")
        k = self._k()
        if k < 2:
            raise InputError(f"y_true: at least 2 classes are needed, got {self.classes}")
        idx, unknown = index_of(labels, self.classes)
        if (unknown & ~missing).any():
            bad = sorted({v.item() for v in labels[unknown & ~missing]})[:5]
            raise InputError(f"y_true: classes {bad} are not among the classes {self.classes}")
        p = probabilities(scores, self.classes, self.prob_tolerance)
        if p.shape[0] != idx.size:
            raise InputError(f"scores: has {p.shape[0]} rows but y_true has {idx.size}")
        ok = ~missing & ~nan_rows(p)
        p, idx = p[ok], idx[ok]
        if idx.size < 20:
            raise InputError(
                f"y_true: at least 20 labelled reference rows are needed, got {idx.size}"
            )
        columns = [p] if k == 2 else [p[:, c] for c in range(k)]
        targets = [idx == 1] if k == 2 else [idx == c for c in range(k)]
        # top-label confidence: catches over-confidence that class-wise bins average out
        if k == 2:
            confidence, correct = np.maximum(p, 1 - p), (p >= 0.5) == (idx == 1)
        else:
            confidence, correct = p.max(axis=1), p.argmax(axis=1) == idx
        tested = [(confidence, correct), *zip(columns, targets, strict=True)]
        self.calibration_tests = [
            calibration_test(col, t, tolerance=self.calibration_tolerance, seed=self.seed + i)
            for i, (col, t) in enumerate(tested)
        ]
        failed = any(t.miscalibrated for t in self.calibration_tests)
        self.calibrated = self.calibration == "always" or (self.calibration == "auto" and failed)
        require("sklearn", "ml")
        self._maps = IsotonicMaps(self.n_boot, self.seed).fit(columns, targets)
        self.n_reference = int(idx.size)
        return self

    def calibrate(self, scores: Floats) -> Floats:
        """Calibrated probabilities for checked scores ((n,) or (n, k))."""
        return self._maps.predict(scores) if self.calibrated else scores

    def _draw_probabilities(self, scores: Floats, base: Floats) -> list[Floats]:
        """``base`` moved by each bootstrap map's difference from the whole-reference map.

        Every other difference is applied with its sign flipped, so the draws
        spread symmetrically around ``base`` by the calibration's mean squared
        error as the bootstrap sees it: its variance plus its bias (maps fitted
        to resamples, rows repeated, are more extreme than the whole-reference
        map, as that one is more extreme than the truth).
        """
        full = self._maps.predict(scores)
        out = []
        for b in range(self.n_boot):
            sign = 1.0 if b % 2 == 0 else -1.0
            q = np.clip(base + sign * (self._maps.predict(scores, b) - full), 0.0, 1.0)
            out.append(renormalise(q, base) if q.ndim == 2 else q)
        return out

    # -- estimate --------------------------------------------------------------------

    def estimate(self, scores: Any, y_pred: Any = None) -> dict[str, Band]:
        """``{metric: {"value", "lower", "upper"}}`` for one unlabelled chunk."""
        return self.estimate_result(scores, y_pred).metrics

    def estimate_result(self, scores: Any, y_pred: Any = None) -> EstimationResult:
        """Like :meth:`estimate`, with the row count, exclusions and method details."""
        if not self.fitted:
            raise InputError("CBPE: call fit(reference_scores, reference_y_true) first")
        k = self._k()
        s = probabilities(scores, self.classes, self.prob_tolerance)
        n_rows = s.shape[0]
        bad = nan_rows(s)
        excluded = {"nan_score": int(bad.sum()), "missing_prediction": 0}
        if y_pred is not None:
            labels, missing, kind = normalise_labels(y_pred, "y_pred")
            if labels.size != n_rows:
                raise InputError(f"y_pred: has {labels.size} rows but scores has {n_rows}")
            check_kind(kind, self.classes, "y_pred")
            pred, unknown = index_of(labels, self.classes)
            if (unknown & ~missing).any():
                odd = sorted({v.item() for v in labels[unknown & ~missing]})[:5]
                raise InputError(f"y_pred: classes {odd} are not among the classes {self.classes}")
            excluded["missing_prediction"] = int((missing & ~bad).sum())
            bad = bad | missing
        elif k == 2:
            pred = (np.nan_to_num(s) >= self.threshold).astype(np.int64)
        else:
            pred = np.argmax(np.nan_to_num(s), axis=1).astype(np.int64)
        s, pred = s[~bad], pred[~bad]
        details = {
            "calibrated": self.calibrated,
            "confidence": self.confidence,
            "band": f"{self.confidence:.0%} interval of the realized metric without concept "
            f"shift: label noise of {self.n_simulations} label sets drawn from calibration "
            f"maps fitted to {self.n_boot} bootstrap resamples of the reference",
        }
        if s.shape[0] == 0:
            return EstimationResult("cbpe", 0, {}, excluded, details)
        q = self.calibrate(s)
        q_auc = self._maps.predict(s, centred=True) if self.calibrated else s
        qs = self._draw_probabilities(s, q)
        rng = np.random.default_rng(self.seed)
        sim = (rng, self.n_simulations, self.confidence)
        if k == 2:
            metrics = _estimate_binary(s, (q, q_auc), qs, pred == 1, *sim)
        else:
            metrics = _estimate_multiclass(s, (q, q_auc), qs, pred, *sim)
        return EstimationResult("cbpe", int(s.shape[0]), metrics, excluded, details)


def _blocks(n_sim: int, n: int, qs: list[Floats]) -> list[tuple[int, Floats]]:
    """(simulations, probabilities) blocks: each map an equal share, about 2M values a block."""
    per_map = np.diff(np.linspace(0, n_sim, len(qs) + 1).round().astype(int))
    out = []
    for count, qb in zip(per_map.tolist(), qs, strict=True):
        for part in np.array_split(np.arange(count), max(1, count * n // 2_000_000)):
            if part.size:
                out.append((int(part.size), qb))
    return out


def _avg_ranks(s: Floats) -> Floats:
    from scipy.stats import rankdata

    ranks: Floats = rankdata(s, method="average")
    return ranks


def _expected_auc(s: Floats, q: Floats) -> float | None:
    """Expected share of ordered pairs (i positive, j negative, i != j), ties 1/2."""
    order = np.argsort(s, kind="mergesort")
    ss, qs = s[order], q[order]
    neg = 1.0 - qs
    starts = np.flatnonzero(np.r_[True, ss[1:] != ss[:-1]])
    group = np.cumsum(np.r_[True, ss[1:] != ss[:-1]]) - 1
    group_neg = np.add.reduceat(neg, starts)
    below = np.r_[0.0, np.cumsum(group_neg)[:-1]][group]
    tie = group_neg[group] - neg
    num = float(np.sum(qs * (below + 0.5 * tie)))
    den = float(qs.sum() * neg.sum() - np.sum(qs * neg))
    return num / den if den > 0 else None


def _ratio(a: Any, b: Any) -> Any:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return np.divide(a, b, out=np.zeros(np.broadcast(a, b).shape), where=b > 0)


def _bands(
    expected: dict[str, float | None], draws: dict[str, Floats], confidence: float
) -> dict[str, Band]:
    lo, hi = (1 - confidence) / 2, 1 - (1 - confidence) / 2
    out: dict[str, Band] = {}
    for name in CBPE_METRICS:
        value = expected.get(name)
        d = draws[name]
        d = d[~np.isnan(d)]
        if value is None or not d.size:
            continue
        out[name] = band(value, float(np.quantile(d, lo)), float(np.quantile(d, hi)))
    return out


def _estimate_binary(
    s: Floats,
    q_pair: tuple[Floats, Floats],
    qs: list[Floats],
    pred_pos: npt.NDArray[np.bool_],
    rng: np.random.Generator,
    n_sim: int,
    confidence: float,
) -> dict[str, Band]:
    n = s.size
    q, q_auc = q_pair
    tp, fp = q[pred_pos].sum(), (1 - q[pred_pos]).sum()
    fn, tn = q[~pred_pos].sum(), (1 - q[~pred_pos]).sum()
    expected: dict[str, float | None] = {
        "accuracy": float((tp + tn) / n),
        "precision": float(_ratio(tp, tp + fp)),
        "recall": float(_ratio(tp, tp + fn)),
        "f1": float(_ratio(2 * tp, 2 * tp + fp + fn)),
        "roc_auc": _expected_auc(s, q_auc),
    }
    auc_shift = _shift(expected["roc_auc"], _expected_auc(s, q))
    ranks = _avg_ranks(s)
    draws: dict[str, list[float]] = {m: [] for m in CBPE_METRICS}
    for chunk, qb in _blocks(n_sim, n, qs):
        y = rng.random((chunk, n)) < qb
        d_tp = (y & pred_pos).sum(axis=1)
        d_fp = pred_pos.sum() - d_tp
        d_p = y.sum(axis=1)
        d_fn = d_p - d_tp
        d_tn = n - d_tp - d_fp - d_fn
        draws["accuracy"] += list((d_tp + d_tn) / n)
        draws["precision"] += list(_ratio(d_tp, d_tp + d_fp))
        draws["recall"] += list(_ratio(d_tp, d_p))
        draws["f1"] += list(_ratio(2 * d_tp, 2 * d_tp + d_fp + d_fn))
        d_n = n - d_p
        with np.errstate(invalid="ignore", divide="ignore"):
            auc = (y @ ranks - d_p * (d_p + 1) / 2) / (d_p * d_n)
        draws["roc_auc"] += list(np.where((d_p > 0) & (d_n > 0), auc + auc_shift, np.nan))
    return _bands(expected, {m: np.asarray(v) for m, v in draws.items()}, confidence)


def _estimate_multiclass(
    s: Floats,
    q_pair: tuple[Floats, Floats],
    qs: list[Floats],
    pred: Ints,
    rng: np.random.Generator,
    n_sim: int,
    confidence: float,
) -> dict[str, Band]:
    q, q_auc = q_pair
    n, k = q.shape
    cm = np.zeros((k, k))  # expected counts: rows true class, columns predicted
    for c in range(k):
        cm[:, c] = q[pred == c].sum(axis=0)
    expected: dict[str, float | None] = _macro_from_cm(cm)
    expected["roc_auc"] = _macro_auc(s, q_auc)
    auc_shift = _shift(expected["roc_auc"], _macro_auc(s, q))
    ranks = np.column_stack([_avg_ranks(s[:, c]) for c in range(k)])
    draws: dict[str, list[float]] = {m: [] for m in CBPE_METRICS}
    for i in range(n_sim):
        cum = np.cumsum(qs[i * len(qs) // n_sim], axis=1)
        y = np.minimum((cum < rng.random((n, 1))).sum(axis=1), k - 1)
        d_cm = np.bincount(y * k + pred, minlength=k * k).reshape(k, k).astype(np.float64)
        for name, value in _macro_from_cm(d_cm).items():
            draws[name].append(np.nan if value is None else value)
        d_aucs = []
        for c in range(k):
            is_c = y == c
            p_c = is_c.sum()
            if 0 < p_c < n:
                d_aucs.append((ranks[is_c, c].sum() - p_c * (p_c + 1) / 2) / (p_c * (n - p_c)))
        draws["roc_auc"].append(float(np.mean(d_aucs)) + auc_shift if d_aucs else np.nan)
    return _bands(expected, {m: np.asarray(v) for m, v in draws.items()}, confidence)


def _macro_auc(s: Floats, q: Floats) -> float | None:
    aucs = [_expected_auc(s[:, c], q[:, c]) for c in range(q.shape[1])]
    defined = [a for a in aucs if a is not None]
    return float(np.mean(defined)) if defined else None


def _shift(target: float | None, drawn_around: float | None) -> float:
    """Moves draws made from the stepped map to centre on the centred map's ROC AUC."""
    return 0.0 if target is None or drawn_around is None else target - drawn_around


def _macro_from_cm(cm: Floats) -> dict[str, float | None]:
    tp = np.diag(cm)
    support, predicted = cm.sum(axis=1), cm.sum(axis=0)
    return {
        "accuracy": float(tp.sum() / cm.sum()),
        "precision": float(_ratio(tp, predicted).mean()),
        "recall": float(_ratio(tp, support).mean()),
        "f1": float(_ratio(2 * tp, support + predicted).mean()),
    }
