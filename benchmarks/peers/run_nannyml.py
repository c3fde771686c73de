"""NannyML: UnivariateDriftCalculator over all 20 columns. Runs in .venv-nannyml.

Methods: Kolmogorov-Smirnov and Jensen-Shannon for continuous columns, chi-squared
and Jensen-Shannon for categorical ones. The whole current batch is one chunk
compared with the whole reference (``chunk_number=1``), the same job as the other
tools. NannyML's default thresholds come from the spread over several reference
chunks and degenerate to 0 with one chunk, so KS and Jensen-Shannon get constant
thresholds of 0.1; chi-squared alerts on p < 0.05 as NannyML always does. A column
counts as drifted when any of its methods alerts. Timed: ``fit(ref)`` (which also
scores the reference against itself) and ``calculate(cur)``. Usage telemetry is off.
"""

from __future__ import annotations

import os

os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")

import warnings
from importlib.metadata import version
from typing import Any

import nannyml as nml
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
from nannyml.thresholds import ConstantThreshold


def compare(ref: Any, cur: Any) -> Any:
    calculator = nml.UnivariateDriftCalculator(
        column_names=NUMERIC + CATEGORICAL,
        continuous_methods=["kolmogorov_smirnov", "jensen_shannon"],
        categorical_methods=["chi2", "jensen_shannon"],
        thresholds={
            "kolmogorov_smirnov": ConstantThreshold(upper=0.1),
            "jensen_shannon": ConstantThreshold(upper=0.1),
        },
        chunk_number=1,
    )
    calculator.fit(ref)
    return calculator.calculate(cur)


def drifted(result: Any) -> list[str]:
    frame = result.filter(period="analysis").to_df()
    alerts = [key for key in frame.columns if key[-1] == "alert" and frame[key].any()]
    return drifted_list(key[0] for key in alerts)


def main() -> None:
    warnings.simplefilter("ignore")  # one-chunk and NaN warnings; the verdicts are read below
    args = parse_args()
    ref, cur, load_s = read_frames(args.ref, args.cur)
    result, compute_s = timed(lambda: compare(ref, cur))
    emit(
        tool="NannyML UnivariateDriftCalculator",
        version=f"nannyml {version('nannyml')}",
        ok=True,
        rows=len(cur),
        load_s=load_s,
        compute_s=compute_s,
        frames_mb=frame_mb(ref, cur),
        drifted=drifted(result),
    )


if __name__ == "__main__":
    run_guarded(main, "NannyML UnivariateDriftCalculator")
