"""Scopes, sessions and cross-site request protection, driven in-process (no browser)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from driftline.server.dashboard.security import COOKIE

from .conftest import BASE, Env, client, make_env


@pytest.fixture
async def bare(tmp_path: Path) -> AsyncIterator[Env]:
    env = make_env(tmp_path)  # keys and an alert engine, no traffic: these tests need none
    yield env
    env.store.close()


async def sign_in(c: httpx.AsyncClient, key: str) -> None:
    r = await c.post("/ui/login", data={"key": key, "next": "/ui/alerts"}, headers={"Origin": BASE})
    assert r.status_code == 303 and r.headers["location"] == "/ui/alerts"


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert m, "no form token on the page"
    return m.group(1)


async def test_pages_need_the_read_scope(bare: Env) -> None:
    async with client(bare) as c:
        r = await c.get("/ui/alerts?range=24h")
        assert r.status_code == 303
        assert r.headers["location"] == "/ui/login?next=%2Fui%2Falerts%3Frange%3D24h"
        assert (await c.get("/ui/", headers=bare.auth("ingest"))).status_code == 403
        assert (
            await c.get("/ui/", headers={"Authorization": "Bearer dl_wrong"})
        ).status_code == 303
        r = await c.get("/ui/", headers=bare.auth("read"))
        assert r.status_code == 200 and "Models" in r.text
        assert (await c.get("/", follow_redirects=False)).headers["location"] == "/ui/"


async def test_session_cookie_holds_no_key_and_dies_with_the_key(bare: Env) -> None:
    async with client(bare) as c:
        await sign_in(c, bare.keys["read"])
        cookie = c.cookies[COOKIE]
        assert bare.keys["read"] not in cookie
        assert (await c.get("/ui/alerts")).status_code == 200
        kid = cookie.split(".")[0]
        assert bare.store.revoke_key(kid, bare.clock.time())
        assert (await c.get("/ui/alerts")).status_code == 303  # revoked: signed out at once


async def test_login_refuses_bad_keys_and_cross_site_posts(bare: Env) -> None:
    async with client(bare) as c:
        r = await c.post("/ui/login", data={"key": "dl_nope"}, headers={"Origin": BASE})
        assert r.status_code == 401 and "not valid" in r.text
        r = await c.post(
            "/ui/login", data={"key": bare.keys["admin"]}, headers={"Origin": "http://evil.test"}
        )
        assert r.status_code == 403 and COOKIE not in c.cookies
        r = await c.get("/ui/login?next=//evil.test/x")
        assert 'value="/ui/"' in r.text  # no open redirect after sign-in


async def test_actions_need_admin_same_origin_and_a_session_bound_token(bare: Env) -> None:
    silence = bare.engine.add_silence(
        {"alertname": "feature_drift"}, created_by="t", comment="c", duration=3600
    )
    url = f"/ui/silences/{silence.id}/expire"
    async with client(bare) as reader, client(bare) as admin, client(bare) as other:
        await sign_in(reader, bare.keys["read"])
        token = csrf_of((await reader.get("/ui/alerts")).text)
        r = await reader.post(url, data={"csrf": token}, headers={"Origin": BASE})
        assert r.status_code == 403 and "admin" in r.text

        await sign_in(admin, bare.keys["admin"])
        await sign_in(other, bare.keys["admin"])
        token = csrf_of((await admin.get("/ui/alerts")).text)
        assert (await admin.post(url, data={}, headers={"Origin": BASE})).status_code == 403
        r = await admin.post(url, data={"csrf": token}, headers={"Origin": "http://evil.test"})
        assert r.status_code == 403 and "cross-site" in r.text
        assert (await admin.post(url, data={"csrf": token})).status_code == 403  # no Origin
        r = await other.post(url, data={"csrf": token}, headers={"Origin": BASE})
        assert r.status_code == 403  # a token of another session
        assert bare.engine.store.silences()[0].expired_by is None

        r = await admin.post(
            url, data={"csrf": token, "next": "/ui/alerts"}, headers={"Origin": BASE}
        )
        assert r.status_code == 303 and r.headers["location"] == "/ui/alerts"
        assert bare.engine.store.silences()[0].expired_by == "admin-user"


async def test_bearer_key_clients_use_a_key_bound_token(bare: Env) -> None:
    silence = bare.engine.add_silence({"model": "m"}, created_by="t", comment="c", duration=60)
    async with client(bare) as c:
        token = csrf_of((await c.get("/ui/alerts", headers=bare.auth("admin"))).text)
        r = await c.post(
            f"/ui/silences/{silence.id}/expire", data={"csrf": token}, headers=bare.auth("admin")
        )
        assert r.status_code == 303


async def test_plotly_is_served_locally(bare: Env) -> None:
    async with client(bare) as c:
        html = (await c.get("/ui/models/none", headers=bare.auth("read"))).text
        assert "cdn" not in html.lower()
        r = await c.get("/ui/static/plotly.min.js")
        assert r.status_code == 200 and len(r.content) > 1_000_000
        assert "immutable" in r.headers["cache-control"]
        assert (await c.get("/ui/static/../app.py")).status_code == 404


def test_docs_examples_run() -> None:
    text = (Path(__file__).parents[2] / "docs" / "dashboard.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks
    Path("/tmp/driftline-docs").mkdir(exist_ok=True)
    for code in blocks:
        exec(compile(code, "docs/dashboard.md", "exec"), {})


async def test_a_project_key_sees_only_its_project(bare: Env) -> None:
    """A key of project "team-b" sees team-b's model, its alerts and job runs, nothing else;
    the default project's keys do not see team-b's model (404 either way, no leak)."""
    from driftline.alerts.points import MetricPoint
    from driftline.server.auth import Principal, create_key

    b_read, _ = create_key(bare.store, bare.clock, name="b-read", scopes=("read",), project="b")
    b_admin, _ = create_key(bare.store, bare.clock, name="b-admin", scopes=("admin",), project="b")
    t = bare.clock.time()
    bare.collector.check_models(["ours"], None, claim=True)  # the default project's model
    bare.collector.check_models(["theirs"], Principal("k", "b", "b", ("ingest",)), claim=True)
    for model in ("ours", "theirs"):
        bare.store.ensure_version(model, "v1", t)
    ws = (t // 300) * 300 - 600
    for w in (ws, ws + 300):  # two windows in a row: the rule's "for: 2"
        bare.engine.ingest(
            MetricPoint(m, "v1", "*", "drift_detected", "x", w, w + 300, 1.0)
            for m in ("ours", "theirs")
        )
    fired = {a.labels["model"]: a for a in bare.engine.alerts()}
    assert set(fired) == {"ours", "theirs"}, fired
    own = {"Authorization": f"Bearer {b_read}"}
    b_act = {"Authorization": f"Bearer {b_admin}"}
    async with client(bare) as c:
        overview = (await c.get("/ui/?range=24h", headers=own)).text
        assert 'data-model="theirs"' in overview and 'data-model="ours"' not in overview
        assert (await c.get("/ui/models/theirs", headers=own)).status_code == 200
        assert (await c.get("/ui/models/ours", headers=own)).status_code == 404
        assert (await c.get("/ui/models/ours/columns/x", headers=own)).status_code == 404
        alerts = (await c.get("/ui/alerts?range=24h", headers=own)).text
        assert fired["theirs"].fingerprint in alerts and fired["ours"].fingerprint not in alerts
        r = await c.get(f"/ui/alerts/{fired['ours'].fingerprint}", headers=own)
        assert r.status_code == 404
        # an admin of project b cannot act on the default project's alert either
        token = csrf_of((await c.get("/ui/alerts", headers=b_act)).text)
        r = await c.post(
            f"/ui/alerts/{fired['ours'].fingerprint}/ack", data={"csrf": token}, headers=b_act
        )
        assert r.status_code == 422 and not bare.engine.alert(fired["ours"].fingerprint).acked_by
        r = await c.post(
            f"/ui/alerts/{fired['theirs'].fingerprint}/ack", data={"csrf": token}, headers=b_act
        )
        assert r.status_code == 303

        overview = (await c.get("/ui/?range=24h", headers=bare.auth("read"))).text
        assert 'data-model="ours"' in overview and 'data-model="theirs"' not in overview
        r = await c.get("/ui/models/theirs", headers=bare.auth("read"))
        assert r.status_code == 404
        overview = (await c.get("/ui/?range=24h", headers=bare.auth("admin"))).text
        assert 'data-model="ours"' in overview and 'data-model="theirs"' in overview
