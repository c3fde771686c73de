"""Turn accumulator state into the result dict (pure arithmetic, no state)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from driftline.stats.performance import _curves

if TYPE_CHECKING:
    from driftline.stats.performance.classification import ClassificationMetrics


def _ratio(num: Any, den: Any) -> Any:
    """Element-wise num/den with 0 where den == 0 (scikit-learn's zero_division)."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def _mean_defined(values: list[float | None]) -> float | None:
    defined = [v for v in values if v is not None]
    return float(np.mean(defined)) if defined else None


def classification_results(acc: ClassificationMetrics) -> dict[str, Any]:
    cm = acc.confusion_matrix.astype(np.float64)
    n = int(cm.sum())
    classes = list(acc.classes)
    k = len(classes)
    tp = np.diag(cm) if k else np.zeros(0)
    support, predicted = cm.sum(axis=1), cm.sum(axis=0)
    precision = _ratio(tp, predicted)
    recall = _ratio(tp, support)
    f1 = _ratio(2 * tp, support + predicted)
    out: dict[str, Any] = {
        "task": "binary" if acc.binary else "multiclass",
        "n": n,
        "n_scored": acc.n_scored,
        "computed": acc.computed,
    }
    if n:
        w = support / n
        out["accuracy"] = float(tp.sum() / n)
        for name, values in (("precision", precision), ("recall", recall), ("f1", f1)):
            out[f"{name}_macro"] = float(values.mean())
            out[f"{name}_weighted"] = float(np.sum(values * w))
            out[name] = float(values[acc._pos]) if acc.binary and k == 2 else out[f"{name}_macro"]
    else:
        for name in ("accuracy", "precision", "recall", "f1"):
            out[name] = None
            if name != "accuracy":
                out[f"{name}_macro"] = out[f"{name}_weighted"] = None

    per_class: dict[str, dict[str, Any]] = {
        str(c): {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
        }
        for i, c in enumerate(classes)
    }
    m = acc.n_scored
    out["roc_auc"] = out["pr_auc"] = None
    out["roc_auc_error_bound"] = out["pr_auc_error_bound"] = None
    out["log_loss"] = out["brier"] = out["ece"] = None
    if m:
        groups = acc._score_groups()
        aucs = [_curves.roc_auc(p, q) for p, q in groups]
        aps = [_curves.average_precision(p, q) for p, q in groups]
        score_classes = [classes[acc._pos]] if acc.binary else classes
        for c, auc, ap in zip(score_classes, aucs, aps, strict=True):
            per_class[str(c)]["roc_auc"] = auc
            per_class[str(c)]["pr_auc"] = ap
        out["roc_auc"] = _mean_defined(aucs)
        out["pr_auc"] = _mean_defined(aps)
        if acc.computed == "exact":
            out["roc_auc_error_bound"] = 0.0 if out["roc_auc"] is not None else None
            out["pr_auc_error_bound"] = 0.0 if out["pr_auc"] is not None else None
        else:
            auc_b = [_curves.roc_auc_bound(p, q) for p, q in groups]
            ap_b = [_curves.average_precision_bound(p, q) for p, q in groups]
            # the bound of a mean is at most the mean of the bounds
            out["roc_auc_error_bound"] = _mean_defined(
                [b for b, a in zip(auc_b, aucs, strict=True) if a is not None]
            )
            out["pr_auc_error_bound"] = _mean_defined(
                [b for b, a in zip(ap_b, aps, strict=True) if a is not None]
            )
        out["log_loss"] = acc._sum_log_loss / m
        out["brier"] = acc._sum_brier / m
        out["ece"] = float(np.sum(np.abs(acc._ece_correct - acc._ece_conf)) / m)
        out["roc_auc_undefined_classes"] = [
            str(c) for c, a in zip(score_classes, aucs, strict=True) if a is None
        ]
    out["classes"] = classes
    out["positive_class"] = classes[acc._pos] if acc.binary and k == 2 else None
    out["confusion_matrix"] = acc.confusion_matrix.tolist()
    out["per_class"] = per_class
    out["excluded"] = dict(acc.excluded)
    return out
