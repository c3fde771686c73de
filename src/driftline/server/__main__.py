"""``python -m driftline.server``: the same as ``driftline serve``."""

from __future__ import annotations

from driftline.server.cli import main

if __name__ == "__main__":
    main()
