"""Pipeline health: custom job metrics alertable, the dead-man alert, freshness, the link.

A real collector (manual clock) with the alert engine and a real webhook
receiver on loopback. A job runs every 5 minutes reporting its lag and the
newest input it read; then it stops. The dead-man alert fires although no
run arrives, the lag rule fires on the run that reported too much, and every
job alert's dashboard link leads to the job's row on the Jobs page.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from driftline.demo.receiver import WebhookReceiver
from driftline.sdk.clock import ManualClock
from driftline.server import Settings, create_app
from driftline.server.auth import create_key
from driftline.server.config import parse_serve_config
from driftline.server.jobs import job_health
from driftline.store import Store, open_store
from driftline.store.base import MetricQuery
from driftline.windows import WindowConfig

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
EVERY = 300.0


@dataclass
class Env:
    app: FastAPI
    client: httpx.AsyncClient
    store: Store
    clock: ManualClock
    key: str
    receiver: WebhookReceiver

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    clock = ManualClock(T0)
    store = open_store(f"sqlite:///{tmp_path}/c.db")
    key = create_key(store, clock, name="admin", scopes=("admin",))[0]
    receiver = WebhookReceiver(clock.time).start()
    settings = Settings(windows=WindowConfig(sizes=(60, 3600), grace_seconds=10))
    config = parse_serve_config(
        {
            "alerts": {
                "presets": ["job_dead_man", "job_data_stale", "job_failed_or_late"],
                "rules": [
                    {"name": "scans_lag", "metric": "job_metric", "column": "lag_seconds",
                     "op": ">", "threshold": 600, "team": "data", "min_samples": 0},
                ],
                "receivers": [{"name": "hook", "webhook": {"url": receiver.url}}],
                "route": {"receiver": "hook", "group_wait": "0s", "group_by": ["alertname"]},
            }
        }
    )  # fmt: skip
    alerts = config.alerts_for(settings)
    app = create_app(settings, store, clock, background=False, alerts=alerts)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://collector") as client:
        yield Env(app, client, store, clock, key, receiver)
    receiver.stop()
    store.close()


def _run(i: int, **kw: Any) -> dict[str, Any]:
    sched = T0 + i * EVERY
    run = {
        "job": "scans_export", "run_id": f"r{i}", "scheduled_at": sched,
        "started_at": sched + 5, "finished_at": sched + 35, "status": "success",
        "metrics": {"lag_seconds": 120.0, "documents": 1000 + i},
        "newest_input_at": sched - 120, "expected_interval_seconds": EVERY,
    }  # fmt: skip
    run.update(kw)
    return run


async def _tick_to(env: Env, t: float) -> None:
    collector = env.app.state.collector
    while env.clock.time() < t:
        env.clock.advance(min(60.0, t - env.clock.time()))
        collector.tick()


def _alerts(env: Env) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for m in reversed(env.receiver.messages()):
        for a in m["body"].get("alerts", []):
            out[a["labels"]["alertname"]] = a
    return out


async def test_dead_man_lag_and_freshness_alert_and_link_to_the_job(env: Env) -> None:
    for i in range(6):
        await _tick_to(env, T0 + i * EVERY + 40)
        lag = 900.0 if i == 3 else 120.0
        r = await env.client.post(
            "/v1/jobs",
            json=[_run(i, metrics={"lag_seconds": lag, "documents": 1000 + i})],
            headers=env.auth(),
        )
        assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
    await _tick_to(env, T0 + 5 * EVERY + 120)
    fired = _alerts(env)
    assert "scans_lag" in fired and fired["scans_lag"]["labels"]["column"] == "lag_seconds"
    assert "job_dead_man" not in fired  # it runs on schedule

    # the job stops: nothing arrives; the dead-man alert fires after 1.5 intervals
    await _tick_to(env, T0 + 5 * EVERY + 35 + 1.4 * EVERY)
    assert "job_dead_man" not in _alerts(env)
    await _tick_to(env, T0 + 5 * EVERY + 35 + 1.6 * EVERY + 60)
    dead = _alerts(env).get("job_dead_man")
    assert dead is not None and dead["status"] == "firing", _alerts(env).keys()
    assert dead["labels"]["job"] == "scans_export"

    (h,) = job_health(env.store.job_runs(None, 100), env.clock.time())
    assert h.verdict == "overdue" and h.expected_interval == EVERY
    assert h.freshness_seconds == pytest.approx(env.clock.time() - (T0 + 5 * EVERY - 120))
    text = (await env.client.get("/metrics", headers=env.auth())).text
    assert 'driftline_job_metric{job="scans_export",metric="documents"} 1005.0' in text
    assert 'driftline_job_since_success_intervals{job="scans_export"}' in text
    assert 'driftline_job_freshness_seconds{job="scans_export"}' in text

    # every job alert's dashboard link lands on the job's row of the Jobs page
    for name, alert in _alerts(env).items():
        link = alert["annotations"]["dashboard_url"]
        assert "/ui/models/?" not in link, link
        path = link.split("://", 1)[1].split("/", 1)[1]
        r = await env.client.get("/" + path, headers=env.auth())
        assert r.status_code == 303, (name, r.status_code, r.text[:200])
        assert r.headers["location"] == "/ui/jobs#job-scans_export", name
        page = await env.client.get("/ui/jobs", headers=env.auth())
        assert page.status_code == 200 and 'id="job-scans_export"' in page.text
        assert "overdue" in page.text


async def test_interval_is_inferred_from_the_schedule_without_every(env: Env) -> None:
    runs = [_run(i, expected_interval_seconds=None) for i in range(3)]
    r = await env.client.post("/v1/jobs", json=runs, headers=env.auth())
    assert r.json()["accepted"] == 3
    (h,) = job_health(env.store.job_runs(None, 100), T0 + 2 * EVERY + 60)
    assert h.expected_interval == EVERY and h.interval_source == "schedule"
    assert h.since_success_intervals == pytest.approx((60 - 35) / EVERY)
    two = job_health(env.store.job_runs(None, 100)[:2], T0 + 3 * EVERY)
    assert two[0].expected_interval is None  # two runs say nothing about a schedule


class _Consumer:
    """A broker client as far as the feeder's lag needs one."""

    name = "nats:EVENTS"

    async def lag(self) -> int:
        return 1234


async def test_the_jobs_page_shows_each_stream_consumers_lag_to_global_keys(env: Env) -> None:
    from driftline.server.stream import StreamFeeder

    feeder = StreamFeeder(env.app.state.collector, _Consumer())  # type: ignore[arg-type]
    await feeder.record_lag(1234)
    await feeder.record_lag(56)  # the window keeps its largest reading; the table its last
    env.clock.advance(60)
    await feeder.record_lag(7)  # the next window: the first one's final value is written
    page = await env.client.get("/ui/jobs", headers=env.auth())
    assert page.status_code == 200
    section = page.text.split('id="stream-consumers"', 1)[1].split("</section>", 1)[0]
    assert 'data-signal="stream_consumer_lag"' in page.text
    assert 'data-consumer="nats:EVENTS"' in section and ">7<" in section
    rows = env.store.metric_points(MetricQuery(model="", metric="stream_consumer_lag"))
    assert sorted((r["window_start"], r["value"], r["n"]) for r in rows) == [
        (T0, 1234.0, 2),
        (T0 + 60, 7.0, 1),
    ]
    # a project's key does not see the collector-wide consumers
    other = create_key(env.store, env.clock, name="p", scopes=("read",), project="team-a")[0]
    page = await env.client.get("/ui/jobs", headers={"Authorization": f"Bearer {other}"})
    assert page.status_code == 200 and "stream-consumers" not in page.text
