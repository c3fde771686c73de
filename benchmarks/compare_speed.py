"""Batch drift speed and memory: driftline side by side with peer tools (issues 2 and 3).

Every tool reads the same Parquet files (benchmarks/_data.py: N rows x 20 features a
side, 4 shifted columns) in its own subprocess, with its own venv's python:

    bash benchmarks/peers/setup.sh                       # once: one venv per peer
    .venv/bin/python benchmarks/compare_speed.py         # 100k, 1M, 5M; all tools
    .venv/bin/python benchmarks/compare_speed.py --sizes 1M --tools driftline nannyml

Per run it records the runner's compute-only wall seconds (after both frames are in
memory) and CPU seconds (all threads; steadier than wall time on a shared machine),
the Parquet load seconds, the process's peak RSS (``wait4`` rusage; the high-water
mark is reset once the frames are read, the same for every tool, so reading the
files, which briefly needs the Arrow table and the frame, is not counted) and the
1-minute load average when the run started; a run past ``--timeout`` is killed and
shown as "> timeout". The Markdown table goes to stdout; ``--save FILE`` also keeps
the raw results (JSON lines) and ``--render FILE ...`` prints the table of saved runs
without running anything.

"RSS / input" divides the peak RSS by the in-memory Arrow size of the input the run
reads (both sides, or only the current side for the profile rows); "compute +MB" is
what the peak grew by after the frames were read (so: the comparison's own memory). The speed-up
column is the tool's compute time over driftline ``compare(df, df)``'s at that size,
in wall time and, when both runs have it, in CPU time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _data

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
PEERS = BENCH / "peers"
PROJECT_PYTHON = REPO / ".venv" / "bin" / "python"
MARKER = "BENCH_RESULT "


@dataclass(frozen=True)
class Tool:
    key: str  # what --tools takes
    label: str  # the table's name
    python: Path
    script: str
    mode: str | None = None  # run_driftline.py --mode
    reads: str = "both"  # "both" or "cur": what the RSS ratio divides by
    package: str = "driftline"  # whose version the notes name


def package_version(tool: Tool) -> str | None:
    """The tool's package version from its venv (for runs that printed nothing)."""
    code = f"from importlib.metadata import version; print(version({tool.package!r}))"
    try:
        out = subprocess.run(
            [str(tool.python), "-c", code], capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return f"{tool.package} {out.stdout.strip()}" if out.returncode == 0 else None


def _peer(name: str) -> Path:
    return BENCH / f".venv-{name}" / "bin" / "python"


TOOLS: list[Tool] = [
    Tool("driftline", "driftline compare(df, df)", PROJECT_PYTHON, "run_driftline.py", "compare"),
    Tool(
        "driftline",
        "driftline compare(profile, df)",
        PROJECT_PYTHON,
        "run_driftline.py",
        "compare-profile",
        "cur",
    ),
    Tool(
        "driftline",
        "driftline profile(df)",
        PROJECT_PYTHON,
        "run_driftline.py",
        "profile",
        "cur",
    ),
    Tool("scipy", "scipy loop (KS, chi2, PSI)", PROJECT_PYTHON, "run_scipy.py", package="scipy"),
    Tool(
        "kll",
        "DataSketches KLL loop (numeric)",
        PROJECT_PYTHON,
        "run_kll.py",
        package="datasketches",
    ),
    Tool(
        "nannyml",
        "NannyML UnivariateDriftCalculator",
        _peer("nannyml"),
        "run_nannyml.py",
        package="nannyml",
    ),
    Tool(
        "alibi",
        "Alibi Detect TabularDrift",
        _peer("alibi"),
        "run_alibi.py",
        package="alibi-detect",
    ),
    Tool(
        "whylogs",
        "whylogs profile + drift scores",
        _peer("whylogs"),
        "run_whylogs.py",
        package="whylogs",
    ),
    Tool(
        "evidently",
        "Evidently DataDriftPreset",
        _peer("evidently"),
        "run_evidently.py",
        package="evidently",
    ),
]
TOOL_KEYS = list(dict.fromkeys(t.key for t in TOOLS))
REFERENCE_LABEL = TOOLS[0].label  # the speed-up column divides by this row's time


@dataclass
class Run:
    tool: str
    rows: int
    status: str  # ok | timeout | failed | pending
    compute_s: float | None = None
    load_s: float | None = None
    wall_s: float | None = None
    peak_rss_mb: float | None = None
    input_mb: float | None = None
    load_avg: float | None = None
    timeout_s: float | None = None
    version: str | None = None
    drifted: list[str] | None = None
    error: str | None = None
    revision: str | None = None  # driftline's commit, for the driftline rows
    extra: dict[str, Any] = field(default_factory=dict)


def _run_process(argv: list[str], timeout: float) -> tuple[str, float, float, dict[str, Any]]:
    """Run argv; return (status, wall seconds, peak RSS MB, parsed result line)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            argv, stdout=out, stderr=err, cwd=PEERS, start_new_session=True, env=_env()
        )
        status = "ok"
        while True:
            pid, code, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - start > timeout:
                os.killpg(proc.pid, signal.SIGKILL)
                pid, code, usage = os.wait4(proc.pid, 0)
                status = "timeout"
                break
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(code)  # keep Popen from waiting again
        wall = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode(errors="replace")
        stderr = err.read().decode(errors="replace")
    result: dict[str, Any] = {}
    for line in stdout.splitlines():
        if line.startswith(MARKER):
            result = json.loads(line[len(MARKER) :])
    if status == "ok" and not result.get("ok"):
        status = "pending" if result.get("pending") else "failed"
        if "error" not in result:
            tail = (stderr.strip().splitlines() or ["no output"])[-1]
            result["error"] = f"exit {proc.returncode}: {tail}"
    return status, wall, usage.ru_maxrss / 1024, result


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env.pop("VIRTUAL_ENV", None)
    env["NML_DISABLE_USAGE_LOGGING"] = "1"  # NannyML would try to phone home
    env["PYTHONWARNINGS"] = "ignore"
    # Arrow's default allocator (mimalloc) keeps the pages pandas' Parquet reader freed
    # (about 250 MB a 5M-row frame) and would charge them to every tool's peak; the
    # system allocator hands them back. The same for every runner; speed is unchanged.
    env.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
    return env


def run_tool(tool: Tool, n: int, sizes_mb: dict[str, float], timeout: float) -> Run:
    ref, cur = _data.paths(n)
    input_mb = sizes_mb["both"] if tool.reads == "both" else sizes_mb["cur"]
    load_avg = os.getloadavg()[0]
    if not tool.python.exists():
        return Run(
            tool.label,
            n,
            "failed",
            input_mb=input_mb,
            load_avg=load_avg,
            error=f"{tool.python} is missing: run bash benchmarks/peers/setup.sh {tool.key}",
        )
    base = [str(tool.python), str(PEERS / tool.script), "--ref", str(ref), "--cur", str(cur)]
    argv = base if tool.mode is None else [*base, "--mode", tool.mode]
    extra: dict[str, Any] = {}
    if tool.mode == "compare-profile":
        profile = str(_data.DATA_DIR / f"ref_{_data.size_label(n)}.profile")
        argv = [*argv, "--profile", profile]
        prep = [*base, "--mode", "prepare", "--profile", profile]
        status, _, _, result = _run_process(prep, timeout)
        if status != "ok":
            return Run(
                tool.label,
                n,
                status,
                input_mb=input_mb,
                load_avg=load_avg,
                timeout_s=timeout,
                error=f"making the reference profile: {result.get('error', status)}",
            )
        extra = {
            "profile_s": result.get("compute_s"),
            "profile_bytes": result.get("profile_bytes"),
        }
    status, wall, rss, result = _run_process(argv, timeout)
    for key in (
        "load_profile_s",
        "note",
        "frames_mb",
        "rss_after_load_mb",
        "compute_cpu_s",
        "kernel_load_s",
    ):
        if key in result:
            extra[key] = result[key]
    return Run(
        tool=tool.label,
        rows=n,
        status=status,
        compute_s=result.get("compute_s"),
        load_s=result.get("load_s"),
        wall_s=wall,
        peak_rss_mb=rss,
        input_mb=input_mb,
        load_avg=load_avg,
        timeout_s=timeout,
        version=result.get("version") or package_version(tool),
        drifted=result.get("drifted"),
        error=result.get("error"),
        revision=driftline_revision() if tool.key == "driftline" else None,
        extra=extra,
    )


# --- the table ---------------------------------------------------------------------


def _seconds(run: Run) -> str:
    if run.status == "timeout":
        return f"> {run.timeout_s:g}"
    if run.status == "pending":
        return "pending"
    if run.status != "ok" or run.compute_s is None:
        return "failed"
    return f"{run.compute_s:.2f}" if run.compute_s < 100 else f"{run.compute_s:.0f}"


def _speedup(run: Run, reference: Run | None) -> str:
    if run.tool == REFERENCE_LABEL or run.tool.startswith("driftline"):
        return "-"
    if reference is None or reference.status != "ok" or not reference.compute_s:
        return "pending"
    if run.status == "timeout" and run.timeout_s:
        return f"> {run.timeout_s / reference.compute_s:.0f}x"
    if run.status != "ok" or run.compute_s is None:
        return "-"
    out = _ratio(run.compute_s / reference.compute_s)
    cpu, ref_cpu = run.extra.get("compute_cpu_s"), reference.extra.get("compute_cpu_s")
    if cpu and ref_cpu:
        out += f" / {_ratio(cpu / ref_cpu)}"
    return out


def _ratio(value: float) -> str:
    return f"{value:.0f}x" if value >= 10 else f"{value:.1f}x"


def _flagged(run: Run) -> str:
    if run.drifted is None:
        return "-"
    hit = sum(c in _data.SHIFTED for c in run.drifted)
    return f"{len(run.drifted)} ({hit}/{len(_data.SHIFTED)})"


def table(runs: list[Run]) -> str:
    lines = [
        "| tool | rows/side | compute s | compute CPU s | load s | peak RSS MB | RSS / input "
        "| compute +MB | flagged (shifted found) | driftline speed-up (wall / CPU) | load avg |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    reference = {r.rows: r for r in runs if r.tool == REFERENCE_LABEL}
    for run in runs:
        ok = run.status == "ok"
        rss = f"{run.peak_rss_mb:,.0f}" if ok and run.peak_rss_mb else "-"
        if run.status == "timeout" and run.peak_rss_mb:
            rss = f"> {run.peak_rss_mb:,.0f}"
        ratio = (
            f"{run.peak_rss_mb / run.input_mb:.1f}"
            if ok and run.peak_rss_mb and run.input_mb
            else "-"
        )
        after_load = run.extra.get("rss_after_load_mb")
        added = "-"
        if ok and run.peak_rss_mb and after_load:
            added = f"{max(run.peak_rss_mb - after_load, 0.0):,.0f}"
        load = f"{run.load_s:.2f}" if run.load_s is not None else "-"
        cpu_s = run.extra.get("compute_cpu_s")
        cpu = f"{cpu_s:.2f}" if ok and cpu_s is not None else "-"
        avg = f"{run.load_avg:.1f}" if run.load_avg is not None else "-"
        speedup = _speedup(run, reference.get(run.rows))
        lines.append(
            f"| {run.tool} | {_data.size_label(run.rows)} | {_seconds(run)} | {cpu} | {load} "
            f"| {rss} "
            f"| {ratio} | {added} | {_flagged(run)} | {speedup} | {avg} |"
        )
    return "\n".join(lines)


def notes(runs: list[Run]) -> str:
    out = []
    versions = sorted({r.version for r in runs if r.version})
    if versions:
        out.append("Versions: " + ", ".join(versions) + ".")
    revisions = sorted({r.revision for r in runs if r.revision})
    if revisions:
        out.append("driftline measured at commit " + "; ".join(revisions) + ".")
    for run in runs:
        if run.status in ("failed", "pending") and run.error:
            out.append(f"- {run.tool} at {_data.size_label(run.rows)}: {run.status}: {run.error}")
        prof = run.extra.get("profile_bytes")
        if prof:
            out.append(
                f"- {run.tool} at {_data.size_label(run.rows)}: reference profile "
                f"{prof / 1024:,.0f} KiB made in {run.extra.get('profile_s', 0):.2f} s, "
                f"loaded in {run.extra.get('load_profile_s', 0):.3f} s"
            )
    loads = [r.extra["kernel_load_s"] for r in runs if r.extra.get("kernel_load_s") is not None]
    if loads:
        out.append(
            "- driftline's compiled kernels: one-time load per process before the clock, like "
            f"the imports: {min(loads):.2f}-{max(loads):.2f} s (numba's on-disk cache)"
        )
    return "\n".join(out)


def driftline_revision() -> str:
    """The commit the driftline rows measure, marked when src/ has uncommitted edits."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head} (with uncommitted edits in src/)" if dirty else head


def latest(runs: list[Run]) -> list[Run]:
    """One run per (tool, rows), the last one given, in table order."""
    keep = {(r.tool, r.rows): r for r in runs}
    order = {t.label: i for i, t in enumerate(TOOLS)}
    return sorted(keep.values(), key=lambda r: (r.rows, order.get(r.tool, len(order))))


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{platform.node()}: {os.cpu_count()} cores ({cpu}), {mem:.0f} GiB RAM, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}; "
        f"load average {load}; {time.strftime('%Y-%m-%d %H:%M %Z')}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["100k", "1M", "5M"])
    parser.add_argument("--tools", nargs="+", default=TOOL_KEYS, choices=TOOL_KEYS)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per tool run")
    parser.add_argument("--save", type=Path, help="append the raw results (JSON lines) here")
    parser.add_argument(
        "--render", type=Path, nargs="+", help="print the table of saved results; run nothing"
    )
    args = parser.parse_args()

    if args.render:
        runs = latest(
            [
                Run(**json.loads(line))
                for path in args.render
                for line in path.read_text().splitlines()
                if line.strip()
            ]
        )
        print(table(runs))
        print()
        print(notes(runs))
        return 0

    print(f"Machine: {machine()}", flush=True)
    print(f"driftline revision: {driftline_revision()}", flush=True)
    runs: list[Run] = []
    for text in args.sizes:
        n = _data.parse_size(text)
        _data.ensure(n)
        sizes = {
            "both": _data.arrow_nbytes(n) / 2**20,
            "cur": _data.arrow_nbytes(n, sides=("cur",)) / 2**20,
        }
        for tool in TOOLS:
            if tool.key not in args.tools:
                continue
            run = run_tool(tool, n, sizes, args.timeout)
            runs.append(run)
            print(
                f"  {tool.label} @ {_data.size_label(n)}: {run.status} "
                f"compute={_seconds(run)} s rss={run.peak_rss_mb or 0:,.0f} MB "
                f"load_avg={run.load_avg:.1f}" + (f" ({run.error})" if run.error else ""),
                file=sys.stderr,
                flush=True,
            )
            if args.save:
                with args.save.open("a") as fh:
                    fh.write(json.dumps(asdict(run)) + "\n")
    print()
    print(table(runs))
    print()
    print(notes(runs))
    print(f"\nLoad average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
