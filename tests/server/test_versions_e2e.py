"""End to end through ``driftline serve``: a shadow challenger gets realized metrics from the
champion's labels, and the versions page, the API, /metrics and the CLI show its verdict."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry

from driftline.sdk import Monitor, Router
from driftline.sdk.clock import ManualClock
from driftline.sdk.http_sink import HTTPSink
from support import free_port

from .test_processes import KEY, Server

N = 1200
DRIFTLINE = str(Path(sys.executable).with_name("driftline"))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    s = Server(f"sqlite:///{tmp_path}/v.db", free_port(), tmp_path / "collector.log").start()
    yield s
    s.kill()


def _get(server: Server, path: str, **params: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {KEY}"}
    return httpx.get(server.url + path, params=params, headers=headers, timeout=60)


@pytest.mark.slow
def test_a_shadow_challenger_is_judged_on_the_champions_labels(server: Server) -> None:
    rng = random.Random(7)
    # an hour ago, so the window is closed when the collector evaluates it
    clock = ManualClock(time.time() - 3600)
    sink = HTTPSink(server.url, KEY, backoff_base=0.05, backoff_max=0.5, timeout=10)
    mon = Monitor(
        "credit", "v1", sink, registry=CollectorRegistry(), flush_interval=0.05, clock=clock
    )
    truth: dict[str, int] = {}

    def champion(x: dict[str, float]) -> int:  # right 90 % of the time
        y = int(x["y"])
        return y if x["u"] < 0.9 else 1 - y

    def challenger(x: dict[str, float]) -> int:  # right 75 % of the time
        y = int(x["y"])
        return y if x["v"] < 0.75 else 1 - y

    # room for every shadow call: this test is about labels reaching the shadow, not about the
    # back-pressure that skips shadow calls when the workers fall behind (a busy CI machine)
    router = Router(mon, {"v1": champion}, shadows={"v2": challenger}, max_pending_shadows=N)
    try:
        for _ in range(N):
            y = rng.randint(0, 1)
            x = {"y": float(y), "u": rng.random(), "v": rng.random()}
            routed = router.predict(x)
            truth[routed.prediction_id] = y
        router.close(wait=True)
        for pid, y in truth.items():
            mon.label(pid, y)
        assert mon.flush(timeout=60)
    finally:
        router.close()
        mon.close(timeout=10)
    assert router.shadow_share()["v2"]["skipped"] == 0

    deadline = time.monotonic() + 60
    verdict: list[dict[str, object]] = []
    while time.monotonic() < deadline and not verdict:
        server.post("/v1/admin/flush")
        verdict = _get(
            server, "/v1/metrics", model="credit", version="v2", metric="versus.verdict"
        ).json()
        time.sleep(0.2)
    assert verdict, "no verdict point was written for the challenger"
    acc = _get(
        server,
        "/v1/metrics",
        model="credit",
        version="v2",
        segment="*",
        metric="performance.accuracy",
    ).json()
    assert acc and 0.70 < acc[0]["value"] < 0.80, acc  # realized from the champion's labels
    assert verdict[0]["status"] == "worse" and verdict[0]["column"] == "v1"

    page = _get(server, "/ui/models/credit/compare", range="6h").text
    assert 'data-testid="verdict"' in page and "Verdict: challenger worse" in page
    # merged p99 of the compared requests; no prices configured: said, never a 0 cost
    assert 'data-testid="merged-p99"' in page
    cost_row = page.split('data-testid="cost-per-1k"')[1].split("</tr>")[0]
    assert cost_row.count("not configured") == 2, cost_row
    assert 'data-testid="share-scored">100.0%' in page, page.split('data-testid="verdict"')[1][
        :1500
    ]

    assert 'driftline_version_verdict{champion="v1",model="credit",version="v2"} -1.0' in (
        _get(server, "/metrics").text
    )
    env = dict(os.environ, DRIFTLINE_API_KEY=KEY, COLUMNS="160")
    cli = subprocess.run(
        [DRIFTLINE, "versions", "compare", "credit", "v1", "v2", "--url", server.url],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert cli.returncode == 1, cli.stderr  # worse: a deploy script stops here
    assert "verdict: worse" in cli.stdout and "paired (shadow, same requests)" in cli.stdout


SERVING = """
import sys
from driftline.sdk import Monitor
from driftline.sdk.http_sink import HTTPSink
mon = Monitor("credit", "v1", HTTPSink(sys.argv[1], sys.argv[2]), flush_interval=0.05)
with mon.observe({"x": 1.0}) as obs:
    obs.record(prediction=1)
assert mon.flush(timeout=30)
mon.close()
"""


@pytest.mark.slow
def test_a_serving_numpy_other_than_the_registered_one_shows_in_the_diff(
    server: Server, tmp_path: Path
) -> None:
    import numpy as np

    env = dict(os.environ, DRIFTLINE_API_KEY=KEY)
    reg = subprocess.run(
        [
            DRIFTLINE,
            "register",
            "credit",
            "v1",
            "--url",
            server.url,
            "--hyperparameters",
            '{"depth": 4}',
            "--packages",
            "numpy,scipy",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert reg.returncode == 0, reg.stderr
    assert "registered the training side of credit v1: Python" in reg.stdout
    # the serving process sees numpy 99.0.0 first on its path (an upgraded environment)
    site = tmp_path / "site" / "numpy-99.0.0.dist-info"
    site.mkdir(parents=True)
    (site / "METADATA").write_text("Metadata-Version: 2.1\nName: numpy\nVersion: 99.0.0\n")
    path = [str(site.parent), *filter(None, [os.environ.get("PYTHONPATH")])]
    serving_env = dict(os.environ, PYTHONPATH=os.pathsep.join(path))
    subprocess.run(
        [sys.executable, "-c", SERVING, server.url, KEY], env=serving_env, check=True, timeout=120
    )
    got = _get(server, "/v1/models/credit/versions/v1/environment").json()
    assert got["training"]["metadata"]["hyperparameters"] == {"depth": 4}
    assert got["diff"]["packages"]["changed"] == {
        "numpy": {"a": np.__version__, "b": "99.0.0", "change": "major"}
    }  # only the packages the model uses are compared
    assert got["diff"]["packages"]["major"] == ["numpy"]

    bad = subprocess.run(
        [DRIFTLINE, "register", "credit", "v1", "--url", server.url, "--metrics", "{auc: 1}"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert bad.returncode == 2 and "--metrics is not valid JSON" in bad.stderr
