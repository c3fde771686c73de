"""Batch comparison: reference vs current -> :class:`Report` -> JSON / HTML."""

from driftline.report.compare import compare
from driftline.report.model import Report

__all__ = ["Report", "compare"]
