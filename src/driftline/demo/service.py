"""The simulated model service: real scikit-learn classifiers on data shipped with scikit-learn.

``tumor_classifier`` is a logistic regression trained at start-up on the
Wisconsin breast-cancer data (``load_breast_cancer``, ten "mean" features);
v1 is the champion, v2 a retrained challenger. ``wine_cultivar`` is a
logistic regression on ``load_wine``. Requests are rows of the data sets
with a little measurement noise, so what the monitor sees is what a real
service would: real features, real probabilities, and labels that are the
data set's ground truth.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

TUMOR = "tumor_classifier"
WINE = "wine_cultivar"
TUMOR_CLASSES = ("malignant", "benign")


class DemoClock:
    """Simulated wall time plus a monotonic clock that simulated work can advance.

    ``time()`` is the simulated epoch time (moved by :meth:`set`);
    ``monotonic()`` is the real monotonic clock plus the simulated time spent
    in model calls (:meth:`spend`), so the SDK measures simulated latencies.
    """

    def __init__(self, start: float) -> None:
        self._wall = start
        self._extra = 0.0
        self._lock = threading.Lock()

    def time(self) -> float:
        return self._wall

    def monotonic(self) -> float:
        return time.perf_counter() + self._extra

    def set(self, wall: float) -> None:
        with self._lock:
            self._wall = max(self._wall, wall)

    def spend(self, seconds: float) -> None:
        with self._lock:
            self._extra += seconds


class PinnedClock:
    """A clock whose wall time is set by hand (job runs with simulated start and end)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return time.perf_counter()


@dataclass
class Dataset:
    name: str
    columns: list[str]
    x: npt.NDArray[np.float64]
    y: npt.NDArray[np.int64]
    classes: tuple[str, ...]
    train: npt.NDArray[np.int64]  # row indices of the training split (the reference)

    def rows(
        self, rng: np.random.Generator, n: int
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
        """``n`` requests: rows drawn from the data with 2% measurement noise (relative to
        each value, so a quantity that cannot be negative, such as a concavity of 0, stays
        possible: noise must not invent out-of-range values a healthy service never sees)."""
        idx = rng.integers(0, len(self.y), n)
        noise = 1.0 + rng.normal(0.0, 0.02, (n, self.x.shape[1]))
        return self.x[idx] * noise, self.y[idx]

    def reference(self) -> dict[str, list[float]]:
        return {c: self.x[self.train, i].tolist() for i, c in enumerate(self.columns)}


def load_tumor(seed: int = 0) -> Dataset:
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    keep = [i for i, n in enumerate(data.feature_names) if str(n).startswith("mean ")]
    names = [str(data.feature_names[i]).replace(" ", "_") for i in keep]
    x = np.asarray(data.data[:, keep], dtype=np.float64)
    y = np.asarray(data.target, dtype=np.int64)
    train = np.random.default_rng(seed).permutation(len(y))[: int(0.8 * len(y))]
    return Dataset(TUMOR, names, x, y, TUMOR_CLASSES, train)


def load_wine_data(seed: int = 0) -> Dataset:
    from sklearn.datasets import load_wine

    data = load_wine()
    names = [str(n).replace("/", "_").replace(" ", "_") for n in data.feature_names]
    x = np.asarray(data.data, dtype=np.float64)
    y = np.asarray(data.target, dtype=np.int64)
    train = np.random.default_rng(seed).permutation(len(y))[: int(0.8 * len(y))]
    classes = ("barolo", "grignolino", "barbera")  # the three cultivars of the UCI wine data
    return Dataset(WINE, names, x, y, classes, train)


class Classifier:
    """A scaled logistic regression trained on the data set's training split."""

    def __init__(self, data: Dataset, c: float = 1.0, seed: int = 0) -> None:
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        self.data = data
        self.model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000))
        self.model.fit(data.x[data.train], data.y[data.train])
        self.c = c

    def predict_proba(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        out: npt.NDArray[np.float64] = self.model.predict_proba(x)
        return out

    def hyperparameters(self) -> dict[str, Any]:
        return {"model": "LogisticRegression", "C": self.c, "scaler": "standard"}
