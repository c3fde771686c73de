"""Direct loss estimation (DLE) for regression models without labels.

On the reference (features, prediction and target) DLE fits two models of
the loss: ``features + prediction -> |error|`` and ``-> error²``
(scikit-learn ``HistGradientBoostingRegressor``, Poisson loss so that the
predicted losses stay positive). On an unlabelled chunk the estimated MAE is
the mean predicted absolute error and the estimated RMSE the square root of
the mean predicted squared error. Each loss model's predictions are shrunk
towards the reference mean loss by the weight that minimises the out-of-fold
squared error (0: the model only learned noise, 1: trust it fully), which
keeps small references (a few hundred rows) from overfitting.

The band, an interval for the chunk's realized metric, has two parts.
Label noise: out-of-fold predictions on the reference give the loss models'
residuals relative to their prediction; the realized chunk metric differs from
the estimate by the mean of such residuals, whose standard error is
``c * sqrt(sum(pred_i²)) / n`` with ``c²`` the mean squared relative residual
(so the band widens on chunks whose rows the loss model expects to be hard).
The loss models' own uncertainty: the ``n_folds`` cross-validation models
each estimate the chunk too, and their delete-a-fold jackknife variance,
``(K - 1) / K * sum((est_k - mean)²)``, is added.

DLE assumes the loss given the inputs is the same as in the reference (no
concept shift) and that the chunk stays where the reference has data; far
outside it the tree model extrapolates flat and the estimate is unreliable.
"""

from __future__ import annotations

import contextlib
from typing import Any, Self

import numpy as np
import numpy.typing as npt

from driftline.errors import InputError, require
from driftline.stats.estimation._inputs import Band, EstimationResult, band
from driftline.stats.performance._labels import to_numpy

Floats = npt.NDArray[np.float64]

DLE_METRICS = ("mae", "rmse")
_MAX_CATEGORIES = 250


class _Features:
    """Turn a DataFrame/array into a float matrix the same way on every call."""

    def __init__(self) -> None:
        self.columns: list[str] | None = None
        self.categories: dict[str, list[Any]] = {}
        self.width = 0

    def fit(self, features: Any) -> Self:
        if hasattr(features, "columns") and hasattr(features, "dtypes"):
            self.columns = [str(c) for c in features.columns]
            for c in features.columns:
                col = features[c]
                if col.dtype.kind not in "biuf":
                    counts = col.astype("object").value_counts(dropna=True)
                    self.categories[str(c)] = list(counts.index[:_MAX_CATEGORIES])
            self.width = len(self.columns)
        else:
            self.width = self._array(features).shape[1]
        return self

    @property
    def categorical_mask(self) -> list[bool]:
        if self.columns is None:
            return [False] * self.width
        return [c in self.categories for c in self.columns]

    def _array(self, features: Any) -> Floats:
        arr = to_numpy(features, "features")
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim != 2 or arr.dtype.kind not in "biuf":
            raise InputError(
                f"features: expected a 2-d numeric array or a DataFrame, got {arr.dtype} "
                f"of shape {arr.shape}"
            )
        return arr.astype(np.float64)

    def transform(self, features: Any) -> Floats:
        if self.columns is None:
            arr = self._array(features)
            if arr.shape[1] != self.width:
                raise InputError(
                    f"features: expected {self.width} columns as in the reference, "
                    f"got {arr.shape[1]}"
                )
            return arr
        if not hasattr(features, "columns"):
            raise InputError("features: the reference was a DataFrame; pass a DataFrame")
        have = [str(c) for c in features.columns]
        missing = [c for c in self.columns if c not in have]
        if missing:
            raise InputError(f"features: columns {missing} of the reference are missing")
        by_name = {str(c): c for c in features.columns}
        out = np.empty((len(features), self.width))
        for j, name in enumerate(self.columns):
            col = features[by_name[name]]
            if name in self.categories:
                lookup = {v: i for i, v in enumerate(self.categories[name])}
                out[:, j] = [lookup.get(v, np.nan) for v in col.astype("object")]
            else:
                if col.dtype.kind not in "biuf":
                    raise InputError(
                        f"features[{name!r}]: numeric in the reference, now {col.dtype}"
                    )
                out[:, j] = col.to_numpy(dtype=np.float64, na_value=np.nan)
        return out


class DLE:
    """Estimate MAE and RMSE of a regression model on unlabelled chunks."""

    def __init__(
        self,
        *,
        confidence: float = 0.95,
        n_folds: int = 5,
        seed: int = 0,
        max_iter: int = 200,
        learning_rate: float = 0.05,
        min_samples_leaf: int = 20,
        n_threads: int | None = None,
    ) -> None:
        if not 0 < confidence < 1 or n_folds < 2:
            raise InputError("DLE: 0 < confidence < 1 and n_folds >= 2 are required")
        self.confidence = confidence
        self.n_folds = n_folds
        self.seed = seed
        self.params = {
            "loss": "poisson",
            "max_iter": max_iter,
            "learning_rate": learning_rate,
            "min_samples_leaf": min_samples_leaf,
            "random_state": seed,
        }
        self.n_threads = n_threads
        self._features = _Features()
        self._models: dict[str, Any] = {}
        self._rel_sd: dict[str, float] = {}
        self._shrink: dict[str, tuple[float, float]] = {}
        self._folds: dict[str, list[Any]] = {}
        self.n_reference = 0

    def _design(self, features: Any, y_pred: Any, fit: bool) -> tuple[Floats, Floats]:
        pred = to_numpy(y_pred, "y_pred")
        if pred.ndim != 1 or pred.dtype.kind not in "biuf":
            raise InputError(f"y_pred: expected a 1-d numeric array, got {pred.dtype} {pred.shape}")
        if fit:
            self._features.fit(features)
        x = self._features.transform(features)
        if x.shape[0] != pred.size:
            raise InputError(f"y_pred: has {pred.size} rows but features has {x.shape[0]}")
        return np.column_stack([x, pred.astype(np.float64)]), pred.astype(np.float64)

    def _model(self) -> Any:
        from sklearn.ensemble import HistGradientBoostingRegressor

        return HistGradientBoostingRegressor(
            categorical_features=[*self._features.categorical_mask, False], **self.params
        )

    @property
    def shrinkage(self) -> dict[str, float]:
        """Weight of the loss model vs the reference mean loss, per loss (``mae``, ``mse``)."""
        return {name: w for name, (w, _) in self._shrink.items()}

    def _threads(self) -> Any:
        """Limit OpenMP threads while fitting/predicting if ``n_threads`` is set.

        Gradient boosting on a few thousand rows is faster on one thread than on
        many contended ones (a busy host can make it 20x slower).
        """
        if self.n_threads is None:
            return contextlib.nullcontext()
        from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

        return threadpool_limits(self.n_threads)

    def fit(self, features: Any, y_pred: Any, y_true: Any) -> Self:
        """Fit the loss models on the reference; rows with a missing target are skipped."""
        require("sklearn", "ml")
        with self._threads():
            return self._fit(features, y_pred, y_true)

    def _fit(self, features: Any, y_pred: Any, y_true: Any) -> Self:
        from sklearn.model_selection import KFold

        x, pred = self._design(features, y_pred, fit=True)
        y = to_numpy(y_true, "y_true")
        if y.ndim != 1 or y.dtype.kind not in "biuf":
            raise InputError(f"y_true: expected a 1-d numeric array, got {y.dtype} {y.shape}")
        if y.size != pred.size:
            raise InputError(f"y_true: has {y.size} rows but y_pred has {pred.size}")
        ok = ~np.isnan(y.astype(np.float64)) & ~np.isnan(pred)
        x, err = x[ok], pred[ok] - y.astype(np.float64)[ok]
        if err.size < 5 * self.n_folds:
            raise InputError(f"y_true: at least {5 * self.n_folds} labelled rows are needed")
        targets = {"mae": np.abs(err), "mse": err**2}
        folds = KFold(self.n_folds, shuffle=True, random_state=self.seed)
        for name, target in targets.items():
            oof = np.empty_like(target)
            self._folds[name] = []
            for train, test in folds.split(x):
                if target[train].sum() > 0:
                    model = self._model().fit(x[train], target[train])
                    oof[test] = model.predict(x[test])
                else:
                    model, oof[test] = None, 0.0
                self._folds[name].append(model)
            # shrink towards the reference mean as far as cross-validation says:
            # a loss model fitted on few rows mostly learns noise
            mean = float(target.mean())
            dev = oof - mean
            var = float(np.mean(dev**2))
            w = float(np.clip(np.mean((target - mean) * dev) / var, 0, 1)) if var > 0 else 0.0
            oof = w * oof + (1 - w) * mean
            floor = max(float(np.quantile(oof, 0.05)), 1e-12)
            rel = (target - oof) / np.maximum(oof, floor)
            self._rel_sd[name] = float(np.sqrt(np.mean(rel**2)))
            self._shrink[name] = (w, mean)
            self._models[name] = self._model().fit(x, target) if target.sum() > 0 else None
        self.n_reference = int(err.size)
        return self

    def estimate(self, features: Any, y_pred: Any) -> dict[str, Band]:
        """``{"mae": {...}, "rmse": {...}}`` with ``value``, ``lower`` and ``upper``."""
        return self.estimate_result(features, y_pred).metrics

    def estimate_result(self, features: Any, y_pred: Any) -> EstimationResult:
        if not self.n_reference:
            raise InputError("DLE: call fit(features, y_pred, y_true) first")
        with self._threads():
            return self._estimate(features, y_pred)

    def _estimate(self, features: Any, y_pred: Any) -> EstimationResult:
        from scipy.stats import norm

        x, pred = self._design(features, y_pred, fit=False)
        bad = np.isnan(pred)
        x = x[~bad]
        details = {
            "band": f"{self.confidence:.0%} normal interval of the realized metric without "
            f"concept shift: label noise from out-of-fold residuals and the loss models' own "
            f"uncertainty (jackknife over the {self.n_folds} cross-validation models)",
            "confidence": self.confidence,
            "shrinkage": self.shrinkage,
        }
        excluded = {"missing_prediction": int(bad.sum())}
        n = x.shape[0]
        if n == 0:
            return EstimationResult("dle", 0, {}, excluded, details)
        z = float(norm.ppf(0.5 + self.confidence / 2))
        out: dict[str, Band] = {}
        for name in ("mae", "mse"):
            w, mean = self._shrink[name]

            def loss_of(model: Any, w: float = w, mean: float = mean) -> Floats:
                raw = np.maximum(model.predict(x), 0.0) if model is not None else np.zeros(n)
                out: Floats = w * raw + (1 - w) * mean
                return out

            loss = loss_of(self._models[name])
            value = float(loss.mean())
            label_var = (self._rel_sd[name] * float(np.sqrt(np.sum(loss**2))) / n) ** 2
            ests = np.array([loss_of(m).mean() for m in self._folds[name]])
            k = ests.size
            model_var = (k - 1) / k * float(np.sum((ests - ests.mean()) ** 2)) if k > 1 else 0.0
            se = float(np.sqrt(label_var + model_var))
            lower, upper = max(value - z * se, 0.0), value + z * se
            if name == "mae":
                out["mae"] = band(value, lower, upper)
            else:
                out["rmse"] = band(np.sqrt(value), np.sqrt(lower), np.sqrt(upper))
        return EstimationResult("dle", n, out, excluded, details)
