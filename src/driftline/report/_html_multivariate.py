"""The HTML report's "Multivariate drift" section (docs/drift.md, "Multivariate drift")."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

from driftline.report.gate import fmt

_TITLES = {
    "pca_reconstruction": "PCA reconstruction error",
    "domain_classifier": "Domain classifier (ROC AUC)",
    "mmd": "MMD (RBF kernel)",
    "correlation": "Correlation change (largest)",
}


def multivariate_section(report: Mapping[str, Any]) -> str:
    mv = report.get("multivariate")
    if not mv:
        return ""
    rows = []
    for name, r in (mv.get("methods") or {}).items():
        drifted = r.get("drifted")
        badge = {True: ("bad", "drift"), False: ("good", "ok")}.get(drifted, ("none", "n/a"))
        d = r.get("details") or {}
        if drifted is None:
            where = escape(str(d.get("reason", r.get("computed", ""))))
        else:
            where = escape(_where(name, r, d))
        rows.append(
            f'<tr data-method="{escape(name)}" data-drifted="{str(bool(drifted)).lower()}">'
            f"<td>{escape(_TITLES.get(name, name))}</td>"
            f'<td><span class="badge {badge[0]}">{badge[1]}</span></td>'
            f'<td class="num">{fmt(r.get("statistic"))}</td>'
            f'<td class="num">{_threshold(name, r, d)}</td>'
            f'<td class="num">{fmt(r.get("p_value"))}</td><td class="how">{where}</td>'
            f'<td class="num">{fmt(r.get("n_reference"))} / {fmt(r.get("n_current"))}</td></tr>'
        )
    s = mv.get("sample") or {}
    cols = s.get("columns") or {}
    used = [*cols.get("numeric", []), *cols.get("categorical", [])]
    excluded = "; ".join(f"{k}: {v}" for k, v in (s.get("excluded") or {}).items())
    return f"""<section class="block" id="multivariate"><div class="card">
<h2>Multivariate drift</h2>
<p class="lead">Changes no single column shows: the joint sample of
{fmt(s.get("reference_rows"))} of {fmt(s.get("reference_of"))} reference rows and
{fmt(s.get("current_rows"))} of {fmt(s.get("current_of"))} current rows (the profiles'
reservoirs), over {len(used)} columns ({escape(", ".join(used)) or "none"}).
{("Left out: " + escape(excluded) + ".") if excluded else ""}
Rule: {escape(str(mv.get("rule", "")))}.</p>
<table id="multivariate-table"><thead><tr><th>method</th><th>status</th>
<th class="num">value</th><th class="num">threshold</th><th class="num">p-value</th>
<th>where to look</th><th class="num">rows ref / cur</th></tr></thead>
<tbody>{"".join(rows)}</tbody></table></div></section>"""


def excluded_pairs(d: Mapping[str, Any]) -> str:
    """ "; N pairs not tested: ..." when the correlation method left pairs out."""
    n = int(d.get("pairs_excluded") or 0)
    if not n:
        return ""
    cols = list(d.get("excluded_columns") or {})
    more = f" and {len(cols) - 4} more" if len(cols) > 4 else ""
    return (
        f"; {n:,} pair{'s' if n != 1 else ''} not tested: (near-)constant "
        f"{', '.join(cols[:4])}{more} (details.excluded_columns)"
    )


def _threshold(name: str, r: Mapping[str, Any], d: Mapping[str, Any]) -> str:
    if name == "pca_reconstruction" and d.get("lower") is not None:
        return f"{fmt(d['lower'])} – {fmt(d['upper'])}"
    if name in ("mmd",):
        return f"p &lt; {fmt(r.get('threshold'))}"
    return fmt(r.get("threshold"))


def _where(name: str, r: Mapping[str, Any], d: Mapping[str, Any]) -> str:
    if name == "domain_classifier":
        top = d.get("top_features") or []
        return "separating best: " + (
            ", ".join(f"{f['column']} (AUC -{fmt(f['auc_drop'])})" for f in top[:3]) or "none"
        )
    if name == "correlation":
        pairs = d.get("top_pairs") or []
        return "; ".join(
            f"{a} × {b}: {fmt(p['reference'])} → {fmt(p['current'])}"
            for p in pairs[:3]
            for a, b in [p["columns"]]
        ) + excluded_pairs(d)
    if name == "pca_reconstruction":
        return f"{d.get('n_components')} components, band from {d.get('n_chunks')} reference chunks"
    return f"kernel width {fmt(d.get('kernel_width'))}, {d.get('permutations')} permutations"
