"""Multiprocess metrics with real worker processes (prometheus_client multiprocess mode)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry, multiprocess

from driftline.sdk.multiprocess import prepare_dir
from support import free_port

WORKER = textwrap.dedent(
    """
    import sys
    from driftline.sdk import Monitor

    n = int(sys.argv[1])
    mon = Monitor("credit_risk", "v3", flush_interval=0.05)
    for i in range(n):
        with mon.observe({"x": i}) as obs:
            obs.record(prediction="yes" if i % 2 else "no", scores=0.9)
    try:
        with mon.observe({"x": -1}):
            raise ValueError("bad input")
    except ValueError:
        pass
    mon.close()
    """
)


def test_counts_from_several_processes_add_up(tmp_path: Path) -> None:
    mp_dir = prepare_dir(tmp_path / "prom")
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(mp_dir)}
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    procs = [subprocess.Popen([sys.executable, str(script), str(n)], env=env) for n in (30, 70)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    merged = CollectorRegistry()
    multiprocess.MultiProcessCollector(merged, path=str(mp_dir))  # type: ignore[no-untyped-call]
    mv = {"model": "credit_risk", "version": "v3"}
    value = merged.get_sample_value
    assert value("driftline_predictions_total", {**mv, "outcome": "ok"}) == 100
    assert value("driftline_predictions_total", {**mv, "outcome": "error"}) == 2
    assert value("driftline_prediction_errors_total", {**mv, "error_type": "ValueError"}) == 2
    assert value("driftline_prediction_latency_seconds_count", mv) == 102
    assert value("driftline_predicted_class_total", {**mv, "class": "yes"}) == 15 + 35
    assert (
        value("driftline_sdk_events_sent_total", {"model": "credit_risk", "kind": "prediction"})
        == 102
    )
    assert len(list(mp_dir.glob("counter_*.db"))) == 2


APP = textwrap.dedent(
    """
    from fastapi import FastAPI
    from driftline.integrations.fastapi import instrument
    from driftline.sdk import Monitor

    app = FastAPI()
    mon = Monitor("credit_risk", "v3", flush_interval=0.05)
    instrument(app, mon)

    @app.get("/predict/{item}")
    def predict(item: int) -> dict[str, int]:
        with mon.observe({"item": item}) as obs:
            obs.record(prediction=item % 3)
        return {"prediction": item % 3}
    """
)


@pytest.mark.slow
def test_uvicorn_workers_share_one_metrics_view(tmp_path: Path) -> None:
    mp_dir = prepare_dir(tmp_path / "prom")
    (tmp_path / "app.py").write_text(APP)
    port = free_port()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(mp_dir)}
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app:app", "--workers", "2", "--port", str(port),
         "--host", "127.0.0.1", "--log-level", "warning"],
        cwd=tmp_path, env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120  # two interpreters import numpy/scipy first
        started = False
        while not started and time.monotonic() < deadline:
            try:
                started = httpx.get(f"{base}/predict/0", timeout=5).status_code == 200
            except httpx.TransportError:
                time.sleep(0.2)
        assert started, "uvicorn did not start within 120 s"
        for i in range(1, 20):
            with httpx.Client(timeout=5) as client:  # a new connection each time
                assert client.get(f"{base}/predict/{i}").status_code == 200
        text = ""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # workers publish within about a second
            text = httpx.get(f"{base}/metrics", timeout=5).text
            if (
                'driftline_predictions_total{model="credit_risk",outcome="ok",version="v3"} 20.0'
                in text
                and 'handler="/predict/{item}",method="GET",status="2xx"} 20.0' in text
            ):
                break
            time.sleep(0.1)
        assert 'outcome="ok",version="v3"} 20.0' in text
        http = 'driftline_http_requests_total{handler="/predict/{item}",method="GET",status="2xx"}'
        assert f"{http} 20.0" in text
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=5)
