"""The dashboard in headless Chromium (Debian's /usr/bin/chromium): pages, charts, actions."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import Env, Served

CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """Headless Chromium (skipped without it; a failure under CI=true, which installs it)."""
    if shutil.which(CHROMIUM) is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("chromium is missing: apt-get install -y chromium")
        pytest.skip("chromium is missing: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


@contextlib.contextmanager
def page_signed_in(env: Env, url: str, scope: str = "read") -> Iterator[tuple[Any, Console]]:
    """A page of a fresh Chromium signed in to ``env``'s dashboard at ``url``."""
    with chromium() as b:
        yield signed_in(b, Served(env, url), scope)


class Console:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def watch(self, page: Any) -> None:
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))


def signed_in(browser: Any, served: Served, scope: str = "admin") -> tuple[Any, Console]:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(15_000)
    console = Console()
    console.watch(page)
    token = served.env.dash.access.link_for(served.env.keys[scope])
    page.goto(f"{served.url}/ui/login/{token}")
    return page, console


def shot(page: Any, name: str) -> None:
    where = os.environ.get("DRIFTLINE_SCREENSHOTS")
    if where:
        Path(where).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=f"{where}/{name}.png", full_page=True)


def test_overview_model_column_alerts_jobs(browser: Any, served: Served) -> None:
    page, console = signed_in(browser, served)
    page.goto(f"{served.url}/ui/?range=1h")
    rows = page.locator("[data-testid=overview] tbody tr")
    assert rows.count() == 2
    assert (
        page.locator("tr[data-version=v1] a.badge.firing").inner_text() == "2 firing"
    )  # drift of x, p99 latency
    shot(page, "overview")

    page.click("tr[data-version=v1] a.strong")
    page.wait_for_selector("#chart-latency[data-drawn]")
    first = page.locator("[data-testid=drift-table] tbody tr").first
    assert first.locator("td").first.inner_text() == "x"  # the drifted column comes first
    assert "drift" in first.locator(".badge:not([data-testid=persistence])").inner_text()
    # and x has drifted for several windows in a row: a shift, not a spike
    assert first.locator('[data-testid="persistence"]').inner_text().startswith("shift")
    shot(page, "model")

    first.locator("a").click()
    page.wait_for_selector("#chart-distribution[data-drawn]")
    assert page.locator("#chart-distribution .bars").count() >= 1  # Plotly drew the bars
    assert page.locator("#chart-history[data-drawn]").count() == 1
    shot(page, "column")

    page.goto(f"{served.url}/ui/models/scorer/compare?range=1h&a=v1&b=v2")
    page.wait_for_selector("#chart-p99[data-drawn]")
    shot(page, "versions")

    page.goto(f"{served.url}/ui/jobs?range=1h")
    page.wait_for_selector("#chart-durations[data-drawn]")
    summary = page.locator("[data-testid=jobs] tbody tr").first.locator("td")
    assert summary.nth(0).inner_text() == "feature_pipeline"
    assert summary.nth(7).inner_text() == "1"  # one failed run
    assert page.locator("tr.row-bad .badge.failed").count() == 1
    # the run that started 3 min after schedule: shown, not flagged (late is job_late_after, 5m)
    assert page.locator("td.num", has_text="3 min").count() == 1
    # the custom metric each run reported, charted per job
    page.wait_for_selector("#chart-metric-lag-seconds[data-drawn]")
    assert summary.locator("[data-metric=lag_seconds]").inner_text().startswith("lag_seconds=")
    shot(page, "jobs")

    page.goto(f"{served.url}/ui/alerts?range=1h")
    shot(page, "alerts")
    assert console.errors == []


def test_read_key_sees_but_cannot_act(browser: Any, served: Served) -> None:
    page, console = signed_in(browser, served, scope="read")
    page.goto(f"{served.url}/ui/alerts")
    assert page.locator("button[data-action=silence]").count() == 0
    assert "admin key needed" in page.inner_text("[data-testid=alerts-firing]")
    assert console.errors == []


def test_silence_an_alert(browser: Any, served: Served) -> None:
    page, console = signed_in(browser, served)
    page.goto(f"{served.url}/ui/alerts")
    row = page.locator("[data-testid=alerts-firing] tr[data-rule=feature_drift]")
    assert row.count() == 1
    row.locator("input[name=comment]").fill("known: new sensor")
    row.locator("select[name=duration]").select_option("4h")
    row.locator("button[data-action=silence]").click()
    page.wait_for_selector("[data-testid=silences]")
    row = page.locator("[data-testid=alerts-firing] tr[data-rule=feature_drift]")
    assert "silenced" in row.inner_text()
    assert "known: new sensor" in page.locator("[data-testid=silences]").inner_text()
    alert = served.env.engine.alerts("firing")[0]
    assert served.env.engine.muted_by(alert) is not None

    row.locator("button[data-action=ack]").click()
    page.wait_for_load_state()
    assert "acked by admin-user" in page.locator("[data-testid=alerts-firing]").inner_text()
    shot(page, "alerts-silenced")
    assert console.errors == []


def test_live_pages_refresh_themselves_and_pause(browser: Any, served: Served) -> None:
    """Runs last: it moves the module's clock."""
    dash, clock = served.env.dash, served.env.clock
    dash.refresh_seconds = 0.5
    try:
        page, console = signed_in(browser, served)
        page.goto(f"{served.url}/ui/models/scorer?range=1h")
        page.wait_for_selector("#chart-latency[data-drawn]")
        status = page.locator("[data-refresh-status]")
        assert status.is_visible() and "updated" in status.inner_text()
        url = page.url
        before = page.inner_text("p.timeline")

        clock.advance(120)  # the range now ends two minutes later
        page.wait_for_function(
            "t => document.querySelector('p.timeline').innerText !== t", arg=before
        )
        assert page.url == url  # the shareable URL stays as it was
        assert page.locator("#chart-latency[data-drawn]").count() == 1  # redrawn in place
        assert (
            page.locator("[data-testid=drift-table] tbody tr")
            .first.locator("td")
            .first.inner_text()
            == "x"
        )

        page.click("[data-testid=refresh-toggle]")  # pause
        assert "resume" in status.inner_text()
        paused = page.inner_text("p.timeline")
        clock.advance(120)
        page.wait_for_timeout(1500)
        assert page.inner_text("p.timeline") == paused

        page.click("[data-testid=refresh-toggle]")  # resume: fetches at once
        page.wait_for_function(
            "t => document.querySelector('p.timeline').innerText !== t", arg=paused
        )
        page.click(".range a:text('6h')")  # the range picker still works after a refresh
        page.wait_for_url("**range=6h**")
        page.wait_for_selector("#chart-latency[data-drawn]")

        page.goto(f"{served.url}/ui/models/scorer?range=1h&end={int(clock.time())}")
        assert page.locator("body").get_attribute("data-refresh") == "0"  # pinned: no refresh
        assert page.locator("[data-refresh-status]").count() == 0
        assert console.errors == []
    finally:
        dash.refresh_seconds = 15.0


def test_a_reviewer_marks_an_anomalous_event_as_an_attack(browser: Any, served: Served) -> None:
    import orjson

    env = served.env
    end = int(env.clock.time())
    page, console = signed_in(browser, served, "read")
    page.goto(f"{served.url}/ui/review?range=1h&end={end}")
    rows = page.locator('[data-testid="review-table"] tbody tr')
    assert rows.count() > 0
    assert page.locator("button[data-verdict]").count() == 0  # a read key cannot judge
    page.close()
    page, console = signed_in(browser, served, "admin")
    page.goto(f"{served.url}/ui/review?range=1h&end={end}")
    first = page.locator('[data-testid="review-table"] tbody tr').first
    event_id = first.get_attribute("data-event")
    assert event_id
    first.locator('input[name="label"]').fill("0")
    first.locator('button[data-verdict="attack"]').click()
    page.wait_for_load_state()
    row = page.locator(f'tr[data-event="{event_id}"]')
    assert row.locator('[data-testid="verdict"]').inner_text().startswith("Attack")
    shot(page, "review")
    assert console.errors == []
    # stored as an ordinary feedback record and label of the event's prediction
    (payload,) = env.store.event_payloads("scorer", [event_id]).values()
    pid = orjson.loads(payload)["prediction_id"]
    (fb,) = env.store.feedback_for("scorer", [pid], "review")
    assert orjson.loads(fb["value"])["verdict"] == "attack"
    page.close()
