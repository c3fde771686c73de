"""A profile as an HTML table: Jupyter's view of a :class:`DatasetProfile` (``_repr_html_``).

One row per column: kind, role, missing share, distinct values and a summary of
the values (range and median, or the top categories). Plain HTML, no script.
"""

from __future__ import annotations

import math
from html import escape
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from driftline.stats.column_profile import ColumnProfile
    from driftline.stats.profile import DatasetProfile


def _fmt(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return "—"
    if x != 0 and (abs(x) >= 1e6 or abs(x) < 1e-3):
        return f"{x:.3g}"
    return f"{x:,.4g}"


def _pct(x: float) -> str:
    return "—" if not math.isfinite(x) else f"{x:.1%}"


def _stats(col: ColumnProfile) -> str:
    """A one-line summary of the column's values: range and median, or its top categories."""
    from driftline.stats.column_profile import CATEGORY_KINDS

    if col.kind in CATEGORY_KINDS:
        counts = col.categories.counts()
        total = sum(counts.values()) or 1
        top = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))[:3]
        shown = ", ".join(f"{escape(str(k))} {v / total:.0%}" for k, v in top)
        more = len(counts) - len(top)
        return shown + (f" (+{more:,} more)" if more > 0 else "")
    if col.moments.n:
        median = float(col.quantiles.quantiles(np.array([0.5]))[0])
        label = {"text": "length: ", "embedding": "norm: "}.get(col.kind.value, "")
        return label + (
            f"mean {_fmt(col.moments.mean)}, min {_fmt(col.moments.min)}, "
            f"median {_fmt(median)}, max {_fmt(col.moments.max)}"
        )
    return ""


def profile_html(profile: DatasetProfile) -> str:
    """A profile as an HTML table: kind, role, missing share, distinct values, summary."""
    rows = []
    for name, col in profile.columns.items():
        spec = col.spec
        distinct = "—" if col.kind.value == "embedding" else f"{round(col.distinct.estimate):,}"
        rows.append(
            "<tr>"
            f"<td><b>{escape(name)}</b></td><td>{escape(spec.kind.value)}</td>"
            f"<td>{escape(spec.role.value)}</td>"
            f'<td style="text-align:right">{_pct(col.missing_ratio)}</td>'
            f'<td style="text-align:right">{distinct}</td>'
            f"<td>{_stats(col)}</td></tr>"
        )
    head = (
        f"<p><b>driftline profile</b>: {profile.n_rows:,} rows x {len(profile.columns)} "
        f"columns; about {profile.duplicate_ratio:.1%} duplicate rows</p>"
    )
    cells = "".join(
        f"<th>{h}</th>" for h in ("column", "kind", "role", "missing", "distinct", "values")
    )
    return (
        f'<div class="driftline-profile">{head}<table><thead><tr>{cells}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )
