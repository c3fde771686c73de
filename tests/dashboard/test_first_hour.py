"""What a new user reads on the dashboard: each page as a person sees it (in-process client).

Resolved alerts stay listed, "Drifted windows" counts windows, an effect above its
threshold without a verdict says why, alert values are in the charts' units, the
default range fits the data, and a segment without scores is not told to upload a
reference it has.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from driftline.alerts import MetricPoint

from .conftest import T0, WINDOW, Env, client, make_env


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    e = make_env(tmp_path)
    yield e
    e.store.close()


def point(metric: str, w: int, value: float | None, **kw: Any) -> dict[str, Any]:
    row = {
        "model": "scorer", "version": "v1", "segment": "*", "window_size": WINDOW,
        "window_start": int(T0) + w * WINDOW, "metric": metric, "column": "", "method": "",
        "value": value, "status": "ok", "n": 0, "details": {}, "evaluated_at": T0,
    }  # fmt: skip
    row.update(kw)
    row["details"] = orjson.dumps(row["details"]).decode()
    return row


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


async def test_drift_table_counts_windows_and_says_why_an_effect_is_not_a_drift(
    env: Env,
) -> None:
    env.store.ensure_version("scorer", "v1", T0)
    rows = []
    for w in range(30):  # 30 windows; x drifted in 11 of them; z's effect is noise
        drifted = 5 <= w < 16
        rows.append(point("events", w, 200, n=200))
        rows.append(
            point("drift_score", w, 0.4 if drifted else 0.02, column="x", method="psi",
                  status="drift" if drifted else "ok", n=200,
                  details={"threshold": 0.1, "p_value": 1e-9 if drifted else 0.6})
        )  # fmt: skip
        rows.append(
            point("drift_score", w, 0.12, column="z", method="psi", status="ok", n=40,
                  details={"threshold": 0.1, "p_value": 0.08, "p_value_adjusted": 0.16})
        )  # fmt: skip
    env.store.upsert_metric_points(rows)
    env.clock.advance(T0 + 31 * WINDOW - env.clock.time())
    async with client(env, "read") as c:
        r = await c.get("/ui/models/scorer?version=v1&range=1h")
    assert r.status_code == 200
    table = r.text.split('data-testid="drift-table"')[1].split("</table>")[0]
    x_row, z_row = (text_of(t) for t in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)[1:3])
    assert x_row.split()[0] == "x" and "11 / 30" in x_row  # windows, not sparkline points
    assert z_row.split()[0] == "z"
    assert "ok" in z_row
    assert "not significant at this sample size (adjusted p = 0.16, 40 rows)" in z_row
    assert "not significant" not in x_row


async def test_a_resolved_alert_stays_listed_after_it_was_pending_again(env: Env) -> None:
    """fire -> resolve -> pending again -> quiet: still in "Resolved" (kept 7 days)."""
    start = T0 + 3600

    def p99(w: int, seconds: float) -> MetricPoint:
        ws = start + w * WINDOW
        return MetricPoint("scorer", "v1", "*", "latency_p99_seconds", "", ws, ws + WINDOW, seconds)

    values = [0.4, 0.4, 0.4, 0.1, 0.1, 0.1, 0.31, 0.1, 0.1]  # fires, resolves, pends, quiet
    for w, v in enumerate(values):
        env.clock.advance(start + (w + 1) * WINDOW - env.clock.time())
        env.engine.ingest([p99(w, v)])
        env.engine.tick()
    (alert,) = env.engine.alerts()
    assert alert.state.value == "inactive" and alert.last_resolved_at is not None
    async with client(env, "read") as c:
        page = (await c.get("/ui/alerts?range=6h")).text
    resolved = page.split('id="resolved"')[1].split("</section>")[0]
    assert 'data-rule="p99_latency"' in resolved
    row = text_of(resolved.split('data-rule="p99_latency"')[1].split("</tr>")[0])
    # the Status column says the state; the severity has its own column
    assert "critical" in row and "resolved" in row
    assert "100 ms / 250 ms" in row  # the last value in ms, like the latency charts
    assert "0.1 / 0.25" not in row
    # an alert pending again shows in both lists, marked in Resolved
    env.clock.advance(WINDOW)
    env.engine.ingest([p99(len(values), 0.5)])
    async with client(env, "read") as c:
        page = (await c.get("/ui/alerts?range=6h")).text
    pending = page.split('id="pending"')[1].split("</section>")[0]
    resolved = page.split('id="resolved"')[1].split("</section>")[0]
    assert 'data-rule="p99_latency"' in pending and "pending again" in text_of(resolved)


async def test_a_drift_alert_shows_the_score_and_its_threshold_not_0_of_1(env: Env) -> None:
    env.store.ensure_version("scorer", "v1", T0)
    start = T0 + 7200
    rows = []
    for w in range(3):
        ws = int(start) + w * WINDOW
        rows.append(
            point("drift_score", 0, 0.42, column="x", method="psi", status="drift", n=200,
                  details={"threshold": 0.1, "p_value": 1e-9}, window_start=ws)
        )  # fmt: skip
        env.clock.advance(ws + WINDOW - env.clock.time())
        env.store.upsert_metric_points(rows[-1:])
        env.engine.ingest(
            [MetricPoint("scorer", "v1", "*", "drift_detected", "x", ws, ws + WINDOW, 1.0)]
        )
    async with client(env, "read") as c:
        page = (await c.get("/ui/alerts?range=6h")).text
    firing = text_of(page.split('id="firing"')[1].split("</section>")[0])
    assert "feature_drift" in firing
    assert "0.42 / 0.1" in firing and "1 / 1" not in firing


async def test_the_default_range_fits_a_new_collectors_data(env: Env) -> None:
    env.store.ensure_version("scorer", "v1", T0)
    env.clock.advance(T0 + 20 * 60 - env.clock.time())  # a 20-minute-old collector
    async with client(env, "read") as c:
        first = (await c.get("/ui/")).text
        env.clock.advance(3 * 3600)
        later = (await c.get("/ui/")).text
        env.clock.advance(3 * 86400)
        old = (await c.get("/ui/")).text
    active = re.compile(r'<a href="[^"]*range=(\w+)[^"]*" class="active">')
    assert set(active.findall(first)) == {"1h"}  # not 6 h, squeezing 20 minutes to the right edge
    assert set(active.findall(later)) == {"6h"}
    assert set(active.findall(old)) == {"6h"}  # the usual default once there is more


async def test_a_segment_without_scores_is_not_told_to_upload_a_reference(env: Env) -> None:
    import driftline

    prof = driftline.profile({"x": [0.1, 0.2, 0.3] * 100}, seed=0)
    env.store.put_reference("scorer", "v1", prof.to_bytes(), prof.n_rows, T0)
    env.store.upsert_metric_points([point("events", 0, 10, n=10, segment="region=eu")])
    env.clock.advance(T0 + 2 * WINDOW - env.clock.time())
    async with client(env, "read") as c:
        page = (await c.get("/ui/models/scorer?version=v1&range=1h&segment=region%3Deu")).text
    said = text_of(page.split('data-testid="no-drift"')[1].split("</p>")[0])
    assert "Drift needs a reference" not in said
    assert "segment region=eu" in said


async def test_charts_start_where_the_version_does(env: Env) -> None:
    born = T0 + 5 * 3600
    env.store.ensure_version("scorer", "v1", born)
    env.store.upsert_metric_points(
        [point("events", w, 100, n=100, window_start=int(born) + w * WINDOW) for w in range(20)]
    )
    env.clock.advance(born + 20 * WINDOW - env.clock.time())
    async with client(env, "read") as c:
        page = (await c.get("/ui/models/scorer?version=v1&range=6h")).text
    spec = page.split('data-chart-for="traffic">')[1].split("</script>")[0]
    start, end = orjson.loads(spec)["layout"]["xaxis"]["range"]
    assert start == int(born) * 1000  # not 24 h earlier: nothing existed before
    assert end == int(born + 20 * WINDOW) * 1000


async def test_an_empty_model_page_says_why(env: Env) -> None:
    """A new user's model page: "no traffic" and "no label-free estimate" come with the
    condition that holds (dashboard/absence.py), step by step from an empty version."""
    import numpy as np

    import driftline

    from .conftest import _event

    def said(page: str, testid: str) -> str:
        import html

        raw = page.split(f'data-testid="{testid}"')[1].split("</")[0]
        return html.unescape(text_of(raw)[1:].strip())

    async def page(c: httpx.AsyncClient, query: str = "range=1h") -> str:
        r = await c.get(f"/ui/models/scorer?version=v1&{query}")
        assert r.status_code == 200
        return r.text

    env.store.ensure_version("scorer", "v1", T0)
    env.clock.advance(30)
    async with client(env, "read") as c:
        empty = await page(c)
        assert said(empty, "no-traffic") == (
            "No traffic yet: no prediction of scorer v1 has reached the collector (send them "
            "with the SDK's Monitor, or POST /v1/events)."
        )
        assert said(empty, "no-traffic-segments") == said(empty, "no-traffic")
        assert said(empty, "no-estimate") == (
            "no label-free estimate: no window evaluated in this range"
        )
        # five predictions in the window 00:01-00:02: it is evaluated at 00:02 + 10 s grace
        rng = np.random.default_rng(0)
        env.clock.advance(T0 + WINDOW + 10 - env.clock.time())
        events = [_event(i, T0 + WINDOW + 5 + i, rng, 0.0, "v1") for i in range(5)]
        assert env.collector.ingest("prediction", events).accepted == 5
        waiting = said(await page(c), "no-traffic")
        assert waiting == (
            "No traffic evaluated yet: 5 predictions received; the first window (00:01 UTC to "
            "00:02 UTC) is evaluated once it closes, at about 00:02 UTC (10 s grace for late "
            "events)."
        )
        env.clock.advance(T0 + 5 * WINDOW - env.clock.time())  # closed; nobody evaluated it
        late = said(await page(c), "no-traffic")
        assert "the first window (00:01 UTC to 00:02 UTC) has closed and waits for the " in late
        assert "is the collector running?" in late
        env.collector.tick()
        evaluated = await page(c)
        assert 'data-testid="no-traffic"' not in evaluated
        assert said(evaluated, "no-estimate") == (
            "no label-free estimate: the version has no reference (CBPE and DLE are fitted on "
            "a reference with labels and predictions or scores)"
        )
        # another range: the traffic is outside it
        past = await page(c, f"range=1h&end={int(T0 - 86_400)}")
        assert said(past, "no-traffic") == (
            "No traffic in this range: the latest evaluated window of v1 starts at 00:01 UTC "
            "(today); choose a range that includes it."
        )

        def reference(data: dict[str, Any], schema: dict[str, Any] | None = None) -> None:
            prof = driftline.profile(data, schema=schema, seed=0)
            env.store.put_reference("scorer", "v1", prof.to_bytes(), prof.n_rows, T0)
            env.dash.evaluator.forget_reference("scorer", "v1")

        x = rng.normal(0, 1, 300).tolist()
        reference({"x": x})
        assert said(await page(c), "no-estimate") == (
            "no label-free estimate: the reference has no target (label) and no prediction "
            "or score column"
        )
        y = [int(v > 0) for v in x]
        roles = {"y": {"role": "target"}, "p": {"role": "prediction"}}
        reference({"x": x, "y": y, "p": y}, roles)
        assert said(await page(c), "no-estimate") == (
            "no label-free estimate: the reference has no score columns (class "
            "probabilities), which CBPE needs"
        )
        reference({"x": x, "y": [None] * 300, "p": y}, roles)
        assert said(await page(c), "no-estimate") == (
            "no label-free estimate: the reference's target column 'y' has no labels"
        )


async def test_label_drift_names_the_window_it_reads_as_labels_arrive_late(env: Env) -> None:
    """The latest window seldom has labels yet: the sentence above the label-drift chart
    named nothing ("latest window: " and an empty space); it names the latest window with
    a verdict, and a later one with too few labels and why."""
    env.store.ensure_version("scorer", "v1", T0)
    rows = []
    for w in range(30):
        rows.append(point("events", w, 200, n=200))
        if w < 18:
            rows.append(
                point("label_drift", w, 0.031, column="y", method="jensen_shannon", n=80,
                      details={"threshold": 0.1, "p_value": 0.4})
            )  # fmt: skip
    rows.append(
        point("label_drift", 18, None, column="y", method="jensen_shannon", n=4,
              status="unknown", details={"reason": "4 labels; a verdict needs 30 (min_samples)"})
    )  # fmt: skip
    env.store.upsert_metric_points(rows)  # windows 19-29: no label has arrived yet
    env.clock.advance(T0 + 31 * WINDOW - env.clock.time())
    async with client(env, "read") as c:
        r = await c.get("/ui/models/scorer?version=v1&range=1h")
    assert r.status_code == 200
    said = text_of(r.text.split('data-testid="label-drift-latest"')[1].split("</p>")[0])
    assert "latest verdict, window of" in said and "0.031" in said
    assert "jensen shannon on 80 labels" in said
    assert "insufficient data 4 labels; a verdict needs 30 (min_samples)" in said
