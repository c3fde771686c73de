"""Static parts of the HTML report: the style sheet, the chart script and Plotly's bundle."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def plotly_js() -> str:
    """Plotly's JavaScript bundle from the installed ``plotly`` package (never a CDN)."""
    from importlib.resources import files

    try:
        return (files("plotly") / "package_data" / "plotly.min.js").read_text(encoding="utf-8")
    except (FileNotFoundError, ModuleNotFoundError):  # pragma: no cover - layout changed
        from plotly.offline import get_plotlyjs

        return str(get_plotlyjs())


CSS = """
:root {
  --text: #1f2933; --muted: #616e7c; --faint: #9aa5b1; --line: #e4e7eb;
  --bg: #f5f7fa; --card: #ffffff; --ink: #334e68; --ref: #b3bcc6;
  --bad: #c62828; --bad-bg: #fdecea; --warn: #a86400; --warn-bg: #fff4e0;
  --good: #2e7d32; --good-bg: #e8f5e9;
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body {
  margin: 0; background: var(--bg); color: var(--text);
  font: 14px/1.5 -apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, "Helvetica Neue",
    Arial, sans-serif;
}
.wrap { max-width: 1240px; margin: 0 auto; padding: 0 28px; }
header.top { background: var(--card); border-bottom: 1px solid var(--line); }
header.top .wrap { padding-top: 18px; padding-bottom: 14px; }
.brand { font-size: 12px; font-weight: 600; letter-spacing: .08em; text-transform: uppercase;
  color: var(--muted); }
h1 { font-size: 24px; margin: 2px 0 6px; font-weight: 650; letter-spacing: -.01em; }
h2 { font-size: 18px; margin: 0 0 4px; font-weight: 620; }
h3 { font-size: 14px; margin: 0; font-weight: 600; }
.meta { color: var(--muted); font-size: 13px; display: flex; flex-wrap: wrap; gap: 4px 22px; }
.meta b { color: var(--text); font-weight: 600; }
nav.toc { position: sticky; top: 0; z-index: 5; background: rgba(245,247,250,.95);
  backdrop-filter: blur(4px); border-bottom: 1px solid var(--line); }
nav.toc .wrap { display: flex; gap: 20px; padding-top: 8px; padding-bottom: 8px; font-size: 13px; }
nav.toc a { color: var(--muted); text-decoration: none; }
nav.toc a:hover { color: var(--text); }
section.block { margin: 22px 0; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px;
  padding: 18px 20px; }
.lead { color: var(--muted); margin: 0 0 14px; max-width: 80ch; }
.verdict { display: grid; grid-template-columns: minmax(260px, 1.2fr) 3fr; gap: 8px 20px;
  align-items: center; border-left: 6px solid var(--good); }
.verdict.is-bad { border-left-color: var(--bad); }
.verdict-title { font-size: 22px; font-weight: 700; margin: 0; }
.is-bad .verdict-title { color: var(--bad); }
.is-good .verdict-title { color: var(--good); }
.verdict p { margin: 4px 0 0; color: var(--muted); }
.stats { display: grid; grid-template-columns: repeat(4, minmax(0, 1fr)); gap: 12px; }
.stat { border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; }
.stat .n { font-size: 24px; font-weight: 650; font-variant-numeric: tabular-nums;
  line-height: 1.2; }
.stat .n small { font-size: 14px; color: var(--muted); font-weight: 500; }
.stat .l { color: var(--muted); font-size: 12px; }
.stat.bad .n { color: var(--bad); }
.stat.warn .n { color: var(--warn); }
.rule { margin-top: 6px; font-size: 12px; color: var(--muted); grid-column: 1 / -1; }
table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 7px 10px; text-align: left; border-bottom: 1px solid var(--line);
  vertical-align: middle; }
th { font-size: 12px; font-weight: 600; color: var(--muted); background: #fafbfc;
  position: sticky; top: 37px; z-index: 1; white-space: nowrap; }
td.num, th.num { text-align: right; white-space: nowrap; }
tbody tr:hover { background: #f8fafc; }
td.col-name a { color: var(--text); font-weight: 600; text-decoration: none; }
td.col-name a:hover { text-decoration: underline; }
td.how { color: var(--muted); font-size: 12px; }
td.details { color: var(--muted); font-size: 12px; max-width: 420px; }
.badge { display: inline-block; min-width: 52px; text-align: center; padding: 1px 8px;
  border-radius: 999px; font-size: 12px; font-weight: 600; }
.badge.bad { background: var(--bad-bg); color: var(--bad); }
.badge.warn { background: var(--warn-bg); color: var(--warn); }
.badge.good { background: var(--good-bg); color: var(--good); }
.badge.none { background: #eef1f4; color: var(--muted); }
.sev { display: inline-block; width: 90px; height: 6px; background: #eef1f4; border-radius: 3px;
  position: relative; vertical-align: middle; }
.sev i { position: absolute; left: 0; top: 0; bottom: 0; border-radius: 3px;
  background: var(--faint); }
.sev.bad i { background: var(--bad); }
.sev b { position: absolute; top: -3px; bottom: -3px; width: 1px; background: var(--text);
  left: 33.3%; }
.grid { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 14px; }
.chart-card { background: var(--card); border: 1px solid var(--line); border-radius: 10px;
  padding: 12px 14px 6px; scroll-margin-top: 50px; }
.chart-card header { display: flex; justify-content: space-between; align-items: baseline;
  gap: 10px; }
.chart-card .sub { color: var(--muted); font-size: 12px; }
.chart { width: 100%; height: 240px; }
.chart.tall { height: 260px; }
.legend { display: flex; gap: 16px; font-size: 12px; color: var(--muted); margin: 0 0 10px; }
.legend i { display: inline-block; width: 10px; height: 10px; border-radius: 2px;
  margin-right: 5px; vertical-align: -1px; }
details summary { cursor: pointer; color: var(--muted); margin: 12px 0 6px; }
.empty { color: var(--muted); font-style: italic; }
footer { color: var(--muted); font-size: 12px; padding: 24px 0 40px; }
@media (max-width: 900px) {
  .verdict { grid-template-columns: 1fr; }
  .grid { grid-template-columns: 1fr; }
  .stats { grid-template-columns: repeat(2, minmax(0, 1fr)); }
}
@media print { nav.toc { display: none; } th { position: static; } }
"""

# Builds the charts from the embedded JSON, each when it scrolls into view, so a
# report with hundreds of columns opens at once.
SCRIPT = """
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("driftline-data").textContent);
  var C = { ink: "#334e68", ref: "#b3bcc6", bad: "#c62828", faint: "#9aa5b1",
            grid: "#eef1f4", text: "#1f2933", muted: "#616e7c" };
  var FONT = { family: getComputedStyle(document.body).fontFamily, size: 12, color: C.text };
  var CONFIG = { displayModeBar: false, responsive: true };

  function layout(extra) {
    var base = {
      font: FONT, margin: { l: 48, r: 12, t: 8, b: 48 }, paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)", showlegend: false, bargap: 0.25, bargroupgap: 0.05,
      hoverlabel: { font: { family: FONT.family, size: 12 } },
      xaxis: { automargin: true, tickfont: { size: 11, color: C.muted }, linecolor: C.grid },
      yaxis: { automargin: true, gridcolor: C.grid, zeroline: false,
               tickfont: { size: 11, color: C.muted } }
    };
    for (var k in extra) { base[k] = Object.assign({}, base[k] || {}, extra[k]); }
    return base;
  }

  function distribution(el, d) {
    var pct = function (a) { return a.map(function (x) { return x * 100; }); };
    var hover = "%{x}<br>%{fullData.name}: %{y:.2f}%<extra></extra>";
    Plotly.newPlot(el, [
      { type: "bar", name: "reference", x: d.bins, y: pct(d.reference),
        marker: { color: C.ref }, hovertemplate: hover },
      { type: "bar", name: "current", x: d.bins, y: pct(d.current),
        marker: { color: C.ink }, hovertemplate: hover }
    ], layout({ barmode: "group", yaxis: { ticksuffix: "%", rangemode: "tozero" },
                xaxis: { type: "category", tickangle: d.bins.length > 12 ? -40 : "auto" } }),
      CONFIG);
  }

  function series(el, s, labels) {
    var colors = s.drifted.map(function (x) { return x ? C.bad : C.ink; });
    var traces = [
      { type: "scatter", mode: "lines+markers", name: s.method, x: labels, y: s.statistic,
        line: { color: C.ink, width: 2 }, marker: { color: colors, size: 7 },
        hovertemplate: "%{x}<br>" + s.method + ": %{y:.4g}<extra></extra>" }
    ];
    if (s.threshold.some(function (t) { return t !== null; })) {
      traces.push({ type: "scatter", mode: "lines", name: "threshold", x: labels,
        y: s.threshold, line: { color: C.bad, width: 1.5, dash: "dash" },
        hovertemplate: "threshold: %{y:.4g}<extra></extra>" });
    }
    Plotly.newPlot(el, traces, layout({ xaxis: { type: "category" },
                                        yaxis: { rangemode: "tozero" } }), CONFIG);
  }

  function overview(el, o) {
    var colors = o.n_drifted.map(function (n) { return n > 0 ? C.bad : C.faint; });
    Plotly.newPlot(el, [
      { type: "bar", x: o.labels, y: o.n_drifted, marker: { color: colors },
        customdata: o.names, hovertemplate:
          "%{x}<br>%{y} drifted columns<br>%{customdata}<extra></extra>" }
    ], layout({ xaxis: { type: "category" }, bargap: 0.55,
                yaxis: { rangemode: "tozero", dtick: o.max_drifted < 6 ? 1 : null,
                         title: { text: "drifted columns", font: { size: 11 } } } }), CONFIG);
  }

  function performance(el, p, labels) {
    var hov = function (name) {
      return "%{x}<br>" + name + " " + p.metric + ": %{y:.4g}<extra></extra>";
    };
    var traces = [];
    if (p.upper.some(function (v) { return v !== null; })) {
      traces.push({ type: "scatter", mode: "lines", x: labels, y: p.upper, hoverinfo: "skip",
        line: { width: 0 }, showlegend: false });
      traces.push({ type: "scatter", mode: "lines", x: labels, y: p.lower, hoverinfo: "skip",
        fill: "tonexty", fillcolor: "rgba(154,165,177,0.25)", line: { width: 0 } });
      traces.push({ type: "scatter", mode: "lines+markers", x: labels, y: p.estimated,
        line: { color: C.faint, width: 2, dash: "dot" }, marker: { color: C.faint, size: 6 },
        hovertemplate: hov("estimated") });
    }
    if (p.realized.some(function (v) { return v !== null; })) {
      traces.push({ type: "scatter", mode: "lines+markers", x: labels, y: p.realized,
        line: { color: C.ink, width: 2 }, marker: { color: C.ink, size: 7 },
        hovertemplate: hov("realized") });
    }
    if (p.reference !== null && p.reference !== undefined) {
      traces.push({ type: "scatter", mode: "lines", x: labels,
        y: labels.map(function () { return p.reference; }),
        line: { color: C.muted, width: 1, dash: "dash" }, hovertemplate: hov("reference") });
    }
    Plotly.newPlot(el, traces, layout({ xaxis: { type: "category" } }), CONFIG);
  }

  function projection(el, p) {
    var dot = function (name, xy, color) {
      return { type: "scattergl", mode: "markers", name: name, x: xy[0], y: xy[1],
               marker: { color: color, size: 5, opacity: 0.6 },
               hovertemplate: name + "<extra></extra>" };
    };
    Plotly.newPlot(el, [dot("reference", p.reference, C.ref), dot("current", p.current, C.ink)],
      layout({ xaxis: { title: { text: "PC 1" }, zeroline: false },
               yaxis: { title: { text: "PC 2" } } }), CONFIG);
  }

  function draw(el) {
    var kind = el.getAttribute("data-chart"), key = el.getAttribute("data-key");
    if (kind === "dist") { distribution(el, data.distributions[key]); }
    else if (kind === "proj") { projection(el, data.projections[key]); }
    else if (kind === "series") { series(el, data.chunks.columns[key], data.chunks.labels); }
    else if (kind === "overview") { overview(el, data.chunks); }
    else if (kind === "perf") { performance(el, data.chunks.performance[key], data.chunks.labels); }
  }

  // Charts in view draw first; the rest draw one by one while the page is idle, so a
  // printout or a full-page capture has every chart without scrolling (and before
  // printing, whatever is left is drawn at once).
  var charts = Array.prototype.slice.call(document.querySelectorAll("[data-chart]"));
  var seen = null;
  function once(el) {
    if (el.hasAttribute("data-drawn")) { return; }
    el.setAttribute("data-drawn", "");
    if (seen) { seen.unobserve(el); }
    draw(el);
  }
  function drawAll() { charts.forEach(once); }
  if ("IntersectionObserver" in window) {
    seen = new IntersectionObserver(function (entries) {
      entries.forEach(function (e) { if (e.isIntersecting) { once(e.target); } });
    }, { rootMargin: "400px 0px" });
    charts.forEach(function (el) { seen.observe(el); });
    var idle = window.requestIdleCallback || function (f) { return setTimeout(f, 30); };
    var rest = charts.slice();
    (function next() {
      while (rest.length && rest[0].hasAttribute("data-drawn")) { rest.shift(); }
      if (rest.length) { once(rest.shift()); idle(next); }
    })();
  } else {
    drawAll();
  }
  window.addEventListener("beforeprint", drawAll);
  if (window.matchMedia) {
    var mq = window.matchMedia("print");
    if (mq.addEventListener) {
      mq.addEventListener("change", function (m) { if (m.matches) { drawAll(); } });
    }
  }
  window.driftlineDrawAll = drawAll;
})();
"""
