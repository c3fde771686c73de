"""Alibi Detect: TabularDrift (KS per numeric feature, chi-squared per categorical one).

Runs in .venv-alibi. TabularDrift takes one numeric matrix, so the string columns
are first encoded to integer codes of the reference's categories (unseen values
become -1); that encoding is part of the timed compute, as it is for a user. Timed:
encoding both sides, the detector's constructor (which keeps the reference) and
``predict(x_cur, drift_type='feature')``. NaN is passed through unchanged, so the
column with missing values (num_8) gets a NaN p-value and is never flagged.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

import numpy as np
import pandas as pd
from _runner import (
    CATEGORICAL,
    NUMERIC,
    drifted_list,
    emit,
    frame_mb,
    parse_args,
    read_frames,
    run_guarded,
    timed,
)
from alibi_detect.cd import TabularDrift


def encode(df: pd.DataFrame, categories: dict[str, Any]) -> np.ndarray:
    columns = [df[c].to_numpy(dtype=np.float64) for c in NUMERIC]
    columns += [
        pd.Categorical(df[c], categories=categories[c]).codes.astype(np.float64)
        for c in CATEGORICAL
    ]
    return np.column_stack(columns)


def compare(ref: pd.DataFrame, cur: pd.DataFrame) -> dict[str, Any]:
    categories = {c: pd.unique(ref[c]) for c in CATEGORICAL}
    x_ref, x_cur = encode(ref, categories), encode(cur, categories)
    categorical = {len(NUMERIC) + i: None for i in range(len(CATEGORICAL))}
    detector = TabularDrift(x_ref, p_val=0.05, categories_per_feature=categorical)
    return detector.predict(x_cur, drift_type="feature")


def main() -> None:
    args = parse_args()
    ref, cur, load_s = read_frames(args.ref, args.cur)
    prediction, compute_s = timed(lambda: compare(ref, cur))
    flags = prediction["data"]["is_drift"]
    emit(
        tool="Alibi Detect TabularDrift",
        version=f"alibi-detect {version('alibi-detect')}",
        ok=True,
        rows=len(cur),
        load_s=load_s,
        compute_s=compute_s,
        frames_mb=frame_mb(ref, cur),
        drifted=drifted_list(c for c, f in zip(NUMERIC + CATEGORICAL, flags, strict=True) if f),
    )


if __name__ == "__main__":
    run_guarded(main, "Alibi Detect TabularDrift")
