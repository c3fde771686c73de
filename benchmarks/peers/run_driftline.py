"""driftline's side of the batch drift speed benchmark. Runs in the project venv.

Modes (one per process, so each gets its own peak RSS):

- ``compare``: ``driftline.compare(ref_df, cur_df)`` on two in-memory pandas frames;
- ``prepare``: ``driftline.profile(ref_df).save(PROFILE)`` (setup for the next mode);
- ``compare-profile``: ``driftline.compare(DatasetProfile.load(PROFILE), cur_df)``;
  only the current Parquet is read, and only the compare is timed (``load_profile_s``
  is reported apart);
- ``profile``: ``driftline.profile(cur_df)`` alone.

Until the API exists the runner says so and reports the run as pending.
"""

from __future__ import annotations

import os
import time
from typing import Any

from _runner import drifted_list, emit, frame_mb, parse_args, read_frames, run_guarded, timed

TOOLS = {
    "compare": "driftline compare(df, df)",
    "compare-profile": "driftline compare(profile, df)",
    "profile": "driftline profile(df)",
    "prepare": "driftline profile(ref).save",
}


def _args(parser: Any) -> None:
    parser.add_argument("--mode", choices=sorted(TOOLS), default="compare")
    parser.add_argument("--profile", help="reference profile file (prepare, compare-profile)")


def _api() -> tuple[Any, str | None]:
    """The driftline module, or None and the reason the API is not usable yet."""
    try:
        import driftline
    except ImportError as exc:
        return None, f"cannot import driftline: {exc}"
    missing = [
        name for name in ("compare", "profile", "DatasetProfile") if not hasattr(driftline, name)
    ]
    if missing:
        return None, (
            f"driftline {getattr(driftline, '__version__', '?')} does not provide "
            f"{', '.join('driftline.' + m for m in missing)} yet (issue 2): "
            "the driftline rows are pending"
        )
    # driftline imports its statistics lazily; import them before the clock starts, as
    # the peers' runners do with their own libraries (imports are not compute)
    import driftline.report.compare
    import driftline.stats.profile

    # likewise the compiled kernels' one-time load (numba's cache; a compile on the very
    # first run on a machine): timed apart and reported as kernel_load_s
    from driftline.stats.accumulators._kernels import warm_up

    start = time.perf_counter()
    warm_up()
    _KERNEL_LOAD["s"] = round(time.perf_counter() - start, 3)
    return driftline, None


_KERNEL_LOAD: dict[str, float] = {}


def _drifted(report: Any) -> list[str] | None:
    try:
        columns = report.to_dict()["columns"]
    except Exception:  # the report contract is issue 2's; do not fail the timing on it
        return None
    return drifted_list(name for name, col in columns.items() if col["drift"]["drifted"])


def main() -> None:
    args = parse_args(_args)
    tool = TOOLS[args.mode]
    driftline, why = _api()
    if driftline is None:
        emit(tool=tool, ok=False, pending=True, error=why)
        raise SystemExit(3)
    version = f"driftline {driftline.__version__}"
    common: dict[str, Any] = {"tool": tool, "version": version, "ok": True}
    common["kernel_load_s"] = _KERNEL_LOAD.get("s")

    if args.mode == "compare":
        ref, cur, load_s = read_frames(args.ref, args.cur)
        report, compute_s = timed(lambda: driftline.compare(ref, cur))
        emit(
            **common,
            rows=len(cur),
            load_s=load_s,
            compute_s=compute_s,
            frames_mb=frame_mb(ref, cur),
            drifted=_drifted(report),
        )
    elif args.mode == "prepare":
        ref, _, load_s = read_frames(args.ref, None)
        profile, compute_s = timed(lambda: driftline.profile(ref))
        _, save_s = timed(lambda: profile.save(args.profile))
        emit(
            **common,
            rows=len(ref),
            load_s=load_s,
            compute_s=compute_s,
            save_s=save_s,
            profile_bytes=os.path.getsize(args.profile),
        )
    elif args.mode == "compare-profile":
        _, cur, load_s = read_frames(None, args.cur)
        ref_profile, load_profile_s = timed(lambda: driftline.DatasetProfile.load(args.profile))
        report, compute_s = timed(lambda: driftline.compare(ref_profile, cur))
        emit(
            **common,
            rows=len(cur),
            load_s=load_s,
            load_profile_s=load_profile_s,
            compute_s=compute_s,
            frames_mb=frame_mb(cur),
            drifted=_drifted(report),
        )
    else:  # profile
        _, cur, load_s = read_frames(None, args.cur)
        _, compute_s = timed(lambda: driftline.profile(cur))
        emit(**common, rows=len(cur), load_s=load_s, compute_s=compute_s, frames_mb=frame_mb(cur))


if __name__ == "__main__":
    run_guarded(main, "driftline")
