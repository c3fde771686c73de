"""The HTML report in headless Chromium: no console errors, no network, the right drift table."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from driftline.report.chunks import chunked_report
from driftline.report.html import save_html

from .conftest import SHIFTED, frame

CHROMIUM = "/usr/bin/chromium"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        shutil.which(CHROMIUM) is None, reason="needs Debian's chromium (.ci/run installs it)"
    ),
]


def test_report_renders_without_errors_and_names_the_shifted_columns(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    report = chunked_report(frame(6000, 1), frame(6000, 2, shifted=True), "week", seed=0)
    path = save_html(report.to_dict(), tmp_path / "report.html")
    errors: list[str] = []
    remote: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on(
                "request",
                lambda r: (
                    remote.append(r.url) if not r.url.startswith(("file:", "data:")) else None
                ),
            )
            page.goto(path.as_uri())
            page.evaluate("window.driftlineDrawAll()")
            n_charts = page.locator("[data-chart]").count()
            page.wait_for_function(
                f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {n_charts}"
            )
            drifted = page.locator(
                '#drift-table tr[data-drifted="true"] td.col-name'
            ).all_inner_texts()
            verdict = page.locator(".verdict-title").inner_text()
            first = page.locator("#drift-table tbody tr").first.get_attribute("data-drifted")
        finally:
            browser.close()
    assert errors == []
    assert remote == []
    assert set(drifted) == SHIFTED and len(drifted) == len(SHIFTED)
    assert verdict == "Drift detected"
    assert first == "true"
    assert n_charts == 1 + 5 + 5  # over-time overview, 5 per-chunk series, 5 distributions
