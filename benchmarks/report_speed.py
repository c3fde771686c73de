"""`driftline report` (the command, HTML + JSON) vs `driftline.compare` (the call) on the same data.

For each size, both run in fresh processes, interleaved, ``--repeat`` times:

* compare: ``python -c "import driftline; driftline.compare(ref, cur)"``; the
  process's wall time and the time of the ``compare`` call alone;
* report: ``driftline report ref cur -o report.html --json report.json``;
  the process's wall time (interpreter start, imports, profiling, comparison,
  HTML and JSON written).

Prints the medians, the ratios (target: report within 1.5x of compare) and
the HTML/JSON sizes, which should not grow with the row count. Data: the 20
column Parquet pairs of ``benchmarks/_data.py`` (written on first use)::

    .venv/bin/python benchmarks/report_speed.py --sizes 1M --repeat 3
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _data import ensure, parse_size, size_label

BIN = Path(sys.executable).parent
COMPARE = """
import sys, time
t0 = time.perf_counter()
import driftline
t1 = time.perf_counter()
driftline.compare(sys.argv[1], sys.argv[2])
t2 = time.perf_counter()
print(f"{t1 - t0:.4f} {t2 - t1:.4f}")
"""


def run_compare(ref: Path, cur: Path) -> tuple[float, float, float]:
    """(process wall, import time, compare call) in seconds."""
    start = time.perf_counter()
    res = subprocess.run(
        [sys.executable, "-c", COMPARE, str(ref), str(cur)],
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - start
    imp, call = (float(x) for x in res.stdout.split())
    return wall, imp, call


IN_PROCESS = """
import json, sys, time, tempfile, pathlib
import driftline
from driftline.report.chunks import chunked_report
from driftline.report.html import render_html
ref, cur, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3])
out = pathlib.Path(tempfile.mkdtemp())
for _ in range(repeat):
    t0 = time.perf_counter()
    driftline.compare(ref, cur)
    t1 = time.perf_counter()
    data = chunked_report(ref, cur, None).to_dict()
    t2 = time.perf_counter()
    (out / "r.html").write_text(render_html(data))
    (out / "r.json").write_text(json.dumps(data, indent=2, allow_nan=False))
    t3 = time.perf_counter()
    print(f"{t1 - t0:.4f} {t2 - t1:.4f} {t3 - t2:.4f}", flush=True)
"""


def run_in_process(ref: Path, cur: Path, repeat: int) -> tuple[float, float, float]:
    """Medians of (compare call, the report's comparison, HTML + JSON rendering and writing)."""
    res = subprocess.run(
        [sys.executable, "-c", IN_PROCESS, str(ref), str(cur), str(repeat)],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = [[float(x) for x in line.split()] for line in res.stdout.splitlines()]
    a, b, c = (statistics.median(col) for col in zip(*rows, strict=True))
    return a, b, c


def run_report(ref: Path, cur: Path, out: Path, *extra: str) -> float:
    start = time.perf_counter()
    subprocess.run(
        [
            str(BIN / "driftline"),
            "report",
            str(ref),
            str(cur),
            "-o",
            str(out / "report.html"),
            "--json",
            str(out / "report.json"),
            *extra,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["1M"])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--chunk-by", default="10", help="also time `report --chunk-by` with this value ('' = no)"
    )
    args = parser.parse_args()
    chunked: list[str] = []
    print(
        "| rows x 20 | compare call | compare process | report process | "
        "report / call | report / process | HTML | JSON |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for text in args.sizes:
        n = parse_size(text)
        ref, cur = ensure(n, verbose=False)
        calls, walls, reports = [], [], []
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp)
            for _ in range(args.repeat):
                wall, _imp, call = run_compare(ref, cur)
                calls.append(call)
                walls.append(wall)
                reports.append(run_report(ref, cur, out))
            html = (out / "report.html").stat().st_size
            js = (out / "report.json").stat().st_size
            a, b, c = run_in_process(ref, cur, args.repeat)
            chunked.append(
                f"{size_label(n)} in one process: compare {a:.2f} s; report = comparison "
                f"{b:.2f} s + HTML/JSON {c:.2f} s = {b + c:.2f} s ({(b + c) / a:.2f}x)"
            )
            if args.chunk_by:
                t = statistics.median(
                    run_report(ref, cur, out, "--chunk-by", args.chunk_by)
                    for _ in range(args.repeat)
                )
                chunked.append(
                    f"{size_label(n)}: `driftline report --chunk-by {args.chunk_by}` {t:.2f} s, "
                    f"HTML {(out / 'report.html').stat().st_size / 1e6:.2f} MB"
                )
        call, wall, rep = (statistics.median(x) for x in (calls, walls, reports))
        print(
            f"| {size_label(n)} | {call:.2f} s | {wall:.2f} s | {rep:.2f} s | "
            f"{rep / call:.2f}x | {rep / wall:.2f}x | {html / 1e6:.2f} MB | {js / 1e3:.0f} kB |",
            flush=True,
        )
    for line in chunked:
        print(f"\n{line}")


if __name__ == "__main__":
    main()
