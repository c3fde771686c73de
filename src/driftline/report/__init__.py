"""Batch comparison: reference vs current -> :class:`Report` -> JSON / HTML.

The names are imported on first use, so the command line can import
``driftline.report._cli`` without loading scipy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from driftline._utils.lazy import lazy_package as _lazy_package

if TYPE_CHECKING:
    from driftline.report.compare import compare
    from driftline.report.document import Report

_LAZY = {"Report": "driftline.report.document", "compare": "driftline.report.compare"}
_lazy_package(__name__, _LAZY)

__all__ = ["Report", "compare"]
