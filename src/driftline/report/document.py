"""The :class:`Report` of a comparison and its JSON form (docs/report-format.md)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMAT_VERSION = 1
#: Height in pixels of the report's frame in a notebook (it scrolls inside).
NOTEBOOK_HEIGHT = 720


@dataclass
class Report:
    """Result of :func:`driftline.compare`: per-column drift and quality, and the verdicts."""

    data: dict[str, Any]
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def drifted(self) -> bool:
        return bool(self.data["dataset"]["drifted"])

    @property
    def verdict(self) -> str:
        """``"drift"``, ``"no_drift"`` or ``"insufficient_data"`` (too few rows to decide)."""
        return str(self.data["dataset"].get("verdict", "drift" if self.drifted else "no_drift"))

    @property
    def drifted_columns(self) -> list[str]:
        return list(self.data["dataset"]["drifted_columns"])

    @property
    def failed_checks(self) -> list[dict[str, Any]]:
        """Every quality check with status "fail" (dataset-level and per column)."""
        out = [q for q in self.data["quality"] if q["status"] == "fail"]
        for col in self.data["columns"].values():
            out.extend(q for q in col["quality"] if q["status"] == "fail")
        return out

    @property
    def performance(self) -> dict[str, Any] | None:
        """The prediction-quality section (docs/report-format.md), or None."""
        perf = self.data.get("performance")
        return None if perf is None else dict(perf)

    def column(self, name: str) -> dict[str, Any]:
        return dict(self.data["columns"][name])

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = _clean(self.data)
        return out

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def save_json(self, path: str | Path) -> Path:
        p = Path(path)
        p.write_text(self.to_json())
        return p

    def to_html(self, title: str | None = None) -> str:
        """The HTML report as one self-contained page (what ``driftline report`` writes)."""
        from driftline.report.html import render_html

        return render_html(self.to_dict(), title=title)

    def save_html(self, path: str | Path, title: str | None = None) -> Path:
        """Write the HTML report to ``path`` (Plotly inlined: opens offline); return the path."""
        from driftline.report.html import save_html

        return save_html(self.to_dict(), path, title=title)

    def _repr_html_(self) -> str:
        """Jupyter's view: the HTML report in a sandboxed frame (its styles and scripts
        stay inside; charts draw as in the saved file)."""
        from driftline.report.html import framed

        return framed(self.to_html(), height=NOTEBOOK_HEIGHT)

    def summary(self) -> str:
        from driftline.report._severity import drifted_names
        from driftline.report.console import undecided_quality

        d = self.data["dataset"]
        if d.get("verdict") == "insufficient_data":
            return (
                f"insufficient data: {d.get('reason')}; "
                f"{d['n_reference']} reference rows vs {d['n_current']} current rows"
            )
        verdict = "DRIFT" if d["drifted"] else "no drift"
        cols = ", ".join(drifted_names(d)) or "none"
        return (
            f"{verdict}: {len(d['drifted_columns'])} of {d['n_columns']} columns drifted "
            f"({cols}); {d['quality']['failed']} quality checks failed"
            f"{undecided_quality(d['quality'])}; "
            f"{d['n_reference']} reference rows vs {d['n_current']} current rows"
        )


def _clean(obj: Any) -> Any:
    """JSON-safe copy: NaN/inf become null, numpy scalars plain numbers."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, int):
        return obj
    if hasattr(obj, "item"):
        return _clean(obj.item())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    return obj
