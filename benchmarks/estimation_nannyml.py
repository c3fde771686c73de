"""CBPE on NannyML's car loan and DLE on its car price, side by side with NannyML (issue 12).

Both tools get the same job, NannyML's own quick-start on its own synthetic
datasets (shipped in the nannyml wheel; read here only as data):

- car loan: a binary classifier (``y_pred_proba``, ``y_pred``, target ``repaid``),
  50k reference rows, 50k analysis rows with labels kept aside; chunks of 5000
  rows in time order (10 reference + 10 analysis chunks). Metrics ROC AUC, F1,
  accuracy.
- car price: a regression model (``y_pred``, target ``y_true``, 7 features),
  60k + 60k rows, chunks of 6000. Metrics MAE and RMSE.

NannyML runs in its own venv (benchmarks/peers/run_nannyml_estimation.py, see
its docstring for the configuration). driftline profiles the reference with
the target, prediction and score roles, profiles each chunk, and estimates
with what ``driftline report`` runs (``driftline.report.performance.estimate``).
The realized metric of a chunk is scikit-learn's on its labels. Printed per
tool and metric: the mean absolute error of the estimate against the realized
metric over the analysis chunks (NannyML's figure of merit; the reference
chunks are in-sample for both), and the share of chunks whose realized value
lies in the tool's band (NannyML: value +- 3 sampling errors; driftline: its
stated 95 % interval), for analysis and reference chunks. Neither dataset has
concept shift (NannyML's documentation: the drop in the analysis period is
covariate shift), so a band's coverage should meet what it states on all 20.

Run:  bash benchmarks/peers/setup.sh nannyml
      .venv/bin/python benchmarks/estimation_nannyml.py [--seeds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

import driftline
from driftline.report.performance import estimate
from driftline.stats.performance.spec import PerformanceSpec

HERE = Path(__file__).resolve().parent
PEER_PY = HERE / ".venv-nannyml" / "bin" / "python"
CAR_PRICE_FEATURES = [
    "car_age",
    "km_driven",
    "price_new",
    "accident_count",
    "door_count",
    "fuel",
    "transmission",
]


def run_nannyml() -> dict[str, Any]:
    env = {**os.environ, "NML_DISABLE_USAGE_LOGGING": "1"}
    out = subprocess.run(
        [str(PEER_PY), str(HERE / "peers" / "run_nannyml_estimation.py")],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("BENCH_RESULT "))
    result: dict[str, Any] = json.loads(line.removeprefix("BENCH_RESULT "))
    return result


def data_dir() -> Path:
    out = subprocess.run(
        [str(PEER_PY), str(HERE / "peers" / "run_nannyml_estimation.py"), "--data-dir"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return Path(out.strip().splitlines()[-1])


def _read(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"])
    return frame


def chunks(frame: pd.DataFrame, size: int) -> list[pd.DataFrame]:
    return [frame.iloc[i : i + size].reset_index(drop=True) for i in range(0, len(frame), size)]


def realized_loan(c: pd.DataFrame) -> dict[str, float]:
    y = c["repaid"].astype(int)
    return {
        "roc_auc": float(roc_auc_score(y, c["y_pred_proba"])),
        "f1": float(f1_score(y, c["y_pred"])),
        "accuracy": float(accuracy_score(y, c["y_pred"])),
    }


def realized_price(c: pd.DataFrame) -> dict[str, float]:
    err = c["y_pred"].to_numpy(float) - c["y_true"].to_numpy(float)
    return {"mae": float(np.abs(err).mean()), "rmse": float(np.sqrt((err**2).mean()))}


def driftline_rows(
    ref: pd.DataFrame,
    parts: dict[str, list[pd.DataFrame]],
    spec: PerformanceSpec,
    schema: dict[str, Any],
    seed: int,
    reservoir: int | None,
) -> tuple[list[dict[str, Any]], float, dict[str, Any]]:
    """Estimates per chunk, the seconds taken (profiles included) and the estimation details."""
    start = time.perf_counter()
    kw: dict[str, Any] = {} if reservoir is None else {"reservoir_size": reservoir}
    ref_prof = driftline.profile(ref, schema=schema, seed=seed, performance=spec, **kw)
    rows = []
    info: dict[str, Any] = {}
    for period, cs in parts.items():
        for i, c in enumerate(cs):
            # the chunk's labels are in its profile, as in a report; the estimate ignores them
            cur = driftline.profile(c, schema=schema, seed=seed, performance=spec)
            est, info = estimate(ref_prof, cur, spec, seed)
            for metric, band in est.items():
                rows.append({"period": period, "chunk": i, "metric": metric, **band})
    return rows, time.perf_counter() - start, info


def score(
    rows: list[dict[str, Any]], real: dict[str, list[dict[str, float]]], metric: str
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for period in ("analysis", "reference"):
        sel = [r for r in rows if r["period"] == period and r["metric"] == metric]
        err = [abs(r["value"] - real[period][r["chunk"]][metric]) for r in sel]
        cov = [r["lower"] <= real[period][r["chunk"]][metric] <= r["upper"] for r in sel]
        out[period] = {
            "mae": float(np.mean(err)) if err else None,
            "coverage": float(np.mean(cov)) if cov else None,
            "n": len(sel),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=1, help="driftline runs with seeds 0..N-1")
    parser.add_argument(
        "--reservoir", type=int, default=None, help="reservoir_size of the profiles (default)"
    )
    parser.add_argument("--per-chunk", action="store_true", help="print every chunk")
    parser.add_argument(
        "--nannyml-json", type=Path, default=None, help="reuse NannyML's saved result (or save it)"
    )
    args = parser.parse_args()
    if not PEER_PY.exists():
        sys.exit("run `bash benchmarks/peers/setup.sh nannyml` first")
    t0 = time.perf_counter()
    if args.nannyml_json is not None and args.nannyml_json.exists():
        nml = json.loads(args.nannyml_json.read_text())
    else:
        nml = run_nannyml()
        nml["seconds"] = time.perf_counter() - t0
        if args.nannyml_json is not None:
            args.nannyml_json.write_text(json.dumps(nml))
    nml_s = nml["seconds"]
    root = Path(nml["data_dir"])
    loan_ref = _read(root / "synthetic_car_loan_reference.csv")
    loan_ana = _read(root / "synthetic_car_loan_analysis.csv").merge(
        pd.read_csv(root / "synthetic_car_loan_analysis_target.csv"), on="id"
    )
    price_ref = _read(root / "regression_synthetic_reference.csv")
    price_ana = _read(root / "regression_synthetic_analysis.csv").merge(
        pd.read_csv(root / "regression_synthetic_analysis_targets.csv"), on="id"
    )
    cases = {
        "car_loan": dict(
            ref=loan_ref,
            parts={"reference": chunks(loan_ref, 5000), "analysis": chunks(loan_ana, 5000)},
            spec=PerformanceSpec(
                "repaid", "y_pred", ("y_pred_proba",), "classification", classes=(0, 1)
            ),
            schema={
                "repaid": {"role": "target"},
                "y_pred": {"role": "prediction"},
                "y_pred_proba": {"role": "score"},
                "id": {"role": "id"},
                "timestamp": {"role": "timestamp"},
            },
            real=realized_loan,
            metrics=["roc_auc", "f1", "accuracy"],
        ),
        "car_price": dict(
            ref=price_ref,
            parts={"reference": chunks(price_ref, 6000), "analysis": chunks(price_ana, 6000)},
            spec=PerformanceSpec("y_true", "y_pred", (), "regression"),
            schema={
                "y_true": {"role": "target"},
                "y_pred": {"role": "prediction"},
                "id": {"role": "id"},
                "timestamp": {"role": "timestamp"},
            },
            real=realized_price,
            metrics=["mae", "rmse"],
        ),
    }
    print(f"NannyML {nml['version']}: both datasets in {nml_s:.1f} s (its own venv)\n")
    print(
        "| dataset | metric | tool | analysis MAE | analysis coverage | reference coverage | band |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, case in cases.items():
        real = {p: [case["real"](c) for c in cs] for p, cs in case["parts"].items()}
        nml_rows = nml[name]
        for metric in case["metrics"]:
            s = score(nml_rows, real, metric)
            print(
                f"| {name} | {metric} | NannyML | {s['analysis']['mae']:.4g} "
                f"| {s['analysis']['coverage']:.0%} | {s['reference']['coverage']:.0%} "
                f"| +-3 sampling errors |"
            )
        for seed in range(args.seeds):
            rows, secs, info = driftline_rows(
                case["ref"], case["parts"], case["spec"], case["schema"], seed, args.reservoir
            )
            for metric in case["metrics"]:
                s = score(rows, real, metric)
                print(
                    f"| {name} | {metric} | driftline seed {seed} | {s['analysis']['mae']:.4g} "
                    f"| {s['analysis']['coverage']:.0%} | {s['reference']['coverage']:.0%} "
                    f"| {info.get('band', '')} |"
                )
            print(
                f"| {name} | | driftline seed {seed}: {secs:.1f} s, fitted on "
                f"{info.get('n_reference')} reference rows, calibrated "
                f"{info.get('calibrated')} | | | | |"
            )
            if args.per_chunk:
                for r in rows:
                    if r["metric"] not in case["metrics"]:
                        continue
                    rv = real[r["period"]][r["chunk"]][r["metric"]]
                    print(
                        f"  {r['period']:9} {r['chunk']} {r['metric']:8} {r['value']:.4f} "
                        f"[{r['lower']:.4f}, {r['upper']:.4f}] realized {rv:.4f}"
                    )
    print(f"\nwall {time.perf_counter() - t0:.0f} s; load: {os.getloadavg()}")


if __name__ == "__main__":
    main()
