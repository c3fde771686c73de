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


def test_every_chart_is_drawn_without_scrolling_for_a_printout_or_full_page_capture(
    tmp_path: Path,
) -> None:
    """Charts below the fold draw while the page is idle, and before printing."""
    from playwright.sync_api import sync_playwright

    report = chunked_report(frame(6000, 1), frame(6000, 2, shifted=True), "week", seed=0)
    path = save_html(report.to_dict(), tmp_path / "report.html")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 700})
            page.goto(path.as_uri())
            n_charts = page.locator("[data-chart]").count()
            # no scrolling, no driftlineDrawAll(): the idle loop draws the charts below the fold
            page.wait_for_function(
                f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {n_charts}",
                timeout=30_000,
            )
            assert page.evaluate("window.scrollY") == 0
            page.screenshot(path=str(tmp_path / "full.png"), full_page=True)
            # printing right after load draws whatever is left at once
            page.goto(path.as_uri())
            page.emulate_media(media="print")
            page.evaluate("window.dispatchEvent(new Event('beforeprint'))")
            drawn = page.evaluate("document.querySelectorAll('[data-chart][data-drawn]').length")
            pdf = page.pdf()
        finally:
            browser.close()
    assert drawn == n_charts
    assert len(pdf) > 50_000


def test_a_report_in_a_notebook_cell_is_the_html_report_in_a_frame(tmp_path: Path) -> None:
    """What Jupyter shows for ``report`` (``_repr_html_``), rendered as a notebook would."""
    from playwright.sync_api import sync_playwright

    import driftline

    report = driftline.compare(frame(3000, 1), frame(3000, 2, shifted=True), seed=0)
    cell = report._repr_html_()
    assert cell.startswith('<iframe class="driftline-report" srcdoc="')
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.set_content(f"<html><body><div class='output'>{cell}</div></body></html>")
            frame_ = page.frame_locator("iframe.driftline-report")
            verdict = frame_.locator(".verdict-title").inner_text()
            frame_.locator(".js-plotly-plot .main-svg").first.wait_for(timeout=30_000)
            drifted = frame_.locator(
                '#drift-table tr[data-drifted="true"] td.col-name'
            ).all_inner_texts()
        finally:
            browser.close()
    assert errors == []
    assert verdict == "Drift detected"
    assert set(drifted) == SHIFTED
    saved = report.save_html(tmp_path / "r.html", title="From a notebook")
    assert "<title>From a notebook · driftline</title>" in saved.read_text()
