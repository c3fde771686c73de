"""Baseline: a DataSketches KLL loop over the numeric columns.

Builds a ``kll_doubles_sketch`` per numeric column per side and runs the sketch
KS test between them (``datasketches.ks_test``, p = 0.05 / 20). Categorical columns
are not compared: this is the floor for sketching the numeric half. Project venv.
"""

from __future__ import annotations

from importlib.metadata import version

import datasketches
import numpy as np
import pandas as pd
from _runner import (
    NUMERIC,
    drifted_list,
    emit,
    frame_mb,
    parse_args,
    read_frames,
    run_guarded,
    timed,
)

K = 200
ALPHA = 0.05 / 20


def sketch(values: np.ndarray) -> datasketches.kll_doubles_sketch:
    sk = datasketches.kll_doubles_sketch(K)
    sk.update(values[~np.isnan(values)])
    return sk


def compare(ref: pd.DataFrame, cur: pd.DataFrame) -> dict[str, bool]:
    out: dict[str, bool] = {}
    for column in NUMERIC:
        r = sketch(ref[column].to_numpy(dtype=np.float64, na_value=np.nan))
        c = sketch(cur[column].to_numpy(dtype=np.float64, na_value=np.nan))
        out[column] = bool(datasketches.ks_test(r, c, ALPHA))
    return out


def main() -> None:
    args = parse_args()
    ref, cur, load_s = read_frames(args.ref, args.cur)
    result, compute_s = timed(lambda: compare(ref, cur))
    emit(
        tool="DataSketches KLL loop",
        version=f"datasketches {version('datasketches')}",
        ok=True,
        rows=len(cur),
        load_s=load_s,
        compute_s=compute_s,
        frames_mb=frame_mb(ref, cur),
        drifted=drifted_list(c for c, d in result.items() if d),
        note="numeric columns only",
    )


if __name__ == "__main__":
    run_guarded(main, "DataSketches KLL loop")
