"""The HTML report: self-contained, sized by columns and bins (not rows), every section."""

from __future__ import annotations

import json
import re

import driftline
from driftline.report.chunks import chunked_report
from driftline.report.html import render_html

from .conftest import frame


def _html(n: int, seed: int = 0) -> str:
    report = driftline.compare(frame(n, 1), frame(n, 2, shifted=True), seed=seed)
    return render_html(report.to_dict())


def test_report_is_self_contained_with_plotly_inlined_once() -> None:
    html = _html(2000)
    assert html.count("plotly.js v") == 1
    ours = re.sub(r"<script>/\*\*\n\* plotly\.js.*?</script>", "", html, flags=re.S)
    assert len(ours) < len(html) - 4_000_000  # the bundle was the part cut out
    assert "<script src" not in ours and "<link" not in ours
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", ours)
    assert html.count('id="driftline-data"') == 1


def test_report_size_does_not_grow_with_rows() -> None:
    small, large = _html(10_000), _html(200_000)
    assert len(large) <= len(small) + 2_000  # only digits of counts may differ
    data = json.loads(
        re.search(r'id="driftline-data">(.*?)</script>', large, re.S).group(1)  # type: ignore[union-attr]
    )
    assert all(len(d["bins"]) <= 30 for d in data["distributions"].values())


def test_sections_for_performance_and_chunks_when_present() -> None:
    report = chunked_report(frame(4000, 3), frame(4000, 4, shifted=True), "week").to_dict()
    report["performance"] = {
        "task": "binary",
        "n_labelled": 1200,
        "realized": {"accuracy": 0.81, "roc_auc": 0.88},
        "estimated": {"roc_auc": {"value": 0.86, "lower": 0.83, "upper": 0.89}},
    }
    for i, chunk in enumerate(report["chunks"]):
        chunk["performance"] = {"realized": {"accuracy": 0.8 - 0.01 * i}}
    html = render_html(report, title="Churn <model>")
    assert "<title>Churn &lt;model&gt; · driftline</title>" in html
    assert 'id="performance"' in html and "roc_auc" in html and "0.83 – 0.89" in html
    assert 'id="over-time"' in html and 'data-chart="overview"' in html
    assert html.count('data-chart="series"') == 5  # every column but the timestamp
    assert 'data-chart="perf" data-key="accuracy"' in html


def test_drift_table_lists_drifted_columns_first_and_escapes_names() -> None:
    df_ref, df_cur = frame(3000, 5), frame(3000, 6, shifted=True)
    for df in (df_ref, df_cur):
        df["<b>x</b>"] = df["age"]
    html = render_html(driftline.compare(df_ref, df_cur).to_dict())
    rows = re.findall(r'<tr data-column="([^"]+)" data-drifted="(true|false)">', html)
    flags = [d for _, d in rows]
    assert flags == sorted(flags, key=lambda d: d != "true")
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html


def test_no_drift_report_says_so() -> None:
    html = render_html(driftline.compare(frame(3000, 7), frame(3000, 8)).to_dict())
    assert "No drift" in html and "Drift detected" not in html
