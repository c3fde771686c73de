"""whylogs: profile both sides, then its drift comparison. Runs in .venv-whylogs.

Timed: ``why.log(df).view()`` for the reference and the current frame and
``calculate_drift_scores(target_view=..., reference_view=..., with_thresholds=True)``
(KS on the profiles' KLL sketches for numeric columns, chi-squared on the
frequent-items sketches for categorical ones). A column counts as drifted when
whylogs puts it in its ``DRIFT`` category (p < 0.05).
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

import whylogs as why
from _runner import drifted_list, emit, frame_mb, parse_args, read_frames, run_guarded, timed
from whylogs.viz.drift.column_drift_algorithms import calculate_drift_scores


def compare(ref: Any, cur: Any) -> dict[str, Any]:
    ref_view = why.log(ref).view()
    cur_view = why.log(cur).view()
    return calculate_drift_scores(
        target_view=cur_view, reference_view=ref_view, with_thresholds=True
    )


def main() -> None:
    args = parse_args()
    ref, cur, load_s = read_frames(args.ref, args.cur)
    scores, compute_s = timed(lambda: compare(ref, cur))
    emit(
        tool="whylogs profile + drift scores",
        version=f"whylogs {version('whylogs')}",
        ok=True,
        rows=len(cur),
        load_s=load_s,
        compute_s=compute_s,
        frames_mb=frame_mb(ref, cur),
        drifted=drifted_list(
            c for c, s in scores.items() if s and s.get("drift_category") == "DRIFT"
        ),
    )


if __name__ == "__main__":
    run_guarded(main, "whylogs profile + drift scores")
