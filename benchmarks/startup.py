"""Install size and start-up times of driftline (issue 14).

Builds throw-away virtualenvs from a source tree (this checkout, or another
commit with --source) and measures, each the median of --repeat runs:

* the installed size of ``pip install driftline`` (core only), with and
  without numpy, and of ``driftline[all]``;
* ``import driftline.sdk`` / ``from driftline import Monitor`` inside Python
  (in-process timer, so the interpreter's own start is not counted);
* ``driftline --help`` and ``driftline check --help`` as a user runs them
  (wall time of the whole process, interpreter start included), how soon
  ``driftline check`` answers on its inputs (two missing files: exit 2), and a
  whole ``driftline check`` of two small CSV files (500 rows, 4 columns: the
  start-up plus the imports a real comparison needs: pyarrow, scipy, ...).

Usage::

    python benchmarks/startup.py                      # this checkout
    python benchmarks/startup.py --source /tmp/old    # e.g. a `git archive` of the old main
    python benchmarks/startup.py --venv .venv         # time an existing venv, no install

The installs need PyPI (pip's cache makes re-runs quick).
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: The timed processes write and use bytecode as a user's do: with PYTHONDONTWRITEBYTECODE
#: set (as in some shells and CI images) an editable install would compile driftline's
#: sources on every run, which is not what a user's start-up costs. Each statement and
#: command also runs once untimed first, so the .pyc files exist.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _run(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, env=ENV, **kw)  # type: ignore[call-overload, no-any-return]


def make_venv(where: Path, source: Path, extra: str | None) -> Path:
    _run([sys.executable, "-m", "venv", str(where)])
    py = where / "bin" / "python"
    target = f"{source}[{extra}]" if extra else str(source)
    _run([str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", target])
    return py


def site_packages(py: Path) -> Path:
    out = _run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
    return Path(out.stdout.strip())


def size_mb(path: Path, skip: tuple[str, ...] = ()) -> float:
    total = 0
    for entry in path.iterdir():
        if entry.name in ("pip", "setuptools", "_distutils_hack") or entry.name.startswith(
            ("pip-", "setuptools-", "distutils-precedence")
        ):
            continue  # the venv's own tools, not driftline's footprint
        if any(entry.name.startswith(s) for s in skip):
            continue
        if entry.is_file():
            total += entry.stat().st_size
        else:
            total += sum(f.stat().st_size for f in entry.rglob("*") if f.is_file())
    return total / 1e6


def import_seconds(py: Path, statement: str, repeat: int) -> tuple[float, float]:
    """Median (wall, CPU) seconds of ``statement`` in a fresh interpreter.

    CPU time (user + system of the process) is what the import costs; on a
    loaded machine the wall time also counts the time spent waiting for a core.
    """
    code = (
        "import time; t = time.perf_counter(); c = time.process_time(); "
        f"{statement}; print(time.perf_counter() - t, time.process_time() - c)"
    )
    _run([str(py), "-c", code])  # warm-up: writes the bytecode
    runs = [tuple(map(float, _run([str(py), "-c", code]).stdout.split())) for _ in range(repeat)]
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def command_seconds(exe: Path, args: list[str], repeat: int) -> tuple[float, float, int, str]:
    """Median (wall, CPU) seconds of running the command, interpreter start included."""
    wall, cpu = [], []
    rc, first = 0, ""
    subprocess.run([str(exe), *args], capture_output=True, env=ENV)  # warm-up: bytecode
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        done = subprocess.run([str(exe), *args], capture_output=True, text=True, env=ENV)
        wall.append(time.perf_counter() - t)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        rc, first = done.returncode, (done.stderr or done.stdout).strip().splitlines()[0]
    return statistics.median(wall), statistics.median(cpu), rc, first


def small_files(where: Path, rows: int = 500) -> list[str]:
    """Two small CSV files (reference, current; ``amount`` shifted), made with the stdlib."""
    rng = random.Random(0)
    paths = []
    for name, shift in (("ref.csv", 0.0), ("cur.csv", 10.0)):
        path = where / name
        with path.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["amount", "age", "plan", "label"])
            for _ in range(rows):
                plan = rng.choice(["basic", "plus", "pro"])
                w.writerow([round(rng.gauss(100 + shift, 15), 2), rng.randint(18, 80), plan,
                            int(rng.random() < 0.3)])  # fmt: skip
        paths.append(str(path))
    return paths


def measure(py: Path, repeat: int, label: str) -> None:
    exe = py.parent / "driftline"
    print(f"\n[{label}] {py}")
    for statement in ("import driftline", "import driftline.sdk", "from driftline import Monitor"):
        try:
            wall, cpu = import_seconds(py, statement, repeat)
            ms = f"{wall * 1000:7.1f} ms wall, {cpu * 1000:6.1f} ms CPU"
            print(f"  {statement:<32} {ms} (in-process)")
        except subprocess.CalledProcessError as exc:
            print(f"  {statement:<32} fails: {exc.stderr.strip().splitlines()[-1]}")
    # the last: how soon `driftline check` answers on its inputs (a missing file, exit 2)
    missing = ["check", "missing-ref.csv", "missing-cur.csv"]
    with tempfile.TemporaryDirectory() as tmp:
        small = ["check", *small_files(Path(tmp))]
        for args in (["--help"], ["check", "--help"], ["serve", "--help"], missing, small):
            wall, cpu, rc, first = command_seconds(exe, args, repeat)
            ms = f"{wall * 1000:7.1f} ms wall, {cpu * 1000:6.1f} ms CPU"
            shown = " ".join(a if a == "check" or a.startswith("-") or "missing" in a
                             else Path(a).name for a in args)  # fmt: skip
            line = f"  driftline {shown:<22} {ms} (whole process), exit {rc}"
            print(line if rc == 0 else f"{line}: {first}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", type=Path, default=ROOT, help="source tree to install")
    ap.add_argument("--venv", type=Path, help="time this existing venv instead of installing")
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} (1, 5 min)")
    if args.venv is not None:
        measure(args.venv.resolve() / "bin" / "python", args.repeat, "existing venv")
        return
    with tempfile.TemporaryDirectory() as tmp:
        for extra in (None, "all"):
            name = "driftline" if extra is None else f"driftline[{extra}]"
            py = make_venv(Path(tmp) / (extra or "core"), args.source.resolve(), extra)
            sp = site_packages(py)
            total, no_numpy = size_mb(sp), size_mb(sp, skip=("numpy",))
            print(f"\n{name}: installed {total:.0f} MB, {no_numpy:.1f} MB besides numpy")
            measure(py, args.repeat, name)


if __name__ == "__main__":
    main()
