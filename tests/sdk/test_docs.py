"""Every Python example in docs/sdk.md runs, against a real local receiver.

The same subprocess first checks that importing ``driftline.sdk`` does not
import FastAPI, Starlette or uvicorn (only the integration module may).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

from .conftest import Receiver

DOC = Path(__file__).resolve().parents[2] / "docs" / "sdk.md"

RUNNER = textwrap.dedent(
    """
    import asyncio, json, sys

    import driftline.sdk, driftline.sdk.multiprocess
    web = [m for m in ("fastapi", "starlette", "uvicorn") if m in sys.modules]
    assert not web, f"importing driftline.sdk imported {web}"
    print("import check ok", flush=True)

    import httpx

    blocks = json.load(open(sys.argv[1]))
    for i, source in enumerate(blocks):
        namespace = {"__name__": f"doc_block_{i}"}
        exec(compile(source, f"docs/sdk.md block {i}", "exec"), namespace)
        if "instrument(app" in source:
            async def check(app=namespace["app"]):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                    r = await c.post("/predict", json={"income": 50000},
                                     headers={"X-Request-ID": "doc-req-1"})
                    assert r.json() == {"label": "approve", "prediction_id": "doc-req-1"}, r.text
                    assert r.headers["x-request-id"] == "doc-req-1"
                    m = await c.get("/metrics")
                    assert "driftline_http_requests_total" in m.text
            asyncio.run(check())
            namespace["mon"].close()
        print(f"block {i} ok", flush=True)
    """
)


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)


def test_every_python_example_in_the_docs_runs(receiver: Receiver, tmp_path: Path) -> None:
    blocks = [
        b.replace("http://127.0.0.1:8080", receiver.url).replace(
            "/tmp/driftline-docs", str(tmp_path)
        )
        for b in python_blocks()
    ]
    assert len(blocks) >= 8
    (tmp_path / "blocks.json").write_text(json.dumps(blocks))
    (tmp_path / "runner.py").write_text(RUNNER)
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    result = subprocess.run(
        [sys.executable, str(tmp_path / "runner.py"), str(tmp_path / "blocks.json")],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(" ok") == len(blocks) + 1  # + the import check
    # the collector examples really delivered
    assert receiver.accepted("/v1/events")
    assert receiver.accepted("/v1/labels") and receiver.accepted("/v1/feedback")
    assert (tmp_path / "events.jsonl").exists()
