"""The HTML report: one self-contained file (Plotly inlined once, no network) from a report dict.

Everything drawn comes from the report's aggregates (the ``distribution`` bins
of each column, the per-chunk statistics), never from raw rows, so the file's
size depends on the number of columns and bins, not on the number of rows.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from driftline.report._html_assets import CSS, SCRIPT, plotly_js
from driftline.report._html_data import (
    MAX_CATEGORIES_SHOWN,
    chart_data,
    chunk_columns,
    chunk_perf_metrics,
    short,
)
from driftline.report._html_multivariate import multivariate_section
from driftline.report._severity import drifted_names, ordered_columns, severity
from driftline.report.gate import fmt


def render_html(report: Mapping[str, Any], *, title: str | None = None) -> str:
    """The report as one HTML page (``report`` is ``Report.to_dict()``)."""
    ds = report["dataset"]
    inputs = report.get("inputs", {})
    name = title or "Drift report"
    chunks = report.get("chunks") or []
    sections = [
        _summary(report),
        _performance(report.get("performance")),
        _worst_slices(report.get("segments")),
        _chunks(report, chunks),
        _drift_table(report),
        multivariate_section(report),
        _distributions(report),
        _quality(report),
    ]
    nav = [
        ("summary", "Summary"),
        ("performance", "Performance") if report.get("performance") else None,
        ("worst-slices", "Worst slices") if report.get("segments") else None,
        ("over-time", "Over time") if chunks else None,
        ("drift", "Drift"),
        ("multivariate", "Multivariate") if report.get("multivariate") else None,
        ("distributions", "Distributions"),
        ("quality", "Data quality"),
    ]
    links = "".join(f'<a href="#{a}">{b}</a>' for a, b in filter(None, nav))
    meta = [
        f"<span>reference <b>{escape(inputs.get('reference', ''))}</b> "
        f"{fmt(ds['n_reference'])} rows</span>",
        f"<span>current <b>{escape(inputs.get('current', ''))}</b> "
        f"{fmt(ds['n_current'])} rows</span>",
    ]
    if inputs.get("generated_at"):
        meta.append(f"<span>generated {escape(inputs['generated_at'])}</span>")
    payload = json.dumps(chart_data(report, chunks), allow_nan=False, separators=(",", ":"))
    version = inputs.get("driftline_version", "")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="driftline {escape(version)}">
<title>{escape(name)} · driftline</title>
<style>{CSS}</style>
</head>
<body>
<header class="top"><div class="wrap">
<div class="brand">driftline</div>
<h1>{escape(name)}</h1>
<div class="meta">{"".join(meta)}</div>
</div></header>
<nav class="toc"><div class="wrap">{links}</div></nav>
<main class="wrap">
{"".join(sections)}
</main>
<footer class="wrap">
driftline {escape(version)} · report format {report.get("format_version", "")} ·
the numbers here are in the JSON report too (docs/report-format.md)
</footer>
<script>{plotly_js()}</script>
<script type="application/json" id="driftline-data">{_script_safe(payload)}</script>
<script>{SCRIPT}</script>
</body>
</html>
"""


def save_html(report: Mapping[str, Any], path: str | Path, *, title: str | None = None) -> Path:
    p = Path(path)
    p.write_text(render_html(report, title=title), encoding="utf-8")
    return p


def framed(page: str, *, height: int) -> str:
    """``page`` (a whole HTML document) in an ``<iframe srcdoc>`` of ``height`` pixels: how a
    notebook shows a report. Its CSS and scripts stay inside the frame, so the notebook's
    styles neither break it nor are broken by it (Jupyter, JupyterLab and VS Code alike)."""
    return (
        f'<iframe class="driftline-report" srcdoc="{escape(page, quote=True)}" '
        f'style="width:100%;height:{int(height)}px;border:1px solid #d0d7de;border-radius:4px" '
        'sandbox="allow-scripts allow-popups allow-modals" title="driftline report"></iframe>'
    )


def _script_safe(text: str) -> str:
    """JSON (or JS) text that cannot end or confuse its ``<script>`` element (``<!--<script>``)."""
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


# -- sections -----------------------------------------------------------------------


def _summary(report: Mapping[str, Any]) -> str:
    ds = report["dataset"]
    q = ds.get("quality", {})
    drifted = len(ds["drifted_columns"])
    failed, warned = q.get("failed", 0), q.get("warned", 0)
    bad = ds["drifted"] or failed > 0
    if ds.get("verdict") == "insufficient_data":
        head = "Insufficient data"
        text = f"No verdict: {ds.get('reason', 'too few rows')}."
        bad = True
    elif ds["drifted"]:
        head = "Drift detected"
        names = ", ".join(drifted_names(ds)[:6])
        more = f" and {drifted - 6} more" if drifted > 6 else ""
        text = f"{names}{more} changed beyond their thresholds."
    else:
        head = "No drift"
        text = "No column changed beyond its threshold."
    if failed:
        checks = f"{failed} data-quality check{'s' if failed > 1 else ''} failed."
        no_verdict = ds.get("verdict") == "insufficient_data"
        text = f"{text} {checks}" if ds["drifted"] or no_verdict else checks
        if not ds["drifted"] and not no_verdict:
            head = "Quality checks failed"
    if q.get("insufficient"):
        n = q["insufficient"]
        text += (
            f" {n} data-quality check{'s' if n > 1 else ''} could not decide: the reference "
            "is too small."
        )
    if ds.get("id_like_columns"):
        text += f" ID-like, not tested: {', '.join(ds['id_like_columns'])}."
    if ds.get("undecided_columns"):
        text += f" Undecided (sketch error): {', '.join(ds['undecided_columns'])}."
    if ds.get("insufficient_columns"):
        text += f" Too few values to compare: {', '.join(ds['insufficient_columns'])}."
    stats = [
        _stat(f"{drifted}<small> / {ds['n_columns']}</small>", "columns drifted", drifted > 0),
        _stat(str(failed), "quality checks failed", failed > 0),
        _stat(str(warned), "quality warnings", False, warn=warned > 0),
        _stat(
            f"{short(ds['n_current'])}<small> / {short(ds['n_reference'])}</small>",
            "rows current / reference",
            False,
        ),
    ]
    return f"""<section class="block" id="summary">
<div class="card verdict {"is-bad" if bad else "is-good"}">
<div><p class="verdict-title">{head}</p><p>{escape(text)}</p></div>
<div class="stats">{"".join(stats)}</div>
<div class="rule"><b>Rule:</b> {escape(ds.get("rule", ""))}</div>
</div></section>"""


def _stat(value: str, label: str, bad: bool, *, warn: bool = False) -> str:
    cls = "bad" if bad else ("warn" if warn else "")
    return f'<div class="stat {cls}"><div class="n">{value}</div><div class="l">{label}</div></div>'


def _performance(perf: Mapping[str, Any] | None) -> str:
    if not perf:
        return ""
    realized = perf.get("realized") or {}
    estimated = perf.get("estimated") or {}
    reference = perf.get("reference") or {}
    rows = []
    for metric in dict.fromkeys([*estimated, *realized]):
        est = estimated.get(metric) or {}
        interval = (
            f"{fmt(est.get('lower'))} – {fmt(est.get('upper'))}"
            if est.get("lower") is not None
            else "-"
        )
        rows.append(
            f"<tr><td>{escape(metric)}</td><td class='num'>{fmt(reference.get(metric))}</td>"
            f"<td class='num'>{fmt(realized.get(metric))}</td>"
            f"<td class='num'>{fmt(est.get('value'))}</td><td class='num'>{interval}</td></tr>"
        )
    body = "".join(rows) or '<tr><td colspan="5" class="empty">no metrics</td></tr>'
    warnings = "".join(f"<li>{escape(str(w))}</li>" for w in perf.get("warnings") or [])
    cols = ", ".join(
        f"{k} <b>{escape(str(perf[k]))}</b>" for k in ("target", "prediction") if perf.get(k)
    )
    return f"""<section class="block" id="performance"><div class="card">
<h2>Prediction quality</h2>
<p class="lead">Task {escape(str(perf.get("task", "")))} · {cols} ·
{fmt(perf.get("n_labelled"))} labelled predictions. Realized metrics use the labels;
estimated ones are computed from the model's scores without labels, with a 95% interval
for the realized metric (label noise of a chunk this size and the estimator's own
uncertainty; it assumes the relation of labels to inputs has not changed).</p>
{'<ul class="lead">' + warnings + "</ul>" if warnings else ""}
<table><thead><tr><th>metric</th><th class="num">reference</th><th class="num">realized</th>
<th class="num">estimated</th><th class="num">interval</th></tr></thead><tbody>{body}</tbody>
</table></div></section>"""


def _worst_slices(segments: Mapping[str, Any] | None) -> str:
    """The slices where the model does significantly worse than on the whole (FDR-controlled)."""
    if not segments:
        return ""
    worst = [w for w in segments.get("worst") or [] if w.get("significant")]
    how = escape(str(segments.get("worst_computed") or "not computed"))
    rows = "".join(
        f"<tr><td>{escape(str(w['name']))}</td><td class='num'>{fmt(w['n'])}</td>"
        f"<td>{escape(str(w['metric']))}</td><td class='num'>{fmt(w['value'])}</td>"
        f"<td class='num'>{fmt(w['rest'])}</td><td class='num'>{fmt(w['overall'])}</td>"
        f"<td class='num'>{fmt(w['q_value'])}</td></tr>"
        for w in worst
    )
    body = rows or (
        '<tr><td colspan="7" class="empty">no slice is significantly worse than the whole</td></tr>'
    )
    return f"""<section class="block" id="worst-slices"><div class="card">
<h2>Worst slices</h2>
<p class="lead">Slices of one or two segment columns whose loss is higher than on the rest of the
data: a one-sided Welch t-test per slice, Benjamini-Hochberg across every slice tested, so among
the slices listed the expected share of false discoveries is at most alpha. Computed on the
{how}.</p>
<table data-testid="worst-slices"><thead><tr><th>slice</th><th class="num">rows</th><th>loss</th>
<th class="num">slice</th><th class="num">rest</th><th class="num">whole</th>
<th class="num">q-value</th></tr></thead><tbody>{body}</tbody></table></div></section>"""


def _chunks(report: Mapping[str, Any], chunks: Sequence[Mapping[str, Any]]) -> str:
    if not chunks:
        return ""
    info = report.get("chunking", {})
    cols = chunk_columns(report, chunks)
    cards = []
    for name in cols:
        series = [c["columns"].get(name, {}).get("drift", {}) for c in chunks]
        n_bad = sum(1 for s in series if s.get("drifted"))
        method = next((s.get("method") for s in series if s.get("method")), "")
        sub = f"{method} · drifted in {n_bad} of {len(chunks)} chunks"
        cards.append(_chart_card(name, sub, "series", name, bad=n_bad > 0))
    perf = [_chart_card(m, "per chunk", "perf", m) for m in chunk_perf_metrics(chunks)]
    thr = escape(str(info.get("thresholds", "")))
    by = escape(str(info.get("by", "")))
    unassigned = info.get("unassigned_rows") or 0
    note = f" {fmt(unassigned)} rows had no timestamp and are in no chunk." if unassigned else ""
    return f"""<section class="block" id="over-time">
<div class="card"><h2>Over time</h2>
<p class="lead">The current data split by {by} into {len(chunks)} chunks, each compared
with the reference. Thresholds: {thr}.{note}</p>
<div class="chart tall" data-chart="overview" data-key=""></div></div>
{_PERF_HEAD if perf else ""}
<div class="grid">{"".join(perf)}</div>
<h3 style="margin:18px 0 4px">Drift statistic per chunk</h3>
<div class="legend"><span><i style="background:#334e68"></i>statistic</span>
<span><i style="background:#c62828"></i>threshold (dashed) and chunks that drifted</span></div>
<div class="grid">{"".join(cards)}</div>
</section>"""


_PERF_HEAD = """<h3 style="margin:18px 0 4px">Prediction quality per chunk</h3>
<div class="legend"><span><i style="background:#334e68"></i>realized (with labels)</span>
<span><i style="background:#9aa5b1"></i>estimated without labels, 95% band (dotted)</span>
<span><i style="background:#616e7c"></i>reference (dashed)</span></div>"""


def _chart_card(name: str, sub: str, kind: str, key: str, *, bad: bool = False) -> str:
    badge = '<span class="badge bad">drift</span>' if bad else ""
    return f"""<div class="chart-card" id="{kind}-{escape(_slug(name))}">
<header><h3>{escape(name)} {badge}</h3><span class="sub">{escape(sub)}</span></header>
<div class="chart" data-chart="{kind}" data-key="{escape(key)}"></div></div>"""


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)


def _drift_table(report: Mapping[str, Any]) -> str:
    rows = []
    drifted_descriptors = report["dataset"].get("drifted_descriptors") or {}
    for name, col in ordered_columns(report):
        d = col["drift"]
        drifted = d.get("drifted")
        badge = {True: ("bad", "drift"), False: ("good", "ok")}.get(drifted, ("none", "n/a"))
        if drifted is None and d.get("computed") == "id_like":
            badge = ("none", "ID-like")
        elif drifted is None and d.get("computed") == "sketch":
            badge = ("none", "undecided")
        p = (d.get("details") or {}).get("p_value_adjusted", d.get("p_value"))
        p_text = "< 1e-300" if p == 0 else fmt(p)
        sev = severity(d)
        width = max(0.0, min(sev / 3, 1.0)) * 100
        bar = (
            f'<span class="sev {"bad" if drifted else ""}" title="statistic / threshold = '
            f'{fmt(sev)}"><i style="width:{width:.1f}%"></i><b></b></span>'
            if sev >= 0
            else ""
        )
        link = f"#dist-{_slug(name)}" if col.get("distribution") else "#drift"
        how = d.get("computed", "")
        if how in ("not_applicable", "insufficient", "id_like"):
            how = (d.get("details") or {}).get("reason", how)
        note = (d.get("details") or {}).get("method_note")
        if note:
            how = f"{how}; {note}"
        # a descriptor under its text or image column: one column of the verdict
        child = ' style="padding-left:1.5em"' if col.get("descriptor_of") else ""
        n_kids = len(drifted_descriptors.get(name, []))
        n_all = len(col.get("descriptors", []))
        kids = f" <small>({n_kids} of {n_all} descriptors drifted)</small>" if n_kids else ""
        rows.append(
            f'<tr data-column="{escape(name)}" data-drifted="{str(bool(drifted)).lower()}">'
            f'<td class="col-name"{child}><a href="{link}">{escape(name)}</a>'
            f"{kids}</td>"
            f"<td>{escape(col['kind'])}</td><td>{escape(col.get('role', ''))}</td>"
            f'<td><span class="badge {badge[0]}">{badge[1]}</span></td>'
            f"<td>{escape(str(d.get('method', '')) if drifted is not None else '-')}</td>"
            f'<td class="num">{fmt(d.get("statistic"))}</td>'
            f'<td class="num">{fmt(d.get("threshold"))}</td>'
            f'<td class="num">{p_text}</td><td>{bar}</td>'
            f'<td class="how">{escape(str(how))}</td>'
            f'<td class="num">{fmt(d.get("n_reference"))} / {fmt(d.get("n_current"))}</td></tr>'
        )
    body = "".join(rows) or '<tr><td colspan="11" class="empty">no columns compared</td></tr>'
    return f"""<section class="block" id="drift"><div class="card">
<h2>Drift by column</h2>
<p class="lead">Most severe first. Severity is the statistic over its threshold (the mark
is at 1); p-values are adjusted with Benjamini-Hochberg across the tested columns (a text
or image column's descriptors, listed under it, are tested with it as one column).
"computed" says how: exact, on histogram bins, on a reservoir sample or from a sketch.</p>
<table id="drift-table"><thead><tr><th>column</th><th>kind</th><th>role</th><th>status</th>
<th>method</th><th class="num">statistic</th><th class="num">threshold</th>
<th class="num">p-value</th><th>severity</th><th>computed</th>
<th class="num">values ref / cur</th></tr></thead><tbody>{body}</tbody></table>
</div></section>"""


def _distributions(report: Mapping[str, Any]) -> str:
    cards = []
    for name, col in ordered_columns(report):
        dist = col.get("distribution")
        if not dist:
            continue
        d = col["drift"]
        distinct = max(
            col.get("summary", {}).get(side, {}).get("distinct", 0) or 0
            for side in ("reference", "current")
        )
        if col.get("kind") == "embedding":
            sub = "vector norms, quantile bins of the reference"
        elif dist.get("edges") is not None:
            sub = "quantile bins of the reference"
        elif distinct > MAX_CATEGORIES_SHOWN:
            sub = f"{MAX_CATEGORIES_SHOWN - 1} most frequent of ~{distinct:,} categories"
        else:
            sub = f"{distinct} categories"
        card = _chart_card(name, sub, "dist", name, bad=bool(d.get("drifted")))
        cards.append(card)
        proj = col.get("projection")
        if proj:
            how = f"{proj['method']}; {len(proj['current'][0])} current vectors"
            cards.append(_chart_card(name, how, "proj", name, bad=bool(d.get("drifted"))))
    body = "".join(cards) or '<p class="empty">no distributions in this report</p>'
    return f"""<section class="block" id="distributions">
<h2>Distributions</h2>
<p class="lead">Share of values per bin, reference vs current, from the profiles (never
from raw rows). Numeric columns use the reference's quantile bins plus under/overflow;
categorical columns show up to {MAX_CATEGORIES_SHOWN - 1} most frequent categories and
the rest together.</p>
<div class="legend"><span><i style="background:#b3bcc6"></i>reference</span>
<span><i style="background:#334e68"></i>current</span></div>
<div class="grid">{body}</div></section>"""


def _quality(report: Mapping[str, Any]) -> str:
    results = [dict(q) for q in report.get("quality", [])]
    for col in report.get("columns", {}).values():
        results.extend(dict(q) for q in col.get("quality", []))
    rank = {"fail": 0, "warn": 1, "insufficient": 2, "ok": 3}
    results.sort(key=lambda q: (rank.get(q["status"], 4), q.get("column") or "", q["check"]))
    flagged = [q for q in results if q["status"] != "ok"]
    passed = [q for q in results if q["status"] == "ok"]
    table = _quality_rows(flagged) if flagged else '<p class="empty">Every check passed.</p>'
    more = (
        f"<details><summary>Show the {len(passed)} checks that passed</summary>"
        f"{_quality_rows(passed)}</details>"
        if passed
        else ""
    )
    return f"""<section class="block" id="quality"><div class="card">
<h2>Data quality</h2>
<p class="lead">Schema, missing values, ranges, categories and duplicates of the current
data against the reference. Failures first.</p>
{table}{more}</div></section>"""


def _quality_rows(results: Sequence[Mapping[str, Any]]) -> str:
    badge = {"fail": "bad", "warn": "warn", "ok": "good"}
    rows = "".join(
        f'<tr data-status="{escape(q["status"])}"><td>'
        f'<span class="badge {badge.get(q["status"], "none")}">{escape(q["status"])}</span></td>'
        f"<td>{escape(q['check'])}</td><td>{escape(q.get('column') or 'dataset')}</td>"
        f'<td class="num">{fmt(q.get("value"))}</td><td class="num">{fmt(q.get("threshold"))}</td>'
        f'<td class="details">{escape(_details(q.get("details") or {}))}</td></tr>'
        for q in results
    )
    return (
        '<table class="quality-table"><thead><tr><th>status</th><th>check</th><th>column</th>'
        '<th class="num">value</th><th class="num">threshold</th><th>details</th></tr></thead>'
        f"<tbody>{rows}</tbody></table>"
    )


def _details(details: Mapping[str, Any], limit: int = 180) -> str:
    parts = []
    for k, v in details.items():
        if isinstance(v, list | tuple):
            if not v:
                continue
            shown = ", ".join(str(x) for x in v[:8]) + (" ..." if len(v) > 8 else "")
        elif isinstance(v, dict):
            if not v:
                continue
            shown = json.dumps(v, default=str)
        else:
            shown = fmt(v)
        parts.append(f"{k.replace('_', ' ')}: {shown}")
    text = "; ".join(parts)
    return text if len(text) <= limit else text[: limit - 1] + "…"
