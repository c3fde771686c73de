"""NannyML's CBPE on car loan and DLE on car price, per chunk. Runs in .venv-nannyml.

Started by benchmarks/estimation_nannyml.py, which compares the estimates with
driftline's on the same chunks. Prints one line ``BENCH_RESULT {json}``:
``{"data_dir": ..., "version": ..., "car_loan": [...], "car_price": [...]}``, each
a list of ``{"period", "chunk", "metric", "value", "lower", "upper", "seconds"}``.

Configuration, NannyML's documented quick-start for both datasets:

- car loan: ``CBPE(problem_type="classification_binary", y_pred_proba="y_pred_proba",
  y_pred="y_pred", y_true="repaid", metrics=["roc_auc", "f1", "accuracy"],
  chunk_size=5000)``, fitted on the 50k reference (NannyML uses every row);
- car price: ``DLE(feature_column_names=<the 7 features>, y_pred="y_pred",
  y_true="y_true", metrics=["mae", "rmse"], chunk_size=6000,
  tune_hyperparameters=False)`` (its default LightGBM), fitted on the 60k reference.

NannyML's band is its confidence boundary, ``value +- 3 sampling errors``.
``--data-dir`` prints where the wheel keeps its datasets and stops; the driftline
side reads the same CSV files.
"""

from __future__ import annotations

import os

os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")

import argparse
import json
import time
import warnings
from importlib.metadata import version
from pathlib import Path
from typing import Any

import nannyml as nml

CAR_PRICE_FEATURES = [
    "car_age",
    "km_driven",
    "price_new",
    "accident_count",
    "door_count",
    "fuel",
    "transmission",
]


def data_dir() -> Path:
    return Path(nml.datasets.__file__).parent / "data"


def rows(result: Any, metrics: list[str], seconds: float) -> list[dict[str, Any]]:
    frame = result.to_df()
    out = []
    for i, r in frame.iterrows():
        period = r[("chunk", "period")]
        for m in metrics:
            out.append(
                {
                    "period": str(period),
                    "chunk": int(i) if period == "reference" else int(i) - 10,
                    "metric": m,
                    "value": float(r[(m, "value")]),
                    "lower": float(r[(m, "lower_confidence_boundary")]),
                    "upper": float(r[(m, "upper_confidence_boundary")]),
                    "seconds": seconds,
                }
            )
    return out


def car_loan() -> list[dict[str, Any]]:
    ref, ana, _ = nml.load_synthetic_car_loan_dataset()
    metrics = ["roc_auc", "f1", "accuracy"]
    start = time.perf_counter()
    est = nml.CBPE(
        problem_type="classification_binary",
        y_pred_proba="y_pred_proba",
        y_pred="y_pred",
        y_true="repaid",
        metrics=metrics,
        chunk_size=5000,
    )
    est.fit(ref)
    result = est.estimate(ana)
    return rows(result, metrics, time.perf_counter() - start)


def car_price() -> list[dict[str, Any]]:
    ref, ana, _ = nml.load_synthetic_car_price_dataset()
    metrics = ["mae", "rmse"]
    start = time.perf_counter()
    est = nml.DLE(
        feature_column_names=CAR_PRICE_FEATURES,
        y_pred="y_pred",
        y_true="y_true",
        metrics=metrics,
        chunk_size=6000,
        tune_hyperparameters=False,
    )
    est.fit(ref)
    result = est.estimate(ana)
    return rows(result, metrics, time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", action="store_true", help="print the data folder, stop")
    args = parser.parse_args()
    if args.data_dir:
        print(data_dir())
        return
    warnings.simplefilter("ignore")
    out = {
        "version": version("nannyml"),
        "data_dir": str(data_dir()),
        "car_loan": car_loan(),
        "car_price": car_price(),
    }
    print("BENCH_RESULT " + json.dumps(out))


if __name__ == "__main__":
    main()
