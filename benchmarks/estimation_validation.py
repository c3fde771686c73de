"""Do CBPE and DLE track the realized metric under covariate shift? (issue 4)

For each dataset: train a model on one part, fit the estimator on a labelled
reference part, then draw production chunks from the remaining rows with a
covariate shift induced by resampling: row i is drawn with weight
exp(beta * z_i), z_i the standardised value of one feature, for beta from
-1.5 (strong shift one way) through 0 (no shift) to +1.5. Per chunk we print
the estimate with its band, the realized metric (the labels are known here),
the absolute error, whether the band covers the realized value, and the error
of the naive guess "same as on the reference".

Datasets: breast_cancer (binary), wine (3 classes), diabetes (regression) are
shipped with scikit-learn and small, so their chunks are drawn with
replacement from a pool of under 200 rows: they test the method on real data,
not its precision. make_classification (binary and 3-class) and
make_friedman1 (regression) give large, shift-able data.

Run:  .venv/bin/python benchmarks/estimation_validation.py
(prints Markdown tables for benchmarks/RESULTS.md; about 25 s on one core)
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn import datasets
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from driftline.stats.estimation import CBPE, DLE
from driftline.stats.performance import ClassificationMetrics, RegressionMetrics

BETAS = (-1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5)


@dataclass
class Row:
    dataset: str
    beta: float
    n: int
    metric: str
    value: float
    lower: float
    upper: float
    realized: float
    reference: float

    @property
    def error(self) -> float:
        return abs(self.value - self.realized)

    @property
    def naive_error(self) -> float:
        return abs(self.reference - self.realized)

    @property
    def covered(self) -> bool:
        return self.lower <= self.realized <= self.upper


def _hardest_feature(x: np.ndarray, difficulty: np.ndarray) -> int:
    """The feature most correlated with how hard rows are (confidence or |error|)."""
    corr = [abs(np.corrcoef(x[:, j], difficulty)[0, 1]) for j in range(x.shape[1])]
    return int(np.nanargmax(corr))


def _split(n: int, shares: tuple[float, float], rng: np.random.Generator) -> list[np.ndarray]:
    idx = rng.permutation(n)
    a, b = int(shares[0] * n), int((shares[0] + shares[1]) * n)
    return [idx[:a], idx[a:b], idx[b:]]


def _chunks(
    x_shift: np.ndarray, pool: np.ndarray, size: int, replace: bool, rng: np.random.Generator
) -> list[tuple[float, np.ndarray]]:
    z = (x_shift[pool] - x_shift[pool].mean()) / x_shift[pool].std()
    out = []
    for beta in BETAS:
        w = np.exp(beta * z)
        out.append((beta, rng.choice(pool, size, replace=replace, p=w / w.sum())))
    return out


def classification_case(
    name: str,
    x: np.ndarray,
    y: np.ndarray,
    model: Any,
    chunk: int,
    replace: bool,
    seed: int = 0,
) -> list[Row]:
    rng = np.random.default_rng(seed)
    train, ref, pool = _split(len(y), (0.4, 0.3), rng)
    model.fit(x[train], y[train])
    classes = list(model.classes_)
    proba = model.predict_proba(x)
    scores = proba[:, 1] if len(classes) == 2 else proba
    y_pred = np.asarray(classes)[proba.argmax(axis=1)]
    cbpe = CBPE(classes=classes).fit(scores[ref], y[ref])
    shift_feature = _hardest_feature(x[ref], proba[ref].max(axis=1))
    reference = ClassificationMetrics(classes).update(y[ref], y_pred[ref], scores[ref]).results()
    rows = []
    for beta, rows_idx in _chunks(x[:, shift_feature], pool, chunk, replace, rng):
        est = cbpe.estimate(scores[rows_idx], y_pred[rows_idx])
        real = (
            ClassificationMetrics(classes)
            .update(y[rows_idx], y_pred[rows_idx], scores[rows_idx])
            .results()
        )
        for metric, b in est.items():
            if real[metric] is None:
                continue
            rows.append(
                Row(
                    name,
                    beta,
                    rows_idx.size,
                    metric,
                    b["value"],
                    b["lower"],
                    b["upper"],
                    real[metric],
                    reference[metric],
                )
            )
    tag = "isotonic" if cbpe.calibrated else "as is"
    test = cbpe.calibration_tests[0]
    print(
        f"# {name}: reference {ref.size} rows, shift along feature {shift_feature}, "
        f"scores used {tag}, top-label ECE {test.ece:.3f} "
        f"(threshold {test.threshold:.3f})"
    )
    return rows


def regression_case(
    name: str,
    x: np.ndarray,
    y: np.ndarray,
    model: Any,
    chunk: int,
    replace: bool,
    seed: int = 0,
) -> list[Row]:
    rng = np.random.default_rng(seed)
    train, ref, pool = _split(len(y), (0.4, 0.3), rng)
    model.fit(x[train], y[train])
    pred = model.predict(x)
    dle = DLE(n_threads=1, seed=seed).fit(x[ref], pred[ref], y[ref])
    shift_feature = _hardest_feature(x[ref], np.abs(pred[ref] - y[ref]))
    reference = RegressionMetrics().update(y[ref], pred[ref]).results()
    rows = []
    for beta, rows_idx in _chunks(x[:, shift_feature], pool, chunk, replace, rng):
        est = dle.estimate(x[rows_idx], pred[rows_idx])
        real = RegressionMetrics().update(y[rows_idx], pred[rows_idx]).results()
        for metric, b in est.items():
            rows.append(
                Row(
                    name,
                    beta,
                    rows_idx.size,
                    metric,
                    b["value"],
                    b["lower"],
                    b["upper"],
                    real[metric],
                    reference[metric],
                )
            )
    print(
        f"# {name}: reference {ref.size} rows, shift along feature {shift_feature}, "
        f"loss-model weight {dle.shrinkage}"
    )
    return rows


def cases() -> list[Callable[[], list[Row]]]:
    def lr() -> Any:
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))

    bc = datasets.load_breast_cancer()
    wine = datasets.load_wine()
    diabetes = datasets.load_diabetes()
    xb, yb = datasets.make_classification(
        60_000, n_features=12, n_informative=6, flip_y=0.05, class_sep=0.8, random_state=1
    )
    xm, ym = datasets.make_classification(
        45_000, n_features=12, n_informative=6, n_classes=3, flip_y=0.05, random_state=2
    )
    xf, yf = datasets.make_friedman1(30_000, n_features=8, noise=1.0, random_state=3)
    return [
        lambda: classification_case("breast_cancer/logreg", bc.data, bc.target, lr(), 150, True),
        lambda: classification_case(
            "breast_cancer/naive-bayes", bc.data, bc.target, GaussianNB(), 150, True
        ),
        lambda: classification_case("wine/logreg", wine.data, wine.target, lr(), 50, True),
        lambda: classification_case(
            "make_classification/hgb",
            xb,
            yb,
            HistGradientBoostingClassifier(random_state=0),
            2000,
            False,
        ),
        lambda: classification_case("make_classification-3/logreg", xm, ym, lr(), 2000, False),
        lambda: regression_case(
            "diabetes/linear", diabetes.data, diabetes.target, LinearRegression(), 100, True
        ),
        lambda: regression_case("make_friedman1/ridge", xf, yf, Ridge(), 2000, False),
    ]


def summary(rows: list[Row]) -> str:
    lines = [
        "| dataset / model | metric | chunks | mean abs error | max abs error "
        "| naive abs error | band coverage |",
        "|---|---|---|---|---|---|---|",
    ]
    keys = list(dict.fromkeys((r.dataset, r.metric) for r in rows))
    for ds, metric in keys:
        sel = [r for r in rows if (r.dataset, r.metric) == (ds, metric)]
        err = np.array([r.error for r in sel])
        naive = np.array([r.naive_error for r in sel])
        cover = np.mean([r.covered for r in sel])
        lines.append(
            f"| {ds} | {metric} | {len(sel)} | {err.mean():.4f} | {err.max():.4f} "
            f"| {naive.mean():.4f} | {cover:.0%} |"
        )
    return "\n".join(lines)


def per_chunk(rows: list[Row], metrics: tuple[str, ...]) -> str:
    lines = [
        "| dataset / model | beta | n | metric | estimated [band] | realized | abs error |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r.metric in metrics:
            lines.append(
                f"| {r.dataset} | {r.beta:+.1f} | {r.n} | {r.metric} | {r.value:.4f} "
                f"[{r.lower:.4f}, {r.upper:.4f}] | {r.realized:.4f} | {r.error:.4f} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()
    start = time.perf_counter()
    rows: list[Row] = []
    with threadpool_limits(1):
        for case in cases():
            rows += case()
    elapsed = time.perf_counter() - start
    print()
    print(summary(rows))
    print()
    print(per_chunk(rows, ("roc_auc", "accuracy", "mae", "rmse")))
    print(f"\n{len(rows)} estimates in {elapsed:.1f} s")


if __name__ == "__main__":
    main()
