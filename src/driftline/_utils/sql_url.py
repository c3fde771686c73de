"""A SQLAlchemy URL told from a path without importing SQL or Arrow code (the CLI asks first)."""

from __future__ import annotations

import re

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


def is_sql_url(value: object) -> bool:
    """True for a ``dialect[+driver]://...`` string (a SQLAlchemy URL), False for a path."""
    return isinstance(value, str) and bool(_URL.match(value))
