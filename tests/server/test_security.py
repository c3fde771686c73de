"""Issue 13, item 7: sessions end at sign-out, sign-ins are throttled, weak bootstrap keys are
refused, the API document needs a key, /readyz sees a full disk, and category values cannot
break the dashboard's scripts."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from driftline.errors import ConfigError
from driftline.sdk.clock import ManualClock
from driftline.server import Settings, create_app
from driftline.server.auth import bootstrap_admin_key, create_key
from driftline.store import open_store
from support import free_port

from .conftest import T0, Env, prediction

ORIGIN = {"Origin": "http://collector"}


async def _sign_in(env: Env, key: str) -> httpx.Response:
    r = await env.client.post(
        "/ui/login", data={"key": key, "next": "/ui/"}, headers=ORIGIN, follow_redirects=False
    )
    env.client.cookies.clear()  # each test sends the cookie it means to, explicitly
    return r


def _cookie(r: httpx.Response) -> dict[str, str]:
    return {"Cookie": f"driftline_session={r.cookies['driftline_session']}"}


async def test_signing_out_ends_the_session_on_the_server(env: Env) -> None:
    r = await _sign_in(env, env.keys["read"])
    assert r.status_code == 303
    jar = _cookie(r)
    page = await env.client.get("/ui/", headers=jar)
    assert page.status_code == 200
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token is not None
    out = await env.client.post(
        "/ui/logout", data={"csrf": token.group(1)}, headers={**jar, **ORIGIN}
    )
    assert out.status_code == 303
    # the old cookie, replayed (as someone who copied it would), no longer works
    env.client.cookies.clear()
    again = await env.client.get("/ui/", headers=jar, follow_redirects=False)
    assert again.status_code == 303 and "/ui/login" in again.headers["location"]
    # and a second dashboard over the same store (another replica) refuses it too
    other = create_app(Settings(), env.store, env.clock, background=False)
    transport = httpx.ASGITransport(app=other)
    async with httpx.AsyncClient(transport=transport, base_url="http://collector") as c2:
        r2 = await c2.get("/ui/", headers=jar, follow_redirects=False)
    assert r2.status_code == 303


async def test_failed_sign_ins_are_throttled_per_client(env: Env) -> None:
    limit = env.collector.settings.login_attempts_per_minute
    codes = [(await _sign_in(env, f"wrong-key-{i:08d}")).status_code for i in range(limit + 3)]
    assert codes == [401] * limit + [429] * 3
    r = await _sign_in(env, env.keys["read"])  # even the right key waits: no oracle
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert "login_attempts_per_minute" in r.text
    registry = env.collector.metrics.registry
    labels = {"limit": "login_attempts_per_minute"}
    assert registry.get_sample_value("driftline_limit_rejects_total", labels) == 4
    env.clock.advance(61)  # the dashboard's clock is the wall clock: this does not reset it
    env.app.state.dashboard.access._failures.clear()  # a minute later, as far as it knows
    assert (await _sign_in(env, env.keys["read"])).status_code == 303


@pytest.mark.parametrize(
    ("key", "says"),
    [
        ("aaaaaaaaaaaaaaaa", "too predictable"),
        ("abababababababababababab", "too predictable"),
        ("short-key", "9 characters; at least 16"),
    ],
)
def test_a_weak_bootstrap_key_is_refused_with_a_clear_error(
    tmp_path: Path, key: str, says: str
) -> None:
    store = open_store(f"sqlite:///{tmp_path}/a.db")
    with pytest.raises(ConfigError, match=says) as err:
        bootstrap_admin_key(store, ManualClock(T0), {"DRIFTLINE_BOOTSTRAP_KEY": key})
    assert key not in str(err.value)  # the key itself never reaches a message
    assert store.api_keys() == []


def test_serve_with_a_short_bootstrap_key_exits_2_with_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "DRIFTLINE_BOOTSTRAP_KEY": "short"}
    cmd = [sys.executable, "-m", "driftline.server", "serve"]
    cmd += ["--store", f"sqlite:///{tmp_path}/s.db", "--port", str(free_port())]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        "error: DRIFTLINE_BOOTSTRAP_KEY has 5 characters; at least 16 random ones are needed "
        "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')"
    ]


async def test_the_api_document_and_docs_need_a_read_key(env: Env) -> None:
    for path in ("/openapi.json", "/docs"):
        assert (await env.client.get(path)).status_code == 401
        assert (await env.client.get(path, headers=env.auth("ingest"))).status_code == 403
        assert (await env.client.get(path, headers=env.auth("read"))).status_code == 200
    doc = (await env.client.get("/openapi.json", headers=env.auth("read"))).json()
    assert "/v1/events" in doc["paths"]
    # a dashboard session reaches them too (the browser opening /docs)
    jar = _cookie(await _sign_in(env, env.keys["read"]))
    assert (await env.client.get("/docs", headers=jar)).status_code == 200


async def test_readyz_is_not_ready_when_the_disk_is_full(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    store = open_store(f"sqlite:///{tmp_path}/c.db")
    key, _ = create_key(store, clock, name="i", scopes=("ingest",))
    app = create_app(Settings(), store, clock, background=False, dashboard=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://c") as client:
        assert (await client.get("/readyz")).json() == {"status": "ready"}

        # SQLite's page limit: writes fail as on a full disk ("database or disk is full")
        def full(dbapi_conn: Any, _: object) -> None:
            pages = dbapi_conn.execute("PRAGMA page_count").fetchone()[0]
            dbapi_conn.execute(f"PRAGMA max_page_count = {pages}")

        for engine in (store.engine, store._ingest):  # type: ignore[attr-defined]
            event.listen(engine, "connect", full)
            engine.dispose()
        batch = [prediction(i, features={"x": "y" * 5000}) for i in range(200)]
        r = await client.post("/v1/events", json=batch, headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 503  # nothing acknowledged; the SDK retries
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["status"] == "store not writable"
        assert "disk is full" in ready.json()["reason"]
    # below the free-space margin, /readyz says so before any write fails
    app2 = create_app(Settings(min_free_disk_bytes=2**62), store, clock, background=False)
    transport = httpx.ASGITransport(app=app2)
    async with httpx.AsyncClient(transport=transport, base_url="http://c") as client:
        r = await client.get("/readyz")
        assert r.status_code == 503 and "min_free_disk_bytes" in r.json()["reason"]
    store.close()


async def test_a_category_value_cannot_break_the_column_pages_scripts(env: Env) -> None:
    import pyarrow as pa

    import driftline

    evil = "<!--<script>"
    values = [evil, "</script><b>x", "ok"]
    ref = driftline.profile(pa.table({"x": [float(i) for i in range(30)], "c": values * 10}))
    r = await env.client.put(
        "/v1/models/m/versions/v1/reference", content=ref.to_bytes(), headers=env.auth("admin")
    )
    assert r.status_code == 200, r.text
    batch = [prediction(i, features={"c": [evil, "</script><b>x", "ok"][i % 3]}) for i in range(30)]
    r = await env.client.post("/v1/events", json=batch, headers=env.auth("ingest"))
    assert r.json()["accepted"] == 30
    env.clock.advance(600)
    env.collector.tick()
    page = await env.client.get("/ui/models/m/columns/c", headers=env.auth("read"))
    assert page.status_code == 200
    blocks = re.findall(r'<script type="application/json"[^>]*>(.*?)</script>', page.text, re.S)
    assert blocks, "the column page has its charts as JSON"
    text = json.dumps([json.loads(b) for b in blocks])  # each block parses on its own
    assert evil in json.loads(json.dumps(text))
    for b in blocks:
        assert "<" not in b and ">" not in b  # nothing the HTML parser can act on
