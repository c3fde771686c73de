"""Outlier scores of single rows against the reference: robust Mahalanobis or isolation forest.

:class:`OutlierModel` is fitted on a reference
:class:`~driftline.stats.profile.DatasetProfile`'s joint reservoir sample (its
numeric and categorical feature columns, encoded as for the multivariate
methods: standardised numbers, reference frequency of each level) and scores
Arrow tables of new rows, vectorised. ``method``:

* ``"mahalanobis"`` (default): the distance from the reference's robust centre
  under its robust covariance (scikit-learn's Minimum Covariance Determinant
  on at most ``fit_rows`` rows), so the outliers of the reference do not
  inflate the covariance they are judged by;
* ``"isolation_forest"``: scikit-learn's IsolationForest (100 trees), score
  ``-score_samples`` (higher is more anomalous), computed by
  :class:`~driftline.stats._forest.IsolationScorer` (the same scores without
  scikit-learn's per-call overhead, which dominated on small batches).

A row is an outlier when its score exceeds ``threshold``, the reference
sample's ``1 - contamination`` quantile (default 99%): under no drift about
``contamination`` of rows are outliers, and a window's outlier share is
tested against that (:func:`outlier_share_test`). Missing values score as
the reference median (numbers) or their own level (categories).
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa

from driftline._utils.outlier_wire import FORMAT as WIRE_FORMAT
from driftline._utils.outlier_wire import encode_array, mahalanobis, tag_of, to_float
from driftline.errors import ConfigError, InputError, require
from driftline.stats._forest import IsolationScorer
from driftline.stats.multivariate._sample import Encoder, JointSample, joint_sample, select_columns
from driftline.stats.profile import DatasetProfile

METHODS = ("mahalanobis", "isolation_forest")


class NoOutlierFeaturesError(InputError):
    """The reference has no column an outlier model scores (e.g. a text-only LLM service):
    the outlier signals do not apply to the version; nothing is wrong."""


class OutlierModel:
    """Fitted on a reference profile; :meth:`score` gives each row of a table a score."""

    def __init__(
        self,
        method: str = "mahalanobis",
        contamination: float = 0.01,
        fit_rows: int = 2000,
        seed: int = 0,
    ) -> None:
        if method not in METHODS:
            raise ConfigError(f"outliers: unknown method {method!r}; allowed: {', '.join(METHODS)}")
        if not 0 < contamination < 0.5:
            raise ConfigError(f"outliers: contamination must be in (0, 0.5), got {contamination}")
        self.method = method
        self.contamination = contamination
        self.fit_rows = fit_rows
        self.seed = seed
        self.encoder = Encoder()
        self.threshold = math.inf
        self.n_reference = 0
        self._centre = np.zeros(0)
        self._precision = np.zeros((0, 0))
        self._forest: IsolationScorer | None = None
        #: the column kinds of the reference it was fitted on (for :meth:`wire`)
        self.kinds: dict[str, str] = {}
        self._wire: tuple[tuple[tuple[str, str], ...], dict[str, Any]] | None = None

    @property
    def columns(self) -> list[str]:
        return self.encoder.feature_names()

    def fit(self, reference: DatasetProfile) -> OutlierModel:
        sel = select_columns(reference, reference)
        sample = joint_sample(reference, sel.numeric, sel.categorical)
        self.encoder.fit(sample, sel.numeric, sel.categorical)
        if not sel.numeric and not sel.categorical:
            raise NoOutlierFeaturesError(
                "outliers: not applicable: the reference has no numeric or categorical feature "
                "column (text and embedding columns are watched by their drift methods)"
            )
        if sample.n >= 50 and self.encoder.n_features == 0:
            # every numeric or categorical column holds one value (or none) in the
            # reference, e.g. an LLM service's constant "channel": nothing varies to
            # score, which is no fault of the version (its quality checks still flag a
            # value the reference never had)
            cols = ", ".join(sel.numeric + sel.categorical)
            raise NoOutlierFeaturesError(
                f"outliers: not applicable: the reference sample has {sample.n} rows and 0 "
                f"usable feature columns: every numeric or categorical column ({cols}) is "
                "constant or empty in it"
            )
        if sample.n < 50 or self.encoder.n_features == 0:
            raise InputError(
                f"outliers: the reference sample has {sample.n} rows and "
                f"{self.encoder.n_features} usable feature columns; at least 50 rows and 1 "
                "numeric or categorical feature are needed"
            )
        require("sklearn", "ml")
        x = self.encoder.design(sample)
        rng = np.random.default_rng(self.seed)
        fit = x[rng.permutation(x.shape[0])[: self.fit_rows]]
        if self.method == "mahalanobis":
            from sklearn.covariance import MinCovDet

            with warnings.catch_warnings():
                # discrete columns (a category's frequency takes few values) make some of
                # MCD's subsets singular: it warns and goes on with the others
                warnings.simplefilter("ignore", RuntimeWarning)
                mcd = MinCovDet(random_state=self.seed).fit(fit)
            self._centre = mcd.location_
            self._precision = np.linalg.pinv(mcd.covariance_)
        else:
            from sklearn.ensemble import IsolationForest

            self._forest = IsolationScorer(
                IsolationForest(n_estimators=100, random_state=self.seed).fit(fit)
            )
        self.threshold = float(np.quantile(self._score(x), 1 - self.contamination))
        self.n_reference = sample.n
        self.kinds = {c: reference.columns[c].kind.value for c in self.columns}
        return self

    def wire(self, kinds: Mapping[str, str] | None = None) -> dict[str, Any]:
        """:meth:`to_wire` of ``kinds`` (default: the reference's), kept for the next call."""
        key = tuple(sorted((kinds if kinds is not None else self.kinds).items()))
        hit = self._wire
        if hit is None or hit[0] != key:
            hit = self._wire = (key, self.to_wire(dict(key)))
        return hit[1]

    def possible(self, scores: np.ndarray) -> np.ndarray:
        """Per score, whether this method can give it (Mahalanobis >= 0, forest (0, 1])."""
        if self.method == "mahalanobis":
            out: np.ndarray = scores >= 0.0
            return out
        return (scores > 0.0) & (scores <= 1.0)

    def _score(self, x: np.ndarray) -> np.ndarray:
        if self.method == "mahalanobis":
            return mahalanobis(x, self._centre, self._precision)
        assert self._forest is not None
        return self._forest.score(x)

    def to_wire(self, kinds: Mapping[str, str]) -> dict[str, Any]:
        """The fitted model as a JSON-able document (driftline/_utils/outlier_wire.py), for
        the SDK to score with. ``kinds``: the live column kind of each of its columns
        (``numeric``, ``categorical``, ``text``, ``boolean``; others are missing values)."""
        enc = self.encoder
        doc: dict[str, Any] = {
            "format": WIRE_FORMAT,
            "method": self.method,
            "contamination": self.contamination,
            "threshold": self.threshold,
            "n_reference": self.n_reference,
            "kinds": {c: kinds[c] for c in self.columns if c in kinds},
            "numeric": {
                "columns": list(enc.numeric),
                "median": encode_array(enc.median),
                "mean": encode_array(enc.mean),
                "std": encode_array(enc.std),
            },
            "categorical": [
                {"name": c, "levels": enc.levels[c], "freq": encode_array(enc.freq[c])}
                for c in enc.categorical
            ],
        }
        if self.method == "mahalanobis":
            doc["mahalanobis"] = {
                "centre": encode_array(self._centre),
                "precision": encode_array(self._precision),
            }
        else:
            assert self._forest is not None
            arrays = self._forest.arrays()
            doc["isolation_forest"] = {
                k: (v if k == "denominator" else encode_array(v)) for k, v in arrays.items()
            }
        doc["tag"] = tag_of(doc)
        return doc

    def score(self, table: pa.Table) -> np.ndarray:
        """One score per row of ``table`` (the reference's feature columns; others ignored)."""
        return self._score(self.encoder.design(_sample_of(table, self.encoder)))

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "contamination": self.contamination,
            "threshold": self.threshold,
            "columns": self.columns,
            "n_reference": self.n_reference,
        }


def _sample_of(table: pa.Table, enc: Encoder) -> JointSample:
    n = table.num_rows
    cols = []
    for name in enc.numeric:
        col = table.column(name) if name in table.column_names else None
        if col is None:
            cols.append(np.full(n, np.nan))
            continue
        if pa.types.is_floating(col.type) or pa.types.is_integer(col.type):
            cols.append(col.to_numpy(zero_copy_only=False).astype(np.float64))
        else:  # text where numbers belong (a batch with odd values): parsed value by value
            cols.append(np.array([to_float(v) for v in col.to_pylist()], dtype=np.float64))
    cats: dict[str, np.ndarray] = {}
    for name in enc.categorical:
        values: list[Any] = [None] * n
        if name in table.column_names:
            # lists (embeddings) where a category belongs: scored as missing
            with contextlib.suppress(pa.ArrowInvalid, pa.ArrowNotImplementedError):
                values = table.column(name).cast(pa.string()).to_pylist()
        cats[name] = np.array(values, dtype=object)
    numeric = np.column_stack(cols) if cols else np.zeros((n, 0))
    # the encoder was fitted on the kept columns only; pad it to its full input width
    full = np.full((n, enc._keep.size), np.nan)
    full[:, enc._keep] = numeric
    return JointSample(full, cats, n)


def outlier_share_test(n_outliers: int, n_scored: int, expected: float) -> dict[str, Any]:
    """One-sided binomial test of a window's outlier share against ``expected``."""
    from scipy.stats import binomtest

    if n_scored == 0:
        return {"share": None, "p_value": None, "drifted": None, "expected": expected}
    p = float(binomtest(n_outliers, n_scored, expected, alternative="greater").pvalue)
    return {"share": n_outliers / n_scored, "p_value": p, "drifted": None, "expected": expected}
