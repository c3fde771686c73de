"""Multivariate drift on NannyML's published example data, side by side with NannyML (issue 18).

Three datasets ship in the nannyml wheel (used here only as data, read from
the peer venv's site-packages): the synthetic car loan data (NannyML's own
multivariate-drift example), the synthetic binary and the synthetic multiclass
classification data. Each has a 50k/60k-row reference and an analysis period
with a known change: at analysis row 25,000 (car loan, binary) and 30,000
(multiclass). Both tools cut the reference and the analysis period into
chunks of N rows in time order (the reference chunks too, as NannyML reports
them) and flag each chunk:

* NannyML 0.13.1 ``DataReconstructionDriftCalculator(column_names=features,
  chunk_size=N)``, fitted on the reference (its defaults: PCA keeping 65% of
  the variance, count-encoded categoricals, band mean ± 3 sd of the reference
  chunks' values), in benchmarks/.venv-nannyml;
* driftline: the reference profiled once (reservoir of 10,000 rows), each chunk
  profiled, ``multivariate_drift(reference, chunk)``: our
  ``pca_reconstruction`` is the same job; the other three methods are shown
  for chunk size 5,000 (they cost more per chunk).

For each tool: the first flagged chunk at or after the change (in chunks after
it: 0 = the first changed chunk), and false alarms: flagged chunks among those
wholly before the change (reference and early analysis chunks).

Run:  bash benchmarks/peers/setup.sh nannyml
      .venv/bin/python benchmarks/multivariate.py [--chunk-sizes 5000,2500,1000,500]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pandas as pd

from driftline.stats.multivariate import METHODS, MultivariateOptions, multivariate_drift
from driftline.stats.profile import build_profile

BENCH = Path(__file__).resolve().parent
PEER = BENCH / ".venv-nannyml" / "bin" / "python"
MARKER = "BENCH_RESULT "

DATASETS: dict[str, dict[str, Any]] = {
    "car_loan": {
        "files": ("synthetic_car_loan_reference.csv", "synthetic_car_loan_analysis.csv"),
        "features": [
            "car_value",
            "salary_range",
            "debt_to_income_ratio",
            "loan_length",
            "repaid_loan_on_prev_car",
            "size_of_downpayment",
            "driver_tenure",
        ],
        "change": 25_000,
    },
    "binary": {
        "files": ("synthetic_sample_reference.csv", "synthetic_sample_analysis.csv"),
        "features": [
            "distance_from_office",
            "salary_range",
            "gas_price_per_litre",
            "public_transportation_cost",
            "wfh_prev_workday",
            "workday",
            "tenure",
        ],
        "change": 25_000,
    },
    "multiclass": {
        "files": ("mc_reference.csv", "mc_analysis.csv"),
        "features": [
            "acq_channel",
            "app_behavioral_score",
            "requested_credit_limit",
            "app_channel",
            "credit_bureau_score",
            "stated_income",
            "is_customer",
        ],
        "change": 30_000,
    },
}


def data_dir() -> Path:
    code = "import nannyml, os; print(os.path.dirname(nannyml.__file__))"
    out = subprocess.run([str(PEER), "-c", code], capture_output=True, text=True, check=True)
    return Path(out.stdout.strip()) / "datasets" / "data"


def run_nannyml(sizes: list[int]) -> dict[str, Any]:
    job = {
        "datasets": {
            n: {"features": d["features"], "chunk_sizes": sizes} for n, d in DATASETS.items()
        }
    }
    proc = subprocess.run(
        [str(PEER), str(BENCH / "peers" / "run_nannyml_multivariate.py")],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        check=True,
        env={"NML_DISABLE_USAGE_LOGGING": "1", "PATH": "/usr/bin:/bin"},
    )
    line = next(x for x in proc.stdout.splitlines() if x.startswith(MARKER))
    out: dict[str, Any] = json.loads(line.removeprefix(MARKER))
    return out


def run_driftline(
    ref: pd.DataFrame, ana: pd.DataFrame, size: int, methods: tuple[str, ...]
) -> dict[str, Any]:
    t0 = time.perf_counter()
    ref_prof = build_profile(ref, seed=0)
    opts = MultivariateOptions(methods=methods)
    chunks = []
    for period, frame in (("reference", ref), ("analysis", ana)):
        for start in range(0, len(frame) - size + 1, size):
            prof = build_profile(frame.iloc[start : start + size], seed=start + 1)
            mv = multivariate_drift(ref_prof, prof, opts)
            chunks.append(
                {
                    "period": period,
                    "start": start,
                    "alerts": {m: r["drifted"] for m, r in mv["methods"].items()},
                    "pca": mv["methods"]["pca_reconstruction"],
                }
            )
    return {"seconds": time.perf_counter() - t0, "chunks": chunks}


def score(chunks: list[dict[str, Any]], flag: Any, size: int, change: int) -> tuple[str, str]:
    """(first alert at/after the change in chunks after it, false alarms / chunks before it)."""
    before = [c for c in chunks if c["period"] == "reference" or c["start"] + size <= change]
    after = [c for c in chunks if c["period"] == "analysis" and c["start"] >= change]
    false = sum(1 for c in before if flag(c))
    first = next((i for i, c in enumerate(after) if flag(c)), None)
    return ("never" if first is None else str(first)), f"{false}/{len(before)}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--chunk-sizes", default="5000,2500,1000,500")
    args = ap.parse_args()
    sizes = [int(x) for x in args.chunk_sizes.split(",")]
    theirs = run_nannyml(sizes)
    where = data_dir()
    print(f"NannyML {theirs['version']} (its venv) vs driftline, same chunks, one run\n")
    print(
        "| dataset | chunk rows | NannyML first alert | NannyML false alarms | driftline PCA "
        "first alert | driftline PCA false alarms | other driftline methods (first / false) "
        "| NannyML s | driftline s |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, spec in DATASETS.items():
        ref_file, ana_file = spec["files"]
        ref = pd.read_csv(where / ref_file)[spec["features"]]
        ana = pd.read_csv(where / ana_file)[spec["features"]]
        for size in sizes:
            methods = METHODS if size == 5000 else ("pca_reconstruction",)
            ours = run_driftline(ref, ana, size, methods)
            nml = theirs["results"][name][str(size)]
            n_first, n_false = score(nml["chunks"], lambda c: c["alert"], size, spec["change"])
            o_first, o_false = score(
                ours["chunks"], lambda c: c["alerts"]["pca_reconstruction"], size, spec["change"]
            )
            others = []
            for m in methods[1:]:
                f, fa = score(ours["chunks"], lambda c, m=m: c["alerts"][m], size, spec["change"])
                others.append(f"{m} {f} / {fa}")
            print(
                f"| {name} | {size:,} | {n_first} | {n_false} | {o_first} | {o_false} | "
                f"{'; '.join(others) or '-'} | {nml['seconds']:.1f} | {ours['seconds']:.1f} |"
            )


if __name__ == "__main__":
    main()
