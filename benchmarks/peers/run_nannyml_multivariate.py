"""NannyML's DataReconstructionDriftCalculator on its own example data (benchmarks/multivariate.py).

Runs in benchmarks/.venv-nannyml. Reads a JSON job on stdin:
``{"datasets": {name: {"features": [...], "chunk_sizes": [...]}}}`` and prints one
line ``BENCH_RESULT <json>``: per dataset and chunk size, each chunk's period,
start row, value, band and alert, and the seconds fit + calculate took.
"""

from __future__ import annotations

import json
import os
import sys
import time

os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")

import nannyml as nml

LOADERS = {
    "car_loan": nml.load_synthetic_car_loan_dataset,
    "binary": nml.load_synthetic_binary_classification_dataset,
    "multiclass": nml.load_synthetic_multiclass_classification_dataset,
}


def main() -> None:
    job = json.load(sys.stdin)
    out: dict[str, object] = {"version": nml.__version__, "results": {}}
    for name, spec in job["datasets"].items():
        ref, ana, _ = LOADERS[name]()
        per_size = {}
        for size in spec["chunk_sizes"]:
            t0 = time.perf_counter()
            calc = nml.DataReconstructionDriftCalculator(
                column_names=spec["features"], timestamp_column_name="timestamp", chunk_size=size
            ).fit(ref)
            df = calc.calculate(ana).filter(period="all").to_df()
            seconds = time.perf_counter() - t0
            rows = []
            for _, r in df.iterrows():
                rows.append(
                    {
                        "period": r[("chunk", "period")],
                        "start": int(r[("chunk", "start_index")]),
                        "value": float(r[("reconstruction_error", "value")]),
                        "lower": float(r[("reconstruction_error", "lower_threshold")]),
                        "upper": float(r[("reconstruction_error", "upper_threshold")]),
                        "alert": bool(r[("reconstruction_error", "alert")]),
                    }
                )
            per_size[str(size)] = {"seconds": seconds, "chunks": rows}
        out["results"][name] = per_size  # type: ignore[index]
    print("BENCH_RESULT " + json.dumps(out))


if __name__ == "__main__":
    main()
