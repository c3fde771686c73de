"""Mergeable classification metrics: confusion matrix, AUCs, log loss, Brier, ECE.

``ClassificationMetrics`` folds batches of ``(y_true, y_pred, scores)`` into
fixed-size state. Label metrics come from the confusion matrix and are always
exact. Log loss, Brier score and expected calibration error are running sums,
also always exact. ROC AUC and PR AUC (average precision) are exact while the
scored rows fit in a buffer of ``exact_cap`` rows; beyond that the buffer is
dropped and they come from per-class score histograms of ``n_bins`` equal bins
on [0, 1], with a guaranteed error bound reported next to them
(``roc_auc_error_bound``, ``pr_auc_error_bound``; see docs/performance.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, Self

import numpy as np
import numpy.typing as npt

from driftline.errors import InputError
from driftline.stats.performance import _codec, _curves
from driftline.stats.performance._labels import (
    Label,
    check_kind,
    classes_kind,
    index_of,
    normalise_classes,
    normalise_labels,
)
from driftline.stats.performance._scores import bin_index as _bin
from driftline.stats.performance._scores import check_scores

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]

CLASSIFICATION_METRICS = (
    "accuracy",
    "precision",
    "recall",
    "f1",
    "precision_macro",
    "recall_macro",
    "f1_macro",
    "precision_weighted",
    "recall_weighted",
    "f1_weighted",
    "roc_auc",
    "pr_auc",
    "log_loss",
    "brier",
    "ece",
)
_EXCLUSIONS = (
    "missing_label",
    "missing_prediction",
    "unknown_class",
    "nan_score",
    "renormalised",
)
_VERSION = 1
_KIND = "classification"


class ClassificationMetrics:
    """Binary or multiclass classification metrics as a mergeable accumulator.

    ``classes`` fixes the class list (and the order of score columns). Without
    it the classes are learned from the labels, sorted, at most
    ``max_classes``; scores then cannot be mapped to classes and are refused.
    Two classes make a binary task: ``positive_class`` (default: the second
    class) is the class of a 1-d score and of ``precision``/``recall``/``f1``.

    Bad input: labels of the wrong type, shape mismatches and probabilities
    outside [0, 1] raise :class:`~driftline.errors.InputError`. Missing labels
    and predictions, and rows with a NaN score, are excluded from what needs
    them and counted in ``results()["excluded"]``. A label outside ``classes``
    raises, or with ``on_unknown_class="exclude"`` is excluded and counted.
    Score rows that do not sum to 1 within ``prob_tolerance`` raise, or with
    ``on_unnormalised="renormalise"`` are divided by their sum and counted.

    ``update`` changes this object and returns it; ``merge`` returns a new
    object and leaves both inputs unchanged.
    """

    def __init__(
        self,
        classes: Sequence[Any] | None = None,
        *,
        positive_class: Any = None,
        max_classes: int = 100,
        n_bins: int = 4096,
        exact_cap: int = 100_000,
        ece_bins: int = 15,
        threshold: float = 0.5,
        prob_tolerance: float = 1e-6,
        on_unnormalised: Literal["raise", "renormalise"] = "raise",
        on_unknown_class: Literal["raise", "exclude"] = "raise",
    ) -> None:
        if n_bins < 2 or ece_bins < 1 or exact_cap < 0 or max_classes < 2:
            raise InputError(
                "ClassificationMetrics: n_bins >= 2, ece_bins >= 1, exact_cap >= 0 and "
                f"max_classes >= 2 are required (got {n_bins}, {ece_bins}, {exact_cap}, "
                f"{max_classes})"
            )
        if on_unnormalised not in ("raise", "renormalise"):
            raise InputError("on_unnormalised: allowed values are 'raise', 'renormalise'")
        if on_unknown_class not in ("raise", "exclude"):
            raise InputError("on_unknown_class: allowed values are 'raise', 'exclude'")
        self.max_classes = max_classes
        self.n_bins = n_bins
        self.exact_cap = exact_cap
        self.ece_bins = ece_bins
        self.threshold = float(threshold)
        self.prob_tolerance = float(prob_tolerance)
        self.on_unnormalised = on_unnormalised
        self.on_unknown_class = on_unknown_class
        self.fixed = classes is not None
        self.classes: list[Label] = normalise_classes(classes) if classes is not None else []
        if self.fixed and not 2 <= len(self.classes) <= max_classes:
            raise InputError(f"classes: 2 to {max_classes} classes allowed, got {self.classes}")
        self._pos = 1
        if positive_class is not None:
            if not self.fixed:
                raise InputError("positive_class: needs classes=[...] fixed at construction")
            (pc,) = normalise_classes([positive_class], "positive_class")
            if pc not in self.classes or len(self.classes) != 2:
                raise InputError(
                    f"positive_class: {pc!r} must be one of the two classes {self.classes}"
                )
            self._pos = self.classes.index(pc)
        k = len(self.classes)
        self._cm: Ints = np.zeros((k, k), dtype=np.int64)
        m = self._n_score_columns()
        self._hist_pos: Ints = np.zeros((m, n_bins), dtype=np.int64)
        self._hist_neg: Ints = np.zeros((m, n_bins), dtype=np.int64)
        self._ece_n: Ints = np.zeros(ece_bins, dtype=np.int64)
        self._ece_conf: Floats = np.zeros(ece_bins)
        self._ece_correct: Ints = np.zeros(ece_bins, dtype=np.int64)
        self._n_scored = 0
        self._sum_log_loss = 0.0
        self._sum_brier = 0.0
        self._exact = True
        self._buf_scores: list[Floats] = []
        self._buf_labels: list[Ints] = []
        self.excluded: dict[str, int] = dict.fromkeys(_EXCLUSIONS, 0)

    # -- state helpers -------------------------------------------------------------

    @property
    def binary(self) -> bool:
        return len(self.classes) <= 2

    @property
    def n(self) -> int:
        """Rows in the confusion matrix (valid label and prediction)."""
        return int(self._cm.sum())

    @property
    def n_scored(self) -> int:
        """Rows that went into the score metrics (AUCs, log loss, Brier, ECE)."""
        return self._n_scored

    @property
    def confusion_matrix(self) -> Ints:
        """Rows: true class, columns: predicted class, in the order of ``classes``."""
        return self._cm.copy()

    def _n_score_columns(self) -> int:
        if not self.fixed:
            return 0
        return 1 if len(self.classes) == 2 else len(self.classes)

    def _classes_with(self, found: list[tuple[npt.NDArray[Any], str]]) -> list[Label]:
        """The class list after learning the labels in ``found`` (not stored yet)."""
        if self.fixed:
            return self.classes
        seen = {v.item() for values, _ in found for v in np.unique(values)}
        new = sorted(seen - set(self.classes))
        if not new:
            return self.classes
        merged: list[Label] = sorted([*self.classes, *new])
        if len(merged) > self.max_classes:
            field = found[0][1] if len(found) == 1 else "y_true/y_pred"
            raise InputError(
                f"{field}: more than max_classes={self.max_classes} distinct classes "
                f"(e.g. {new[:5]}); pass classes=[...] or raise max_classes"
            )
        return merged

    def _index(
        self,
        labels: npt.NDArray[Any],
        missing: npt.NDArray[np.bool_],
        classes: list[Label],
        field: str,
    ) -> tuple[Ints, npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
        """Class indices, a validity mask and a mask of labels of unknown classes."""
        idx, unknown = index_of(labels, classes)
        unknown &= ~missing
        if unknown.any() and self.on_unknown_class == "raise":
            bad = sorted({v.item() for v in labels[unknown]})[:5]
            raise InputError(
                f"{field}: classes {bad} are not among the classes {classes}; "
                "pass on_unknown_class='exclude' to count and skip them"
            )
        return idx, ~missing & ~unknown, unknown

    def _check_scores(self, scores: Any, n: int) -> tuple[Floats, npt.NDArray[np.bool_], int]:
        if not self.fixed:
            raise InputError(
                "scores: pass classes=[...] to ClassificationMetrics so that score "
                "columns can be matched to classes"
            )
        return check_scores(
            scores,
            len(self.classes),
            n_rows=n,
            positive=self._pos,
            tolerance=self.prob_tolerance,
            renormalise=self.on_unnormalised == "renormalise",
            classes=self.classes,
        )

    # -- update / merge ------------------------------------------------------------

    def update(self, y_true: Any, y_pred: Any = None, scores: Any = None) -> Self:
        """Fold a batch in. ``y_pred`` defaults to the argmax (or threshold) of ``scores``.

        All checks run before any state changes: a batch that raises leaves the
        accumulator as it was.
        """
        if y_pred is None and scores is None:
            raise InputError("y_pred: give y_pred, scores or both")
        t_lab, t_miss, t_kind = normalise_labels(y_true, "y_true")
        n = t_lab.size
        check_kind(t_kind, self.classes, "y_true")
        found = [(t_lab[~t_miss], "y_true")]
        if y_pred is not None:
            p_lab, p_miss, p_kind = normalise_labels(y_pred, "y_pred")
            if p_lab.size != n:
                raise InputError(f"y_pred: has {p_lab.size} rows but y_true has {n}")
            check_kind(p_kind, self.classes, "y_pred")
            if "empty" not in (t_kind, p_kind) and t_kind != p_kind:
                raise InputError(f"y_pred: labels are {p_kind} but y_true labels are {t_kind}")
            found.append((p_lab[~p_miss], "y_pred"))
        s: Floats | None = None
        s_nan = np.zeros(n, dtype=bool)
        n_renormalised = 0
        if scores is not None:
            s, s_nan, n_renormalised = self._check_scores(scores, n)
        classes = self._classes_with(found)
        t_idx, t_ok, t_unknown = self._index(t_lab, t_miss, classes, "y_true")
        if y_pred is not None:
            p_idx, p_ok, p_unknown = self._index(p_lab, p_miss, classes, "y_pred")
        else:
            assert s is not None
            p_idx, p_ok, p_unknown = self._argmax(s), ~s_nan, np.zeros(n, dtype=bool)
        # -- no errors past this point: change state --
        if classes != self.classes:
            self._cm = _reindex(self._cm, self.classes, classes)
            self.classes = classes
        self.excluded["renormalised"] += n_renormalised
        self.excluded["missing_label"] += int(t_miss.sum())
        self.excluded["unknown_class"] += int((t_unknown | (t_ok & p_unknown)).sum())
        self.excluded["missing_prediction"] += int((t_ok & ~p_ok & ~p_unknown).sum())
        both = t_ok & p_ok
        k = len(self.classes)
        cells = np.bincount(t_idx[both] * k + p_idx[both], minlength=k * k)
        self._cm += cells.reshape(k, k)
        if s is not None:
            self.excluded["nan_score"] += int((t_ok & s_nan).sum())
            use = t_ok & ~s_nan
            self._update_scores(s[use], t_idx[use])
        return self

    def _argmax(self, s: Floats) -> Ints:
        if s.ndim == 1:
            pos = np.where(np.nan_to_num(s) >= self.threshold, self._pos, 1 - self._pos)
            return pos.astype(np.int64)
        top: Ints = np.argmax(np.nan_to_num(s), axis=1).astype(np.int64)
        return top

    def _update_scores(self, s: Floats, y: Ints) -> None:
        n = y.size
        if n == 0:
            return
        eps = np.finfo(np.float64).eps
        if s.ndim == 1:
            is_pos = y == self._pos
            p_true = np.where(is_pos, s, 1.0 - s)
            self._sum_log_loss += float(-np.sum(np.log(np.clip(p_true, eps, 1 - eps))))
            self._sum_brier += float(np.sum((is_pos - s) ** 2))
            bins = _bin(s, self.n_bins)
            self._hist_pos[0] += np.bincount(bins[is_pos], minlength=self.n_bins)
            self._hist_neg[0] += np.bincount(bins[~is_pos], minlength=self.n_bins)
            top = s >= 0.5
            conf = np.where(top, s, 1.0 - s)
            correct = top == is_pos
        else:
            k = s.shape[1]
            onehot = np.zeros_like(s)
            onehot[np.arange(n), y] = 1.0
            p_true = s[np.arange(n), y]
            self._sum_log_loss += float(-np.sum(np.log(np.clip(p_true, eps, 1 - eps))))
            self._sum_brier += float(np.sum((onehot - s) ** 2))
            flat = (_bin(s, self.n_bins) + np.arange(k) * self.n_bins).ravel()
            pos_mask = onehot.ravel() > 0
            size = k * self.n_bins
            self._hist_pos += np.bincount(flat[pos_mask], minlength=size).reshape(k, -1)
            self._hist_neg += np.bincount(flat[~pos_mask], minlength=size).reshape(k, -1)
            top_idx = np.argmax(s, axis=1)
            conf = s[np.arange(n), top_idx]
            correct = top_idx == y
        eb = _bin(conf, self.ece_bins)
        self._ece_n += np.bincount(eb, minlength=self.ece_bins)
        self._ece_conf += np.bincount(eb, weights=conf, minlength=self.ece_bins)
        self._ece_correct += np.bincount(eb[correct], minlength=self.ece_bins)
        self._n_scored += n
        if self._exact:
            if self._n_scored <= self.exact_cap:
                self._buf_scores.append(s.copy())
                self._buf_labels.append(y.copy())
            else:
                self._drop_buffer()

    def _drop_buffer(self) -> None:
        self._exact = False
        self._buf_scores, self._buf_labels = [], []

    def _config(self) -> dict[str, Any]:
        return {
            "fixed": self.fixed,
            "max_classes": self.max_classes,
            "n_bins": self.n_bins,
            "exact_cap": self.exact_cap,
            "ece_bins": self.ece_bins,
            "threshold": self.threshold,
            "prob_tolerance": self.prob_tolerance,
            "on_unnormalised": self.on_unnormalised,
            "on_unknown_class": self.on_unknown_class,
            "positive": self._pos,
        }

    def _empty_like(self) -> ClassificationMetrics:
        out = ClassificationMetrics(
            self.classes if self.fixed else None,
            max_classes=self.max_classes,
            n_bins=self.n_bins,
            exact_cap=self.exact_cap,
            ece_bins=self.ece_bins,
            threshold=self.threshold,
            prob_tolerance=self.prob_tolerance,
            on_unnormalised=self.on_unnormalised,
            on_unknown_class=self.on_unknown_class,
        )
        out._pos = self._pos
        return out

    def merge(self, other: ClassificationMetrics) -> Self:
        """A new accumulator equal to one fed with both inputs' batches.

        Associative and commutative in its results. Both inputs must share
        their settings; fixed classes must be equal, learned classes are united.
        """
        if not isinstance(other, ClassificationMetrics):
            raise InputError(f"merge: expected ClassificationMetrics, got {type(other).__name__}")
        if self._config() != other._config():
            diff = {
                key: (v, other._config()[key])
                for key, v in self._config().items()
                if other._config()[key] != v
            }
            raise InputError(f"merge: settings differ {diff}")
        if self.fixed and self.classes != other.classes:
            raise InputError(f"merge: classes differ ({self.classes} vs {other.classes})")
        if not self.fixed and self.classes and other.classes:
            check_kind(classes_kind(other.classes), self.classes, "merge")
        out = self._empty_like()
        classes: list[Label] = sorted({*self.classes, *other.classes})
        out.classes = classes if not self.fixed else list(self.classes)
        out._cm = _reindex(self._cm, self.classes, out.classes) + _reindex(
            other._cm, other.classes, out.classes
        )
        out._hist_pos = self._hist_pos + other._hist_pos
        out._hist_neg = self._hist_neg + other._hist_neg
        out._ece_n = self._ece_n + other._ece_n
        out._ece_conf = self._ece_conf + other._ece_conf
        out._ece_correct = self._ece_correct + other._ece_correct
        out._n_scored = self._n_scored + other._n_scored
        out._sum_log_loss = self._sum_log_loss + other._sum_log_loss
        out._sum_brier = self._sum_brier + other._sum_brier
        out.excluded = {k: self.excluded[k] + other.excluded[k] for k in _EXCLUSIONS}
        if self._exact and other._exact and out._n_scored <= self.exact_cap:
            out._buf_scores = [*self._buf_scores, *other._buf_scores]
            out._buf_labels = [*self._buf_labels, *other._buf_labels]
        else:
            out._drop_buffer()
        return out  # type: ignore[return-value]

    # -- results -------------------------------------------------------------------

    @property
    def computed(self) -> str:
        """``"exact"``, ``"bins"`` (AUCs from histograms) or ``"labels"`` (no scores)."""
        if self._n_scored == 0:
            return "labels"
        return "exact" if self._exact else "bins"

    def results(self) -> dict[str, Any]:
        """Metric values (``None`` when undefined) and how they were computed."""
        from driftline.stats.performance._results import classification_results

        return classification_results(self)

    def _buffer(self) -> tuple[Floats, Ints]:
        if not self._buf_labels:
            width = () if self.binary else (len(self.classes),)
            return np.zeros((0, *width)), np.zeros(0, dtype=np.int64)
        return np.concatenate(self._buf_scores), np.concatenate(self._buf_labels)

    def _score_groups(self) -> list[tuple[Floats, Floats]]:
        """Per score column: (positives, negatives) per tied group, best score first."""
        m = self._n_score_columns()
        if self._exact:
            s, y = self._buffer()
            if s.ndim == 1:
                return [_curves.groups_exact(s, y == self._pos)]
            return [_curves.groups_exact(s[:, c], y == c) for c in range(m)]
        return [_curves.groups_binned(self._hist_pos[c], self._hist_neg[c]) for c in range(m)]

    # -- serialisation -------------------------------------------------------------

    def to_bytes(self) -> bytes:
        s, y = self._buffer()
        meta = {
            "config": self._config(),
            "classes": self.classes,
            "n_scored": self._n_scored,
            "sum_log_loss": self._sum_log_loss,
            "sum_brier": self._sum_brier,
            "exact": self._exact,
            "excluded": self.excluded,
        }
        arrays = {
            "cm": self._cm,
            "hist_pos": self._hist_pos,
            "hist_neg": self._hist_neg,
            "ece_n": self._ece_n,
            "ece_conf": self._ece_conf,
            "ece_correct": self._ece_correct,
            "buf_scores": s,
            "buf_labels": y,
        }
        return _codec.encode(_KIND, _VERSION, meta, arrays)

    @classmethod
    def from_bytes(cls, data: bytes) -> ClassificationMetrics:
        from driftline.errors import ProfileFormatError

        _, meta, arrays, _ = _codec.decode(data, _KIND, (_VERSION,))
        try:
            cfg = meta["config"]
            out = cls(
                meta["classes"] if cfg["fixed"] else None,
                max_classes=cfg["max_classes"],
                n_bins=cfg["n_bins"],
                exact_cap=cfg["exact_cap"],
                ece_bins=cfg["ece_bins"],
                threshold=cfg["threshold"],
                prob_tolerance=cfg["prob_tolerance"],
                on_unnormalised=cfg["on_unnormalised"],
                on_unknown_class=cfg["on_unknown_class"],
            )
            out._pos = int(cfg["positive"])
            out.classes = list(meta["classes"])
            k, m = len(out.classes), out._n_score_columns()
            out._cm = _shaped(arrays["cm"], (k, k), np.int64)
            out._hist_pos = _shaped(arrays["hist_pos"], (m, out.n_bins), np.int64)
            out._hist_neg = _shaped(arrays["hist_neg"], (m, out.n_bins), np.int64)
            out._ece_n = _shaped(arrays["ece_n"], (out.ece_bins,), np.int64)
            out._ece_conf = _shaped(arrays["ece_conf"], (out.ece_bins,), np.float64)
            out._ece_correct = _shaped(arrays["ece_correct"], (out.ece_bins,), np.int64)
            out._n_scored = int(meta["n_scored"])
            out._sum_log_loss = float(meta["sum_log_loss"])
            out._sum_brier = float(meta["sum_brier"])
            out._exact = bool(meta["exact"])
            out.excluded = {key: int(meta["excluded"][key]) for key in _EXCLUSIONS}
            labels = arrays["buf_labels"]
            if labels.size:
                out._buf_scores = [arrays["buf_scores"].astype(np.float64)]
                out._buf_labels = [labels.astype(np.int64)]
        except (KeyError, TypeError, ValueError, InputError) as exc:
            raise ProfileFormatError(f"{_KIND}: corrupt data ({exc})") from exc
        return out


def _shaped(a: npt.NDArray[Any], shape: tuple[int, ...], dtype: type) -> Any:
    if a.shape != shape:
        raise ValueError(f"array of shape {a.shape}, expected {shape}")
    return a.astype(dtype)


def _reindex(cm: Ints, old: Sequence[Label], new: Sequence[Label]) -> Ints:
    if list(old) == list(new):
        return cm.copy()
    out = np.zeros((len(new), len(new)), dtype=np.int64)
    pos = [list(new).index(c) for c in old]
    if pos:
        out[np.ix_(pos, pos)] = cm
    return out
