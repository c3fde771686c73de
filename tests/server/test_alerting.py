"""End to end: driftline.yaml -> collector -> HTTP ingest -> windows -> alerts -> a real receiver.

The collector runs in uvicorn on a loopback socket, with its background loop
(``tick_seconds: 0.05``) on a manual clock; the test advances the clock window
by window and waits for the loop to evaluate the closed window and feed the
alert engine. The receiver is a real HTTP server on loopback.
"""

from __future__ import annotations

import io
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from driftline.sdk.clock import ManualClock
from driftline.server import create_app
from driftline.server.auth import create_key
from driftline.server.config import load_serve_config
from driftline.store import Store, open_store
from postgres_db import store_url_fixture

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
WINDOW = 60
GRACE = 10
DRIFTING = range(2, 6)  # windows where feature x is shifted by 3 standard deviations
CONFIG = """
collector:
  tick_seconds: 0.05
  dashboard_url: https://driftline.example.com/ui
  windows: {{sizes: [1m], grace_seconds: {grace}}}
alerts:
  rules:
    - name: x_drift
      metric: drift_detected
      column: x
      segment: "[*]"
      op: ">="
      threshold: 1
      for: 2
      keep_firing_for: 1
      severity: warning
      team: ml
      annotations:
        summary: "{{{{ $labels.column }}}} of {{{{ $labels.model }}}} drifted"
  receivers:
    - name: ml-webhook
      webhook: {{url: "{url}/hook", format: json}}
  route: {{receiver: ml-webhook, group_wait: 0s, group_interval: 1m}}
  inhibit_rules: []
"""


def events(rng: np.random.Generator, w: int, n: int = 150) -> list[dict[str, Any]]:
    shift = 3.0 if w in DRIFTING else 0.0
    x = rng.normal(shift, 1.0, n)
    return [
        {
            "event_id": f"w{w}-{i}",
            "timestamp": T0 + w * WINDOW + 50 * i / n,
            "model": "credit",
            "version": "v1",
            "features": {"x": float(x[i]), "c": str(rng.choice(["a", "b"]))},
            "prediction": int(x[i] > 0),
            "scores": {"0": 0.3, "1": 0.7},
            "latency_ms": 12.0,
        }
        for i in range(n)
    ]


def wait_for(what: str, condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


class Run:
    """One collector process: the app from the config file in uvicorn, and a client."""

    def __init__(self, config: Path, store: Store, clock: ManualClock) -> None:
        import uvicorn

        cfg = load_serve_config(config)
        settings = cfg.settings(env={})
        self.app = create_app(settings, store, clock, alerts=cfg.alerts_for(settings), env={})
        self.clock = clock
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]})
        base = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.client = httpx.Client(base_url=base, timeout=30)

    def __enter__(self) -> Run:
        self.thread.start()  # the lifespan starts the background loop
        wait_for("uvicorn to start", lambda: self.server.started)
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()
        self.server.should_exit = True  # the lifespan saves the live windows
        self.thread.join(timeout=30)
        self.sock.close()

    def close_window(self, w: int) -> None:
        """Move the clock past window ``w``'s grace and wait until its points were fed."""
        self.clock.advance(T0 + (w + 1) * WINDOW + GRACE + 1 - self.clock.time())
        alerts = self.app.state.collector.alerts
        now = self.clock.time()
        wait_for(
            f"window {w} to be evaluated and its alerts sent",
            lambda: alerts.feed.cursor >= now and (alerts.ran_at or 0) >= now and alerts.delivered,
        )


store_url = store_url_fixture("driftline_alerting")


def test_serve_config_fires_then_resolves_through_a_real_receiver_across_a_restart(
    tmp_path: Path, receiver: tuple[str, list[dict[str, Any]]], store_url: str
) -> None:
    url, got = receiver
    config = tmp_path / "driftline.yaml"
    config.write_text(CONFIG.format(url=url, grace=GRACE))
    clock = ManualClock(T0)
    store = open_store(store_url)
    key, _ = create_key(store, clock, name="test", scopes=("admin",))
    auth = {"Authorization": f"Bearer {key}"}
    rng = np.random.default_rng(7)
    buf = io.BytesIO()
    pq.write_table(pa.table({"x": rng.normal(0, 1, 2000), "c": rng.choice(["a", "b"], 2000)}), buf)
    seen: dict[int, int] = {}

    def play(run: Run, windows: range) -> None:
        for w in windows:
            r = run.client.post("/v1/events", json=events(rng, w), headers=auth)
            assert r.status_code == 200 and r.json()["accepted"] == 150, r.text
            run.close_window(w)
            seen[w] = len(got)

    with Run(config, store, clock) as run:
        r = run.client.put(
            "/v1/models/credit/versions/v1/reference", content=buf.getvalue(), headers=auth
        )
        assert r.status_code == 200, r.text
        play(run, range(0, 5))
        page = run.client.get("/ui/alerts", headers=auth)  # the dashboard acts on this engine
        assert page.status_code == 200 and "x_drift" in page.text, page.text[:300]
    # pending at window 2, firing when window 3 (the second drifted one) closes
    assert [seen[w] for w in range(5)] == [0, 0, 0, 1, 1]
    (firing,) = got
    assert firing["version"] == "driftline.alerts/v1" and firing["status"] == "firing"
    (alert,) = firing["alerts"]
    assert alert["labels"]["column"] == "x" and alert["labels"]["model"] == "credit"
    assert alert["annotations"]["summary"] == "x of credit drifted"
    assert alert["generatorURL"].startswith("https://driftline.example.com/ui/alerts/")
    assert alert["context"]["top_columns"][0]["column"] == "x"

    # a new process on the same store: the firing alert is not sent again ...
    with Run(config, store, clock) as run:
        play(run, range(5, 9))
        engine = run.app.state.collector.alerts.engine
        states = [
            (e.to_state, e.detail.get("window_end")) for e in engine.audit() if e.kind == "state"
        ]
    # ... and it resolves after keep_firing_for (1) + 1 clear windows: windows 6 and 7
    assert [seen[w] for w in range(5, 9)] == [1, 1, 2, 2]
    resolved = got[1]
    assert resolved["status"] == "resolved"
    assert resolved["alerts"][0]["fingerprint"] == alert["fingerprint"]
    assert [s for s, _ in states] == ["pending", "firing", "resolved"]
    assert states[-1][1] == T0 + 8 * WINDOW  # the end of window 7
    store.close()


def _preset_collector(
    tmp_path: Path, url: str, alerts: dict[str, Any]
) -> tuple[ManualClock, Store, Any]:
    """An in-process collector on 1-minute windows whose ``alerts`` (presets and options)
    notify a webhook receiver at ``url``; the test calls ``tick`` itself."""
    from driftline.server.config import parse_serve_config

    cfg = parse_serve_config(
        {
            "collector": {"windows": {"sizes": ["1m"], "grace_seconds": GRACE}},
            "alerts": {
                **alerts,
                "receivers": [{"name": "data", "webhook": {"url": url, "format": "json"}}],
                "route": {"receiver": "data", "group_wait": "0s", "group_interval": "1m"},
            },
        }
    )
    clock = ManualClock(T0)
    store = open_store(f"sqlite:///{tmp_path / 'c.db'}")
    settings = cfg.settings(env={})
    app = create_app(
        settings, store, clock, alerts=cfg.alerts_for(settings), env={}, background=False
    )
    return clock, store, app.state.collector


def test_job_runs_feed_the_job_failed_or_late_preset(
    tmp_path: Path, receiver: tuple[str, list[dict[str, Any]]]
) -> None:
    url, got = receiver
    clock, store, collector = _preset_collector(
        tmp_path, url, {"presets": ["job_failed_or_late"], "job_late_after": "5m"}
    )

    def run(i: int, status: str, late: float = 0.0) -> None:
        start = T0 + i * WINDOW + 5
        job = {
            "type": "job_run", "job": "feature_refresh", "run_id": f"r{i}",
            "scheduled_at": start - late, "started_at": start, "finished_at": start + 20,
            "status": status, "rows_in": 10, "rows_out": 10, "error": None, "metrics": {},
        }  # fmt: skip
        clock.advance(start + 30 - clock.time())
        assert collector.ingest("job_run", [job]).accepted == 1
        collector.tick()

    run(0, "success")
    assert got == []
    run(1, "failed")
    assert [(m["status"], m["alerts"][0]["labels"]["job"]) for m in got] == [
        ("firing", "feature_refresh")
    ]
    assert got[0]["alerts"][0]["value"] == 1.0
    run(2, "success", late=600)  # on time would resolve it; 10 minutes late keeps it firing
    assert len(got) == 1
    assert collector.alerts.engine.alerts("firing")[0].value == 2.0
    run(3, "success", late=60)
    assert [m["status"] for m in got] == ["firing", "resolved"]
    collector.close()
    store.close()


@pytest.mark.parametrize(
    ("metric", "column", "method", "status", "expected"),
    [
        ("events", "", "", "ok", [("request_count", "", 40.0)]),
        ("error_ratio", "", "", "ok", [("error_rate", "", 0.25), ("error_count", "", 10.0)]),
        (
            "drift_score",
            "x",
            "psi",
            "drift",
            [("drift_score", "x", 0.25), ("drift_detected", "x", 1.0)],
        ),
        ("drift_detected", "", "", "drift", [("dataset_drift_detected", "", 0.25)]),
        ("performance.accuracy", "", "", "ok", [("accuracy", "", 0.25)]),
        ("latency_seconds", "", "p99", "ok", [("latency_p99_seconds", "", 0.25)]),
        ("latency_seconds", "", "mean", "ok", []),
        ("performance.f1", "", "", "ok", [("performance.f1", "", 0.25)]),
    ],
)
def test_collector_points_become_engine_points(
    metric: str, column: str, method: str, status: str, expected: list[tuple[str, str, float]]
) -> None:
    from driftline.server.alerting import alert_points

    value = 40.0 if metric == "events" else 0.25
    row = {
        "model": "m", "version": "v1", "segment": "*", "window_size": 300,
        "window_start": T0, "metric": metric, "column": column, "method": method,
        "value": value, "status": status, "n": 40,
    }  # fmt: skip
    points = alert_points(row)
    assert [(p.metric, p.column, p.value) for p in points] == expected
    assert all((p.window_start, p.window_end) == (T0, T0 + 300) for p in points)
    if metric == "drift_score":
        assert points[0].labels == {"method": "psi"}


def test_schema_violations_feed_the_schema_violation_preset(
    tmp_path: Path, receiver: tuple[str, list[dict[str, Any]]]
) -> None:
    """A feature no event sends, one sent as text where numbers belong and one the reference
    lacks each fire the preset for their column; a window that follows the schema resolves the
    first two, and the unexpected column, which then has no points, resolves after
    ``resolve_timeout``."""
    import driftline
    from driftline.windows import schema_to_json

    url, got = receiver
    clock, store, collector = _preset_collector(
        tmp_path, url, {"presets": ["schema_violation"], "resolve_timeout": "3m"}
    )
    rng = np.random.default_rng(3)
    ref = driftline.profile(
        pa.table(
            {"x": rng.normal(size=500), "weight": rng.normal(size=500), "z": rng.normal(size=500)}
        ),
        seed=0,
    )
    store.ensure_version("m", "v1", T0)
    store.put_reference("m", "v1", ref.to_bytes(), ref.n_rows, T0)
    store.replace_version_schema("m", "v1", schema_to_json(ref.schema))

    def window(i: int, broken: bool) -> None:
        start = T0 + i * WINDOW
        events = []
        for k in range(40):
            feats: dict[str, Any] = {"x": float(rng.normal()), "weight": float(rng.normal())}
            feats["z"] = float(rng.normal())
            if broken:
                del feats["x"]  # never sent
                feats["weight"] = f"{rng.normal():.3f} kg"  # text where a number belongs
                feats["new_feature"] = 1.0  # not in the reference
            events.append({
                "type": "prediction", "event_id": f"e{i}-{k}", "timestamp": start + k,
                "model": "m", "version": "v1", "features": feats, "prediction": 1,
            })  # fmt: skip
        clock.advance(start + 45 - clock.time())
        assert collector.ingest("prediction", events).accepted == 40
        clock.advance(start + WINDOW + GRACE + 1 - clock.time())
        collector.tick()

    window(0, broken=False)
    assert got == []
    window(1, broken=True)
    fired = sorted(a["labels"]["column"] for m in got for a in m["alerts"])
    assert fired == ["new_feature", "weight", "x"], got
    assert all(m["status"] == "firing" for m in got)

    def resolved() -> list[str]:
        return sorted(a["labels"]["column"] for a in got[-1]["alerts"] if a["status"] == "resolved")

    window(2, broken=False)
    assert resolved() == ["weight", "x"]
    window(3, broken=False)
    assert resolved() == ["weight", "x"]  # no data for new_feature yet for 2 minutes
    for i in range(4, 7):
        window(i, broken=False)
    assert got[-1]["status"] == "resolved" and resolved() == ["new_feature"]  # the group too
    collector.close()
    store.close()


def test_a_worse_shadow_fires_the_challenger_worse_preset(
    tmp_path: Path, receiver: tuple[str, list[dict[str, Any]]]
) -> None:
    """Champion v1 right 90 % of the time, shadow v2 60 %, on the same 600 labelled
    requests: v2's window carries versus.verdict = -1 and the preset fires for v2 with the
    champion as its column."""
    url, got = receiver
    clock, store, collector = _preset_collector(tmp_path, url, {"presets": ["challenger_worse"]})
    rng = np.random.default_rng(5)
    events, labels = [], []
    for k in range(600):
        y = int(rng.integers(0, 2))
        ts = T0 + k * 0.05
        for version, acc, shadow in (("v1", 0.9, False), ("v2", 0.6, True)):
            p = y if rng.random() < acc else 1 - y
            events.append({
                "type": "prediction", "event_id": f"{version}-{k}", "prediction_id": f"p{k}",
                "timestamp": ts, "model": "m", "version": version, "features": {"x": 1.0},
                "prediction": p, "shadow": shadow,
            })  # fmt: skip
        labels.append({"type": "label", "event_id": f"l{k}", "prediction_id": f"p{k}",
                       "timestamp": ts + 1, "model": "m", "label": y})  # fmt: skip
    clock.advance(40)
    assert collector.ingest("prediction", events).accepted == 1200
    assert collector.ingest("label", labels).accepted == 600
    clock.advance(T0 + WINDOW + GRACE + 1 - clock.time())
    collector.tick()
    alerts = [a for m in got for a in m["alerts"]]
    assert [(a["labels"]["alertname"], a["labels"]["version"], a["labels"]["column"])
            for a in alerts] == [("challenger_worse", "v2", "v1")]  # fmt: skip
    assert "v2 of m is significantly worse than champion v1" in alerts[0]["annotations"]["summary"]
    collector.close()
    store.close()


def test_a_serving_major_version_away_from_training_fires_the_preset(
    tmp_path: Path, receiver: tuple[str, list[dict[str, Any]]]
) -> None:
    url, got = receiver
    clock, store, collector = _preset_collector(
        tmp_path, url, {"presets": ["runtime_major_mismatch"]}
    )
    runtimes = [
        {"type": "runtime", "event_id": f"rt-{role}", "model": "m", "version": "v1",
         "role": role, "runtime": {"python": "3.11.4", "packages": {"numpy": numpy}}}
        for role, numpy in (("training", "1.26.4"), ("serving", "2.0.2"))
    ]  # fmt: skip
    assert collector.ingest("runtime", runtimes).accepted == 2
    events = [
        {"type": "prediction", "event_id": f"e{k}", "timestamp": T0 + k, "model": "m",
         "version": "v1", "features": {"x": 1.0}, "prediction": 1}
        for k in range(10)
    ]  # fmt: skip
    clock.advance(20)
    assert collector.ingest("prediction", events).accepted == 10
    clock.advance(T0 + WINDOW + GRACE + 1 - clock.time())
    collector.tick()
    alerts = [a for m in got for a in m["alerts"]]
    assert [(a["labels"]["alertname"], a["value"]) for a in alerts] == [
        ("runtime_major_mismatch", 1.0)
    ]
    collector.close()
    store.close()
