"""Recent changes in every alert's context: a new version, a traffic split change, a
reference and metadata upload, a runtime capture and the configuration load, with their
times, in the notification's description and context and on the alert page."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.parquet as pq

from driftline.alerts import MetricPoint, parse_alerts_config
from driftline.sdk.clock import ManualClock
from driftline.server import Settings, create_app
from driftline.server.auth import create_key
from driftline.server.changes import recent_changes
from driftline.store import open_store

T0 = 1_767_225_600.0
W = 300


def _events(store: object, version: str, i: int, n: float) -> dict[str, object]:
    return {
        "model": "m", "version": version, "segment": "*", "window_size": W,
        "window_start": T0 + i * W, "metric": "events", "column": "", "method": "",
        "value": n, "status": "ok", "n": int(n), "details": "{}", "evaluated_at": T0,
    }  # fmt: skip


async def test_an_alert_lists_what_changed_before_it(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    store = open_store(f"sqlite:///{tmp_path}/c.db")
    admin, _ = create_key(store, clock, name="ana", scopes=("admin",))
    alerts = parse_alerts_config(
        {
            "rules": [{"name": "errors", "metric": "error_rate", "op": ">", "threshold": 0.01,
                       "for": 1, "segment": "[*]"}],
            "receivers": [{"name": "log", "log": {}}],
            "route": {"receiver": "log"},
            "inhibit_rules": [],
        }
    )  # fmt: skip
    store.ensure_version("m", "v1", T0)
    # v1 alone for 4 windows, then v2 (first seen in window 4) takes 30%
    rows = [_events(store, "v1", i, 100.0 if i < 4 else 70.0) for i in range(8)]
    rows += [_events(store, "v2", i, 30.0) for i in range(4, 8)]
    store.upsert_metric_points(rows)
    store.ensure_version("m", "v2", T0 + 4 * W + 10)
    clock.advance(5 * W)
    app = create_app(Settings(), store, clock, background=False, alerts=alerts)  # config loaded
    auth = {"Authorization": f"Bearer {admin}"}
    buf = io.BytesIO()
    pq.write_table(pa.table({"x": [1.0, 2.0, 3.0]}), buf)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://c") as client:
        clock.advance(60)
        r = await client.put("/v1/models/m/versions/v2/metadata", json={"owner": "ml"},
                             headers=auth)  # fmt: skip
        assert r.status_code == 200, r.text
        clock.advance(60)
        r = await client.put("/v1/models/m/versions/v2/reference", content=buf.getvalue(),
                             headers=auth)  # fmt: skip
        assert r.status_code == 200, r.text
        clock.advance(W)
        engine = app.state.collector.alerts.engine
        end = T0 + 7 * W
        engine.ingest([MetricPoint("m", "v2", "*", "error_rate", "", end - W, end, 0.2)])
        (alert,) = [a for a in engine.alerts() if a.state.value == "firing"]
        kinds = [c["kind"] for c in alert.context["changes"]]
        assert kinds == [
            "reference_uploaded", "metadata_changed", "config_loaded", "version_first_seen",
            "traffic_split_changed", "version_first_seen",
        ], alert.context["changes"]  # fmt: skip
        split = alert.context["changes"][4]
        assert split["text"] == "traffic split changed: v1 100% -> 70%, v2 0% -> 30%"
        assert split["at_rfc3339"] == "2026-01-01T00:20:00.000Z"
        assert "metadata of v2 changed by ana" in alert.annotations["description"]
        assert "recent changes: reference of v2 uploaded (" in alert.annotations["description"]
        page = (await client.get(f"/ui/alerts/{alert.fingerprint}", headers=auth)).text
        listed = page.split('data-testid="changes"')[1].split("</ul>")[0]
        assert 'data-kind="version_first_seen"' in listed and "version v2 first seen" in listed
    # a change older than a day is not listed; another model shares only the configuration
    assert recent_changes(store, "m", T0 + 3 * 86400, window_size=W) == []
    other = recent_changes(store, "other", T0 + 8 * W, window_size=W)
    assert [c["kind"] for c in other] == ["config_loaded"]
    store.close()
