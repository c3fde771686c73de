"""API keys: scopes, 401/403 without leaks, hashed at rest, bootstrap, CLI, revocation."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

from driftline.sdk.clock import ManualClock
from driftline.server.auth import bootstrap_admin_key
from driftline.server.cli import keys_app
from driftline.store import open_store

from .conftest import Env, prediction


@pytest.mark.parametrize(
    ("method", "path", "scope", "status"),
    [
        ("post", "/v1/events", None, 401),
        ("post", "/v1/events", "read", 403),
        ("get", "/v1/models", "ingest", 403),
        ("get", "/v1/metrics", None, 401),
        ("post", "/v1/admin/flush", "read", 403),
        ("put", "/v1/models/m/versions/v1/metadata", "ingest", 403),
        ("get", "/metrics", None, 401),
        ("get", "/v1/models", "read", 200),
        ("post", "/v1/events", "admin", 200),
    ],
    ids=lambda v: str(v),
)
async def test_every_route_checks_its_scope(
    env: Env, method: str, path: str, scope: str | None, status: int
) -> None:
    headers = env.auth(scope) if scope else {}
    kwargs = {"json": [prediction(1)]} if method == "post" else {}
    if method == "put":
        kwargs = {"json": {"owner": "x"}}
    r = await env.client.request(method.upper(), path, headers=headers, **kwargs)
    assert r.status_code == status
    if status == 401:
        assert r.json() == {"detail": "missing or invalid API key"}
        assert r.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "header",
    ["Bearer nope-nope-nope-nope", "Basic abc", "Bearer ", "bearer", "Bearer " + "x" * 400],
)
async def test_bad_keys_get_401_without_detail(env: Env, header: str) -> None:
    r = await env.client.get("/v1/models", headers={"Authorization": header})
    assert r.status_code == 401
    assert r.json() == {"detail": "missing or invalid API key"}


async def test_revoked_key_stops_working_within_the_cache_time(env: Env) -> None:
    h = env.auth("read")
    assert (await env.client.get("/v1/models", headers=h)).status_code == 200
    (kid,) = [k["key_id"] for k in env.store.api_keys() if k["name"] == "read"]
    assert env.store.revoke_key(kid, env.clock.time())
    env.clock.advance(env.collector.settings.key_cache_seconds + 0.1)
    assert (await env.client.get("/v1/models", headers=h)).status_code == 401


async def test_keys_are_hashed_at_rest_and_never_logged(
    env: Env, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await env.client.post("/v1/events", json=[prediction(1)], headers=env.auth("ingest"))
    await env.client.get("/v1/models", headers={"Authorization": "Bearer wrong-key-123456"})
    env.collector.tick(force_flush=True)
    env.store.close()
    blob = b"".join(p.read_bytes() for p in tmp_path.glob("c.db*"))
    for key in env.keys.values():
        assert key.encode() not in blob
        assert key not in caplog.text
    assert "wrong-key-123456" not in caplog.text


def test_bootstrap_key_from_the_environment_or_generated_once(tmp_path: Path) -> None:
    clock = ManualClock()
    store = open_store(f"sqlite:///{tmp_path}/a.db")
    given = "my-bootstrap-key-0123456789"
    assert bootstrap_admin_key(store, clock, {"DRIFTLINE_BOOTSTRAP_KEY": given}) == (given, False)
    assert bootstrap_admin_key(store, clock, {}) is None  # only a fresh store gets one
    (row,) = store.api_keys()
    assert row["scopes"] == "admin"
    other = open_store(f"sqlite:///{tmp_path}/b.db")
    got = bootstrap_admin_key(other, clock, {})
    assert got is not None and got[1] is True and got[0].startswith("dl_")
    assert bootstrap_admin_key(other, clock, {}) is None


def test_cli_keys_create_list_revoke(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/k.db"
    runner = CliRunner()
    r = runner.invoke(
        keys_app, ["create", "--name", "svc", "--scopes", "ingest,read", "--store", url]
    )
    assert r.exit_code == 0, r.output
    key = r.output.strip().splitlines()[-1]
    kid = r.output.split()[2]
    listed = runner.invoke(keys_app, ["list", "--store", url])
    assert kid in listed.output and "ingest,read" in listed.output and key not in listed.output
    bad = runner.invoke(keys_app, ["create", "--name", "x", "--scopes", "root", "--store", url])
    assert bad.exit_code == 2 and "allowed" in bad.output
    assert runner.invoke(keys_app, ["revoke", kid, "--store", url]).exit_code == 0
    assert runner.invoke(keys_app, ["revoke", kid, "--store", url]).exit_code == 1
    assert "revoked" in runner.invoke(keys_app, ["list", "--store", url]).output
