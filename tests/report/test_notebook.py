"""Jupyter views: a profile is a table of its columns; a report is the HTML report."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

import driftline


def test_a_profile_in_a_notebook_is_a_table_of_its_columns() -> None:
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "age": rng.integers(18, 90, 1000),
            "plan": rng.choice(["free", "pro", "<b>team</b>"], 1000, p=[0.6, 0.3, 0.1]),
            "note": [None] * 1000,
        }
    )
    html = driftline.profile(df, seed=0)._repr_html_()
    assert "1,000 rows x 3 columns" in html
    rows = {
        re.sub(r"<[^>]+>", "", r.split("</td>")[0]): r
        for r in html.split("<tr>")[2:]  # the header row first
    }
    assert set(rows) == {"age", "plan", "note"}
    assert "numeric" in rows["age"] and "min 18" in rows["age"] and "max 89" in rows["age"]
    assert "categorical" in rows["plan"] and "free 6" in rows["plan"]  # free ~60%
    assert "&lt;b&gt;team&lt;/b&gt;" in rows["plan"] and "<b>team</b>" not in html
    assert "100.0%" in rows["note"]  # every value missing


def test_a_report_in_a_notebook_holds_the_whole_html_report() -> None:
    rng = np.random.default_rng(1)
    ref = pd.DataFrame({"x": rng.normal(0, 1, 2000)})
    cur = pd.DataFrame({"x": rng.normal(1, 1, 2000)})
    report = driftline.compare(ref, cur, seed=0)
    cell = report._repr_html_()
    page = report.to_html()
    assert page.startswith("<!DOCTYPE html>")
    assert "&lt;!DOCTYPE html&gt;" in cell  # the page, escaped into srcdoc
    assert "Plotly" in page  # charts work offline, in the frame
