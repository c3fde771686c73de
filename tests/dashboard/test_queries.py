"""What the pages read: grouped in the database, weighted right, method-aware, downsampled."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import text

from driftline.sdk.clock import ManualClock
from driftline.server import Settings, create_app
from driftline.server.auth import create_key
from driftline.server.dashboard import mount_dashboard, queries
from driftline.server.dashboard.timerange import parse_range
from driftline.store import Store, open_store, tables
from driftline.windows import WindowConfig
from postgres_db import postgres_database

END = 1_767_225_600  # 2026-01-01T00:00:00Z
HOUR = 3600
SIZES = (HOUR, 86400)


def point(metric: str, ws: int, value: float | None, **kw: Any) -> dict[str, Any]:
    row = {
        "model": "m", "version": "v1", "segment": "*", "window_size": HOUR,
        "window_start": ws, "metric": metric, "column": "", "method": "",
        "value": value, "status": "ok", "n": 0, "details": "{}", "evaluated_at": ws + HOUR,
    }  # fmt: skip
    row.update(kw)
    if isinstance(row["details"], dict):
        row["details"] = orjson.dumps(row["details"]).decode()
    return row


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    with postgres_database("driftline_dash") as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The grouped reads are SQL the two engines must both answer the same way."""
    if request.param == "sqlite":
        s = open_store(f"sqlite:///{tmp_path}/q.db")
    else:
        s = open_store(request.getfixturevalue("postgres_url"))
        names = ", ".join(f'"{tb.name}"' for tb in tables.metadata.sorted_tables)
        with s.engine.begin() as conn:  # type: ignore[attr-defined]
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY"))
    s.ensure_version("m", "v1", END - 40 * 86400)
    yield s
    s.close()


def thirty_days(store: Store) -> None:
    """720 hourly windows: 100 predictions and no error in even hours, 300 predictions and
    4% errors in odd ones; accuracy 0.9 on 60 labels; column x drifted in one window."""
    rows = []
    for i in range(720):
        ws = END - (720 - i) * HOUR
        rows += [
            point("events", ws, 100.0 + (i % 2) * 200, n=100 + (i % 2) * 200),
            point("error_ratio", ws, 0.04 if i % 2 else 0.0, n=100 + (i % 2) * 200),
            point("performance.accuracy", ws, 0.9, n=60),
            point("drift_score", ws, 0.5 if i == 700 else 0.01, column="x", method="psi",
                  status="drift" if i == 700 else "ok", details={"threshold": 0.1}),
        ]  # fmt: skip
    store.upsert_metric_points(rows)


def test_a_30_day_range_is_grouped_into_at_most_400_points_that_keep_the_totals(
    store: Store,
) -> None:
    thirty_days(store)
    tr = parse_range({"range": "30d", "end": str(END)}, END, SIZES)
    assert tr.window_size == HOUR
    series = queries.charts(store, tr, "m", "v1")
    assert 300 <= len(series.events.x) <= queries.CHART_POINTS
    assert sum(v or 0 for v in series.events.y) == 360 * 100 + 360 * 300  # summed, not averaged
    # each two-hour point holds one quiet hour (100 predictions, no error) and one busy hour
    # (300, 4% errors): the error rate is weighted by traffic, 12 / 400
    assert series.errors.y[0] == pytest.approx(12 / 400)
    assert series.last == END - HOUR


def test_the_drift_table_counts_every_window_and_keeps_the_peak_of_each_bucket(
    store: Store,
) -> None:
    thirty_days(store)
    tr = parse_range({"range": "30d", "end": str(END)}, END, SIZES)
    (x,) = queries.drift_table(store, tr, "m", "v1")
    assert (x.windows, x.drifted_windows) == (720, 1)
    assert len(x.history.x) <= queries.SPARK_POINTS
    assert max(v or 0 for v in x.history.y) == 0.5  # the one drifted window is not averaged away
    assert (x.score, x.threshold, x.method) == (0.01, 0.1, "psi")  # the latest window's


def test_overview_weighs_the_error_rate_and_accuracy_by_their_counts(store: Store) -> None:
    thirty_days(store)
    tr = parse_range({"range": "24h", "end": str(END)}, END, SIZES)
    h = queries.health(store, tr, "m", "v1")
    assert h.events == 12 * 100 + 12 * 300
    assert h.error_rate == pytest.approx(12 * 12 / 4800)
    assert h.accuracy == pytest.approx(0.9)
    assert (h.columns, h.drifted) == (1, 0)


@pytest.mark.parametrize("span", ["24h", "30d"])
def test_health_from_chart_buckets_equals_health_read_directly(store: Store, span: str) -> None:
    thirty_days(store)
    tr = parse_range({"range": span, "end": str(END)}, END, SIZES)
    direct = queries.health(store, tr, "m", "v1")
    summed = queries.health(store, tr, "m", "v1", queries.charts(store, tr, "m", "v1"))
    for name in ("events", "windows", "last_window", "columns", "drifted", "p99"):
        assert getattr(summed, name) == getattr(direct, name), name
    for name in ("error_rate", "accuracy", "label_coverage", "estimated"):
        assert getattr(summed, name) == pytest.approx(getattr(direct, name)), name
    assert direct.events > 0 and direct.error_rate is not None


def test_latency_prefers_the_evaluators_method_points_over_older_names(store: Store) -> None:
    ws = END - HOUR
    store.upsert_metric_points(
        [
            point("events", ws, 10.0, n=10),
            point("latency_seconds", ws, 0.25, method="p99"),
            point("latency_p99_seconds", ws, 9.0),
        ]
    )
    tr = parse_range({"range": "6h", "end": str(END)}, END, SIZES)
    assert queries.health(store, tr, "m", "v1").p99 == 0.25
    assert queries.charts(store, tr, "m", "v1").latency["p99"].y == [0.25]


def test_older_latency_names_still_show(store: Store) -> None:
    ws = END - HOUR
    store.upsert_metric_points(
        [point("events", ws, 10.0, n=10), point("latency_p99_seconds", ws, 0.3)]
    )
    tr = parse_range({"range": "6h", "end": str(END)}, END, SIZES)
    assert queries.health(store, tr, "m", "v1").p99 == 0.3


# -- pages ------------------------------------------------------------------------------------


async def pages(store: Store, *paths: str) -> list[str]:
    """The HTML of ``paths``, read in-process with a read key."""
    clock = ManualClock(END + 60)
    key, _ = create_key(store, clock, name="reader", scopes=("read",))
    settings = Settings(windows=WindowConfig(sizes=SIZES))
    app = create_app(settings, store, clock, background=False)
    mount_dashboard(app, store, settings, clock)
    out = []
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {key}"},
    ) as c:
        for path in paths:
            r = await c.get(path)
            assert r.status_code == 200, r.text[:500]
            out.append(r.text)
    return out


def labelled_hours(store: Store, *, cbpe: bool, confidence: bool) -> None:
    rows = []
    for i in range(6):
        ws = END - (6 - i) * HOUR
        rows += [point("events", ws, 100.0, n=100), point("performance.accuracy", ws, 0.8, n=50)]
        if cbpe:
            rows.append(point("estimated.accuracy", ws, 0.91, method="cbpe", n=100))
            rows.append(point("estimated.roc_auc", ws, 0.95, method="cbpe", n=100))
            rows.append(point("performance.pr_auc", ws, 0.9, n=50))
        if confidence:
            rows.append(point(queries.ESTIMATE, ws, 0.97, method="mean_confidence", n=100))
    store.upsert_metric_points(rows)


def cell(html: str, testid: str) -> str:
    text = re.sub(r"<[^>]+>", " ", html.split(f'data-testid="{testid}"', 1)[1].split("</table>")[0])
    return " ".join(text.split())


async def test_cbpe_is_shown_next_to_realized_accuracy(store: Store) -> None:
    labelled_hours(store, cbpe=True, confidence=True)
    overview, model = await pages(store, "/ui/?range=6h", "/ui/models/m?range=6h")
    assert "80.0% CBPE 91.0%" in cell(overview, "overview")  # CBPE wins over mean confidence
    assert "estimated without labels by CBPE" in model
    perf = cell(model, "performance")
    assert "Estimated (CBPE)" in perf
    assert "accuracy 80.0% 91.0%" in perf
    assert "ROC AUC — 95.0%" in perf
    assert "PR AUC 90.0%" in perf and "pr auc" not in perf  # acronyms as they are written


async def test_mean_confidence_stands_in_when_there_is_no_cbpe_and_says_so(
    store: Store,
) -> None:
    labelled_hours(store, cbpe=False, confidence=True)
    overview, model = await pages(store, "/ui/?range=6h", "/ui/models/m?range=6h")
    assert "80.0% mean conf. 97.0%" in cell(overview, "overview")
    assert "no CBPE estimate yet" in model
    assert "Mean confidence" in cell(model, "performance")


async def test_no_estimate_at_all_shows_realized_accuracy_only(store: Store) -> None:
    labelled_hours(store, cbpe=False, confidence=False)
    overview, model = await pages(store, "/ui/?range=6h", "/ui/models/m?range=6h")
    row = cell(overview, "overview")
    assert "80.0%" in row
    assert "CBPE" not in row and "conf." not in row
    # and says why (issue 20, a new user's finding): these points came without a reference
    assert "no label-free estimate: the version has no reference" in model


async def test_charts_carry_epoch_milliseconds_and_the_range(store: Store) -> None:
    labelled_hours(store, cbpe=True, confidence=False)
    (html,) = await pages(store, f"/ui/models/m?range=6h&end={END}")
    raw = html.split('data-chart-for="traffic">', 1)[1].split("</script>", 1)[0]
    fig = orjson.loads(raw)
    assert fig["data"][0]["x"][0] == (END - 6 * HOUR) * 1000
    assert fig["layout"]["xaxis"]["range"] == [(END - 6 * HOUR) * 1000, END * 1000]


async def test_a_regressors_dle_estimate_is_named_dle(store: Store) -> None:
    rows = []
    for i in range(3):
        ws = END - (3 - i) * HOUR
        rows += [
            point("events", ws, 100.0, n=100),
            point("performance.mae", ws, 2.5, n=40),
            point("estimated.mae", ws, 2.0, method="dle", n=100),
        ]
    store.upsert_metric_points(rows)
    (model,) = await pages(store, "/ui/models/m?range=6h")
    assert "estimated without labels by DLE" in model
    perf = cell(model, "performance")
    assert "Estimated (DLE)" in perf and "MAE 2.5 2" in perf


@pytest.mark.parametrize(
    ("span", "title"),
    [("6h", "Predictions per window"), ("30d", "Predictions per 2 h")],
    ids=["one point per window", "grouped"],
)
def test_chart_titles_say_what_a_point_holds(span: str, title: str) -> None:
    from driftline.server.dashboard.model_views import _per_point

    assert _per_point("Predictions", parse_range({"range": span}, END, SIZES)) == title
