"""Mergeable regression metrics: MAE, RMSE, MAPE, R², bias, error quantiles.

The error of a row is ``y_pred - y_true`` (so ``bias > 0`` means the model
over-predicts). MAE, RMSE, bias and R² come from running sums and are exact.
MAPE is the mean of ``|error| / |y_true|`` over rows whose target is not zero;
rows with ``y_true == 0`` have no percentage error, are left out of MAPE only
and counted in ``results()["excluded"]["zero_target"]`` (scikit-learn instead
divides by machine epsilon, which turns one zero into an astronomically large
MAPE). Error quantiles are exact while at most ``exact_cap`` rows were seen,
then come from KLL sketches (rank error about 1.65 % at ``sketch_k=200``).
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np
import numpy.typing as npt

from driftline.errors import InputError, ProfileFormatError
from driftline.stats.accumulators.quantiles import QuantileSketch
from driftline.stats.performance import _codec
from driftline.stats.performance._labels import numeric_values

Floats = npt.NDArray[np.float64]

REGRESSION_METRICS = ("mae", "rmse", "mape", "r2", "bias")
ERROR_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
ABS_ERROR_QUANTILES = (0.5, 0.9, 0.99)
_EXCLUSIONS = ("missing_label", "missing_prediction", "zero_target")
_KIND = "regression"
_VERSION = 1


class RegressionMetrics:
    """Regression metrics as a mergeable accumulator.

    Missing (NaN/None) targets or predictions are excluded and counted;
    infinite values and non-numeric input raise
    :class:`~driftline.errors.InputError`. ``update`` changes this object and
    returns it; ``merge`` returns a new object and leaves both inputs unchanged.
    """

    def __init__(self, *, exact_cap: int = 100_000, sketch_k: int = 200) -> None:
        if exact_cap < 0 or not 8 <= sketch_k <= 65535:
            raise InputError("RegressionMetrics: exact_cap >= 0 and 8 <= sketch_k <= 65535")
        self.exact_cap = exact_cap
        self.sketch_k = sketch_k
        self.n = 0
        self._sum_err = 0.0
        self._sum_abs = 0.0
        self._sum_sq = 0.0
        self._y_mean = 0.0
        self._y_m2 = 0.0
        self._n_ape = 0
        self._sum_ape = 0.0
        self._exact = True
        self._buf: list[Floats] = []
        self._kll_err = QuantileSketch(sketch_k)
        self._kll_abs = QuantileSketch(sketch_k)
        self.excluded: dict[str, int] = dict.fromkeys(_EXCLUSIONS, 0)

    def update(self, y_true: Any, y_pred: Any) -> Self:
        """Fold a batch in; a batch that raises leaves the accumulator unchanged."""
        y = numeric_values(y_true, "y_true")
        p = numeric_values(y_pred, "y_pred")
        if p.size != y.size:
            raise InputError(f"y_pred: has {p.size} rows but y_true has {y.size}")
        y_nan, p_nan = np.isnan(y), np.isnan(p)
        self.excluded["missing_label"] += int(y_nan.sum())
        self.excluded["missing_prediction"] += int((~y_nan & p_nan).sum())
        ok = ~y_nan & ~p_nan
        y, p = y[ok], p[ok]
        if y.size == 0:
            return self
        err = p - y
        abs_err = np.abs(err)
        self._sum_err += float(err.sum())
        self._sum_abs += float(abs_err.sum())
        self._sum_sq += float(np.sum(err * err))
        nz = y != 0
        self.excluded["zero_target"] += int((~nz).sum())
        self._n_ape += int(nz.sum())
        with np.errstate(over="ignore"):  # |e| / 1e-308 is inf, as it should be
            self._sum_ape += float(np.sum(abs_err[nz] / np.abs(y[nz])))
        b_mean = float(y.mean())
        b_m2 = float(np.sum((y - b_mean) ** 2))
        self._y_mean, self._y_m2 = _chan(self.n, self._y_mean, self._y_m2, y.size, b_mean, b_m2)
        self.n += int(y.size)
        self._kll_err.update(err)
        self._kll_abs.update(abs_err)
        if self._exact:
            if self.n <= self.exact_cap:
                self._buf.append(err)
            else:
                self._exact, self._buf = False, []
        return self

    def merge(self, other: RegressionMetrics) -> Self:
        """A new accumulator equal to one fed with both inputs' batches (associative)."""
        if not isinstance(other, RegressionMetrics):
            raise InputError(f"merge: expected RegressionMetrics, got {type(other).__name__}")
        if (self.exact_cap, self.sketch_k) != (other.exact_cap, other.sketch_k):
            raise InputError(
                f"merge: settings differ (exact_cap, sketch_k) = {(self.exact_cap, self.sketch_k)}"
                f" vs {(other.exact_cap, other.sketch_k)}"
            )
        out = type(self)(exact_cap=self.exact_cap, sketch_k=self.sketch_k)
        out._y_mean, out._y_m2 = _chan(
            self.n, self._y_mean, self._y_m2, other.n, other._y_mean, other._y_m2
        )
        out.n = self.n + other.n
        out._sum_err = self._sum_err + other._sum_err
        out._sum_abs = self._sum_abs + other._sum_abs
        out._sum_sq = self._sum_sq + other._sum_sq
        out._n_ape = self._n_ape + other._n_ape
        out._sum_ape = self._sum_ape + other._sum_ape
        out.excluded = {k: self.excluded[k] + other.excluded[k] for k in _EXCLUSIONS}
        for mine, theirs, name in (
            (self._kll_err, other._kll_err, "_kll_err"),
            (self._kll_abs, other._kll_abs, "_kll_abs"),
        ):
            merged = QuantileSketch.from_bytes(mine.to_bytes())
            setattr(out, name, merged.merge(theirs))
        if self._exact and other._exact and out.n <= self.exact_cap:
            out._buf = [*self._buf, *other._buf]
        else:
            out._exact, out._buf = False, []
        return out

    @property
    def computed(self) -> str:
        """``"exact"`` or ``"sketch"``: how the error quantiles were computed."""
        return "exact" if self._exact else "sketch"

    def _errors(self) -> Floats:
        return np.concatenate(self._buf) if self._buf else np.zeros(0)

    def results(self) -> dict[str, Any]:
        """Metric values (``None`` when undefined) and how they were computed."""
        n = self.n
        out: dict[str, Any] = {"task": "regression", "n": n, "computed": self.computed}
        if n == 0:
            out |= dict.fromkeys(REGRESSION_METRICS)
            out["error_quantiles"] = out["abs_error_quantiles"] = None
        else:
            out["mae"] = self._sum_abs / n
            out["rmse"] = float(np.sqrt(self._sum_sq / n))
            out["mape"] = self._sum_ape / self._n_ape if self._n_ape else None
            out["bias"] = self._sum_err / n
            # scikit-learn's r2_score with force_finite=True for a constant target
            if self._y_m2 > 0:
                out["r2"] = 1.0 - self._sum_sq / self._y_m2
            else:
                out["r2"] = 1.0 if self._sum_sq == 0 else 0.0
            if self._exact:
                err = self._errors()
                q_err = np.quantile(err, ERROR_QUANTILES)
                q_abs = np.quantile(np.abs(err), ABS_ERROR_QUANTILES)
            else:
                q_err = self._kll_err.quantiles(np.array(ERROR_QUANTILES))
                q_abs = self._kll_abs.quantiles(np.array(ABS_ERROR_QUANTILES))
            out["error_quantiles"] = {
                _qname(q): float(v) for q, v in zip(ERROR_QUANTILES, q_err, strict=True)
            }
            out["abs_error_quantiles"] = {
                _qname(q): float(v) for q, v in zip(ABS_ERROR_QUANTILES, q_abs, strict=True)
            }
        out["n_mape"] = self._n_ape
        out["excluded"] = dict(self.excluded)
        return out

    def to_bytes(self) -> bytes:
        meta = {
            "exact_cap": self.exact_cap,
            "sketch_k": self.sketch_k,
            "n": self.n,
            "sums": [self._sum_err, self._sum_abs, self._sum_sq, self._sum_ape],
            "y": [self._y_mean, self._y_m2],
            "n_ape": self._n_ape,
            "exact": self._exact,
            "excluded": self.excluded,
        }
        blobs = {"kll_err": self._kll_err.to_bytes(), "kll_abs": self._kll_abs.to_bytes()}
        return _codec.encode(_KIND, _VERSION, meta, {"errors": self._errors()}, blobs)

    @classmethod
    def from_bytes(cls, data: bytes) -> RegressionMetrics:
        _, meta, arrays, blobs = _codec.decode(data, _KIND, (_VERSION,))
        try:
            out = cls(exact_cap=int(meta["exact_cap"]), sketch_k=int(meta["sketch_k"]))
            out.n = int(meta["n"])
            out._sum_err, out._sum_abs, out._sum_sq, out._sum_ape = map(float, meta["sums"])
            out._y_mean, out._y_m2 = map(float, meta["y"])
            out._n_ape = int(meta["n_ape"])
            out._exact = bool(meta["exact"])
            out.excluded = {k: int(meta["excluded"][k]) for k in _EXCLUSIONS}
            errors = arrays["errors"].astype(np.float64)
            if errors.ndim != 1 or (out._exact and errors.size != out.n):
                raise ValueError("error buffer does not match the row count")
            out._buf = [errors] if errors.size else []
            out._kll_err = _sketch(blobs["kll_err"], out.sketch_k)
            out._kll_abs = _sketch(blobs["kll_abs"], out.sketch_k)
        except (KeyError, TypeError, ValueError, RuntimeError, InputError) as exc:
            raise ProfileFormatError(f"{_KIND}: corrupt data ({exc})") from exc
        return out


def _sketch(blob: bytes, k: int) -> QuantileSketch:
    """A quantile sketch from its bytes, or from a DataSketches KLL (written by driftline 0.1)."""
    if blob[:4] == b"DLA1":
        return QuantileSketch.from_bytes(blob)
    from driftline.stats._codec import pack

    raw = np.frombuffer(blob, dtype=np.uint8)
    old = pack("kll", 1, {"k": k, "sample_above": 65_536, "sampled": False}, {"sketch": raw})
    return QuantileSketch.from_bytes(old)


def _qname(q: float) -> str:
    return f"p{round(q * 100):02d}"


def _chan(na: int, ma: float, m2a: float, nb: int, mb: float, m2b: float) -> tuple[float, float]:
    """Merge (count, mean, sum of squared deviations) of two parts (Chan et al.)."""
    n = na + nb
    if n == 0:
        return 0.0, 0.0
    delta = mb - ma
    return ma + delta * nb / n, m2a + m2b + delta * delta * na * nb / n
