"""``driftline`` and ``python -m driftline``: the command line.

A command whose optional dependencies are not installed ends with one line
naming the extra to install (``pip install 'driftline[server]'``), never a
traceback.
"""

from __future__ import annotations

import sys

from driftline.errors import missing_extra


def main() -> None:
    try:
        from driftline.cli import main as run

        run()
    except ImportError as exc:
        missing = missing_extra(exc)
        if missing is None:
            raise
        words = [a for a in sys.argv[1:3] if not a.startswith("-")][:1]
        command = " ".join(["driftline", *words])
        sys.stderr.write(f"{command}: {missing}\n")
        sys.exit(1)


if __name__ == "__main__":
    main()
