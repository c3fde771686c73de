"""The CI gate's ROC AUC interval: a score interval that does not collapse at AUC 1.

``driftline check`` with ``roc_auc: {min: 0.99}`` passed a 30-row batch whose AUC was 1
with "95% interval 0.9997 to 1": Hanley & McNeil's standard error is ~0 there. And the
interval of 0.9956 on 228 rows reached 1.003, past what an AUC can be.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.stats import norm
from sklearn.metrics import roc_auc_score

from driftline.report.gate import evaluate, fmt
from driftline.stats.performance.uncertainty import auc_interval


def _binary(auc: float, n_pos: int, n_neg: int) -> dict[str, Any]:
    cm = [[n_neg, 0], [0, n_pos]]
    perf = {
        "task": "binary", "n": n_pos + n_neg, "n_labelled": n_pos + n_neg,
        "realized": {"roc_auc": auc},
        "details": {"confusion_matrix": cm, "classes": [0, 1], "positive_class": 1},
    }  # fmt: skip
    return {"columns": {}, "quality": [], "performance": perf}


def test_an_auc_of_1_on_30_rows_cannot_pass_a_min_of_0_99() -> None:
    (check,) = evaluate(_binary(1.0, 18, 12), ["performance"], {"roc_auc": {"min": 0.99}})
    assert check.status == "error", check.message  # passed before: interval 0.9997 to 1
    low, high = auc_interval(1.0, 18, 12) or (0, 0)
    assert 0.85 < low < 0.9 and high == 1.0
    assert f"95% interval {fmt(low)} to 1 (score interval" in check.message
    (check,) = evaluate(_binary(1.0, 18, 12), ["performance"], {"roc_auc": {"min": 0.8}})
    assert check.status == "pass"


def test_the_interval_stays_within_0_and_1() -> None:
    low, high = auc_interval(0.9956, 145, 83) or (0, 2)
    assert high <= 1.0 and low > 0.97
    (check,) = evaluate(_binary(0.9956, 145, 83), ["performance"], {"roc_auc": {"min": 0.99}})
    assert check.status == "error"
    upper = float(check.message.split("95% interval ")[1].split(" to ")[1].split()[0])
    assert upper <= 1.0, check.message  # was 1.003


def test_it_holds_the_true_auc_95_percent_of_the_time_near_1() -> None:
    """Binormal scores with a true AUC of 0.99, 20 positives and 10 negatives: the
    ± 1.96 SE interval held it in 56 % of 1,000 draws, this one in 95 %."""
    rng = np.random.default_rng(0)
    true, n_pos, n_neg, draws = 0.99, 20, 10, 400
    shift = math.sqrt(2) * float(norm.ppf(true))
    y = np.r_[np.ones(n_pos), np.zeros(n_neg)]
    held = 0
    for _ in range(draws):
        s = np.r_[rng.normal(shift, 1, n_pos), rng.normal(0, 1, n_neg)]
        low, high = auc_interval(float(roc_auc_score(y, s)), n_pos, n_neg) or (2, 2)
        held += low <= true <= high
    assert 0.92 <= held / draws <= 0.99, held / draws
