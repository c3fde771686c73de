"""A real Alertmanager (Debian prometheus-alertmanager) receives driftline's alerts."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from driftline.alerts import AlertEngine, Dispatcher, MemoryAlertStore, parse_alerts_config
from driftline.alerts.notifiers.webhook import alertmanager_payload
from driftline.alerts.points import MetricPoint
from driftline.sdk.clock import ManualClock

from .conftest import AlertmanagerProcess, Receiver

pytestmark = pytest.mark.binary("prometheus-alertmanager")


def _engine(url: str, clock: ManualClock) -> tuple[AlertEngine, Dispatcher]:
    cfg = parse_alerts_config(
        {
            "presets": {"schema_violation": None, "drift_top_feature": {"for": 1}},
            "receivers": [{"name": "am", "alertmanager": {"url": url}}],
            "route": {"receiver": "am", "group_wait": "0s", "group_interval": "1m"},
            "inhibit_rules": [],
        }
    )
    store = MemoryAlertStore()
    d = Dispatcher(cfg, store, clock=clock, env={}, registry=CollectorRegistry())
    return AlertEngine(cfg, store=store, clock=clock, sink=d), d


def _points(now: float, schema: float) -> list[MetricPoint]:
    ws = (now // 300) * 300 - 300
    return [
        MetricPoint("credit_risk", "v3", "*", "schema_violations", "income", ws, ws + 300, schema),
        MetricPoint("credit_risk", "v3", "*", "drift_detected", "income", ws, ws + 300, 1.0),
        MetricPoint("credit_risk", "v3", "*", "drift_score", "income", ws, ws + 300, 0.4),
    ]


def _alerts(url: str, expect: int, **params: Any) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    for _ in range(50):  # at most ~5 s
        got = httpx.get(f"{url}/api/v2/alerts", params=params, timeout=2).json()
        if len(got) == expect:
            return got
        time.sleep(0.1)
    return got


def test_alertmanager_receives_alerts_and_inhibits(alertmanager: AlertmanagerProcess) -> None:
    clock = ManualClock(time.time())
    engine, d = _engine(alertmanager.url, clock)
    engine.ingest(_points(clock.time(), schema=1.0))
    engine.tick()
    got = {a["labels"]["alertname"]: a for a in _alerts(alertmanager.url, 2)}
    assert set(got) == {"schema_violation", "drift_top_feature"}
    schema, drift = got["schema_violation"], got["drift_top_feature"]
    assert schema["labels"]["column"] == "income" and schema["labels"]["model"] == "credit_risk"
    assert schema["status"]["state"] == "active"
    assert schema["annotations"]["summary"] == "column income of credit_risk breaks the schema"
    assert schema["generatorURL"].startswith("http://127.0.0.1:8080/alerts/")
    # Alertmanager's own inhibition rule mutes the drift alert on the same column
    assert drift["status"]["state"] == "suppressed"
    assert drift["status"]["inhibitedBy"] == [schema["fingerprint"]]
    assert all(x.status == "delivered" for x in engine.store.deliveries())
    d.close()


def test_resolved_alerts_leave_alertmanager(alertmanager: AlertmanagerProcess) -> None:
    clock = ManualClock(time.time() - 600)
    engine, d = _engine(alertmanager.url, clock)
    engine.ingest(_points(clock.time(), schema=1.0)[:1])
    engine.tick()
    assert len(_alerts(alertmanager.url, 1)) == 1
    clock.advance(300)
    engine.ingest(_points(clock.time(), schema=0.0)[:1])
    clock.advance(60)
    engine.tick()
    assert _alerts(alertmanager.url, 0, active="true") == []
    d.close()


def test_alertmanager_webhook_matches_our_v4_payload(tmp_path: Any, receiver: Receiver) -> None:
    """Alertmanager's own webhook (version 4) has exactly the keys of driftline's payload."""
    import subprocess

    from support import free_port

    from .conftest import require_binary

    binary = require_binary("prometheus-alertmanager")
    port = free_port()
    (tmp_path / "am.yml").write_text(
        "route:\n  receiver: hook\n  group_wait: 0s\n  group_by: [model]\n"
        f"receivers:\n  - name: hook\n    webhook_configs:\n      - url: {receiver.url}/am\n"
    )
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [binary, f"--config.file={tmp_path / 'am.yml'}", f"--storage.path={tmp_path / 'd'}",
         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=",
         f"--web.external-url={url}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        clock = ManualClock(time.time())
        engine, d = _engine(url, clock)
        engine.ingest(_points(clock.time(), schema=1.0)[:1])
        sent = engine.tick()
        for _ in range(100):  # at most ~10 s
            if receiver.bodies("/am"):
                break
            time.sleep(0.1)
        (theirs,) = receiver.bodies("/am")[:1]
        ours = alertmanager_payload(sent[0])
        assert set(theirs) == set(ours)
        assert set(theirs["alerts"][0]) == set(ours["alerts"][0])
        assert theirs["version"] == ours["version"] == "4"
        assert theirs["alerts"][0]["startsAt"][:19] == ours["alerts"][0]["startsAt"][:19]
        assert theirs["alerts"][0]["fingerprint"]  # Alertmanager's own hash, ours is stable too
        assert theirs["alerts"][0]["labels"] == ours["alerts"][0]["labels"]
        d.close()
    finally:
        proc.terminate()
        proc.wait(timeout=5)
