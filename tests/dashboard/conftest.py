"""A collector over SQLite with a manual clock, some traffic with a drifting column, alerts.

The data go through the real collector (ingest -> live windows -> evaluator ->
metric points) and the real alert engine (through the dashboard's bridge).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pyarrow as pa
import pytest
from fastapi import FastAPI

import driftline
from driftline.alerts import AlertEngine, parse_alerts_config
from driftline.sdk.clock import ManualClock
from driftline.server import Settings, create_app
from driftline.server.auth import create_key
from driftline.server.collector import Collector
from driftline.server.dashboard import AlertBridge, Dashboard, mount_dashboard
from driftline.store import Store, open_store
from driftline.windows import WindowConfig
from support import serving

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
WINDOW = 60
BASE = "http://testserver"
ALERTS = {
    "rules": [
        {
            "name": "feature_drift",
            "metric": "drift_detected",
            "op": ">=",
            "threshold": 1,
            "for": 2,
            "keep_firing_for": 1,
            "severity": "warning",
            "team": "ml",
            "segment": "[*]",
            "annotations": {"summary": "{{ $labels.column }} of {{ $labels.model }} drifted"},
        },
        {
            "name": "p99_latency",
            "metric": "latency_p99_seconds",
            "op": ">",
            "threshold": 0.25,
            "for": 2,
            "severity": "critical",
            "team": "ops",
            "segment": "[*]",  # all traffic (a glob: "*" would match every segment)
        },
    ],
    "receivers": [{"name": "log", "log": {}}],
    "route": {"receiver": "log", "group_wait": "0s"},
    "inhibit_rules": [],
}


@dataclass
class Env:
    app: FastAPI
    store: Store
    clock: ManualClock
    keys: dict[str, str]
    dash: Dashboard
    engine: AlertEngine
    bridge: AlertBridge

    @property
    def collector(self) -> Collector:
        c: Collector = self.app.state.collector
        return c

    def auth(self, scope: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[scope]}"}


def _event(
    i: int, ts: float, rng: np.random.Generator, shift: float, version: str
) -> dict[str, Any]:
    x = float(rng.normal(shift, 1.0))
    p = float(1 / (1 + np.exp(-x)))
    return {
        "type": "prediction",
        "event_id": f"{version}-{i}",
        "prediction_id": f"{version}-{i}",
        "timestamp": ts,
        "model": "scorer",
        "version": version,
        "features": {"x": x, "z": float(rng.normal(0, 1)), "c": str(rng.choice(["a", "b"]))},
        "prediction": int(p > 0.5),
        "scores": {"0": 1 - p, "1": p},
        "segment": {"region": "eu" if i % 3 else "us"},
        "latency_ms": float(rng.lognormal(2.5, 0.3)) * (20 if shift > 1.5 else 1),
        "status": "ok",
        "error_type": None,
        "shadow": False,
        "tags": {},
    }


def seed(env: Env, windows: int = 8) -> None:
    """``windows`` minutes of traffic; column x drifts (and latency grows) from window 3."""
    rng = np.random.default_rng(1)
    ref = pa.table(
        {
            "x": rng.normal(0, 1, 2000),
            "z": rng.normal(0, 1, 2000),
            "c": rng.choice(["a", "b"], 2000),
        }
    )
    for version in ("v1", "v2"):
        prof = driftline.profile(ref, seed=0)
        env.store.put_reference("scorer", version, prof.to_bytes(), prof.n_rows, T0)
        from driftline.windows import schema_to_json

        env.store.replace_version_schema("scorer", version, schema_to_json(prof.schema))
    i = 0
    for w in range(windows):
        start = T0 + w * WINDOW
        shift = 2.0 if w >= 3 else 0.0
        events = []
        for k in range(120):
            version = "v2" if k % 10 == 0 else "v1"
            events.append(
                _event(i, start + k * 0.4, rng, shift if version == "v1" else 0.0, version)
            )
            i += 1
        env.clock.advance(start + WINDOW - env.clock.time())
        res = env.collector.ingest("prediction", events)
        assert res.accepted == len(events), res.rejected[:3]
        labels = [
            {
                "type": "label",
                "event_id": f"l{e['event_id']}",
                "prediction_id": e["prediction_id"],
                "timestamp": start + 50,
                "model": "scorer",
                "version": e["version"],
                "label": int(e["features"]["x"] - (2.0 if w >= 3 else 0.0) > 0),
            }
            for e in events[::2]
        ]
        env.collector.ingest("label", labels)
        job = {
            "type": "job_run",
            "event_id": f"j{w}",
            "job": "feature_pipeline",
            "run_id": f"r{w}",
            "scheduled_at": start,
            "started_at": start + (200 if w == 5 else 5),
            "finished_at": start + (235 if w == 5 else 40),  # w=5: a late run
            "status": "failed" if w == 6 else "success",
            "rows_in": 1000,
            "rows_out": 990,
            "error": "timeout" if w == 6 else None,
            "metrics": {"lag_seconds": 30.0 + w},
        }
        env.collector.ingest("job_run", [job])
    env.clock.advance(WINDOW + 30)
    env.collector.tick(force_flush=True)
    env.bridge.run()
    env.clock.advance(WINDOW)
    env.collector.tick(force_flush=True)
    env.bridge.run()


def client(env: Env, scope: str | None = None) -> httpx.AsyncClient:
    """The app in process (ASGI); with ``scope``, every request carries that scope's key."""
    headers = env.auth(scope) if scope else None
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=env.app), base_url=BASE, headers=headers
    )


def ingest_windows(
    env: Env, windows: int, events_of: Callable[[int, float], list[dict[str, Any]]]
) -> int:
    """``events_of(w, start)`` ingested as window ``w`` (starting at T0 + w x WINDOW, the
    clock at its end), every event accepted; then all windows closed and evaluated.
    Returns the time then, the ``end`` of the pages' range."""
    for w in range(windows):
        start = T0 + w * WINDOW
        events = events_of(w, start)
        env.clock.advance(start + WINDOW - env.clock.time())
        res = env.collector.ingest("prediction", events)
        assert res.accepted == len(events), res.rejected[:3]
    env.clock.advance(WINDOW + 30)
    env.collector.tick(force_flush=True)
    return int(env.clock.time())


def make_env(tmp_path: Path) -> Env:
    clock = ManualClock(T0)
    store = open_store(f"sqlite:///{tmp_path}/c.db")
    keys = {
        s: create_key(store, clock, name=f"{s}-user", scopes=(s,))[0]
        for s in ("admin", "read", "ingest")
    }
    settings = Settings(
        windows=WindowConfig(sizes=(WINDOW, 3600), grace_seconds=10, segment_keys=("region",))
    )
    app = create_app(settings, store, clock, background=False)
    from driftline.alerts.store import SQLAlertStore

    alert_store = SQLAlertStore(store.engine)  # type: ignore[attr-defined]
    alert_store.create_tables()
    engine = AlertEngine(parse_alerts_config(ALERTS), store=alert_store, clock=clock)
    dash = mount_dashboard(app, store, settings, clock, alerts=engine)
    bridge = AlertBridge(store, engine, WINDOW)
    return Env(app, store, clock, keys, dash, engine, bridge)


def seeded(
    tmp_path_factory: pytest.TempPathFactory, name: str, seed_with: Callable[[Env], None]
) -> Iterator[Env]:
    """A collector seeded by ``seed_with``, closed afterwards (``yield from`` it in a
    module-scoped ``env`` fixture: seeding costs seconds)."""
    e = make_env(tmp_path_factory.mktemp(name))
    seed_with(e)
    yield e
    e.store.close()


def close_windows(env: Env) -> None:
    """Past the last window's end and grace: its points are evaluated and stored."""
    env.clock.advance(WINDOW + 30)
    env.collector.tick(force_flush=True)
    env.clock.advance(WINDOW)
    env.collector.tick(force_flush=True)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    """One seeded collector per test module (seeding costs seconds); tests that change
    alert state come last in their module."""
    yield from seeded(tmp_path_factory, "dash", seed)


@pytest.fixture(scope="module")
def url(env: Env) -> Iterator[str]:
    """The module's ``env`` app on a real loopback socket (uvicorn in a thread)."""
    with serving(env.app) as up:
        yield str(up.url)


@dataclass
class Served:
    env: Env
    url: str


@pytest.fixture(scope="module")
def served(env: Env) -> Iterator[Served]:
    """The app on a real loopback socket (uvicorn in a thread), for Chromium."""
    with serving(env.app) as up:
        yield Served(env, up.url)
