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

from .conftest import T0, Env, prediction


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


@pytest.fixture
def projects(env: Env) -> dict[str, dict[str, str]]:
    """Keys of two projects, red and blue: ``{project: {scope: key}}``."""
    from driftline.server.auth import create_key

    return {
        p: {
            s: create_key(env.store, env.clock, name=f"{p}-{s}", scopes=(s,), project=p)[0]
            for s in ("ingest", "read", "admin")
        }
        for p in ("red", "blue")
    }


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_a_project_key_reaches_only_its_projects_models(
    env: Env, projects: dict[str, dict[str, str]]
) -> None:
    red, blue = projects["red"], projects["blue"]
    c = env.client
    # red's ingest key creates model "rm" in project red
    events = [prediction(i, model="rm") for i in range(20)]
    r = await c.post("/v1/events", json=events, headers=bearer(red["ingest"]))
    assert r.status_code == 200 and r.json()["accepted"] == 20
    # blue can neither write rm's predictions nor its labels: 403, nothing stored
    more = [prediction(100 + i, model="rm") for i in range(5)]
    r = await c.post("/v1/events", json=more, headers=bearer(blue["ingest"]))
    assert r.status_code == 403 and "rm" in r.json()["detail"]
    label = {"event_id": "l1", "prediction_id": "p1", "timestamp": T0, "model": "rm", "label": 1}
    r = await c.post("/v1/labels", json=[label], headers=bearer(blue["ingest"]))
    assert r.status_code == 403
    # a batch that mixes its own model with red's is refused as a whole
    mixed = [prediction(200, model="bm"), prediction(201, model="rm")]
    r = await c.post("/v1/events", json=mixed, headers=bearer(blue["ingest"]))
    assert r.status_code == 403
    assert env.store.model_projects(["rm", "bm"]) == {"rm": "red"}  # a refusal creates nothing
    counts = {m["model"]: m["versions"][0]["events"] for m in env.store.models()}
    assert counts["rm"] == 20 and "bm" not in counts
    # blue's reads: rm is not listed, and asking for it directly is 403
    r = await c.get("/v1/models", headers=bearer(blue["read"]))
    assert "rm" not in [m["model"] for m in r.json()]
    for path, params in (
        ("/v1/models/rm/versions/v1", {}),
        ("/v1/models/rm/diff", {"a": "v1", "b": "v2"}),
        ("/v1/metrics", {"model": "rm"}),
        ("/v1/events/sample", {"model": "rm"}),
    ):
        r = await c.get(path, params=params, headers=bearer(blue["read"]))
        assert r.status_code == 403, path
    # blue's admin key cannot change rm either, nor flush (it spans projects)
    r = await c.put(
        "/v1/models/rm/versions/v1/metadata", json={"owner": "x"}, headers=bearer(blue["admin"])
    )
    assert r.status_code == 403
    r = await c.put(
        "/v1/models/rm/versions/v1/reference", content=b"x,c\n1,a\n", headers=bearer(blue["admin"])
    )
    assert r.status_code == 403
    r = await c.post("/v1/admin/flush", headers=bearer(blue["admin"]))
    assert r.status_code == 403
    # red reads its model; the default project's admin key reaches every project
    r = await c.get("/v1/models/rm/versions/v1", headers=bearer(red["read"]))
    assert r.status_code == 200
    r = await c.get("/v1/models", headers=env.auth("admin"))
    assert {m["model"]: m["project"] for m in r.json()} == {"rm": "red"}
    env.clock.advance(400)
    assert (await c.post("/v1/admin/flush", headers=env.auth("admin"))).status_code == 200
    r = await c.get("/v1/metrics", params={"metric": "events"}, headers=bearer(blue["read"]))
    assert r.status_code == 200 and r.json() == []
    r = await c.get("/v1/metrics", params={"metric": "events"}, headers=bearer(red["read"]))
    assert {p["model"] for p in r.json()} == {"rm"}
    # Prometheus: a project's key gets the results of its own models only
    series = 'driftline_window_events{model="rm"'
    assert series not in (await c.get("/metrics", headers=bearer(blue["read"]))).text
    assert series in (await c.get("/metrics", headers=bearer(red["read"]))).text


async def test_job_runs_are_per_project(env: Env, projects: dict[str, dict[str, str]]) -> None:
    run = {
        "job": "etl",
        "run_id": "r1",
        "started_at": T0,
        "finished_at": T0 + 5,
        "status": "ok",
    }
    r = await env.client.post("/v1/jobs", json=[run], headers=bearer(projects["red"]["ingest"]))
    assert r.status_code == 200
    r = await env.client.post(
        "/v1/jobs", json=[{**run, "status": "failed"}], headers=bearer(projects["blue"]["ingest"])
    )
    assert r.status_code == 409  # a conflict, answered as one; red's run is left alone
    assert r.json()["rejected"][0]["field"] == "run_id"
    red = await env.client.get("/v1/jobs", headers=bearer(projects["red"]["read"]))
    assert [j["status"] for j in red.json()] == ["ok"]
    blue = await env.client.get("/v1/jobs", headers=bearer(projects["blue"]["read"]))
    assert blue.json() == []
