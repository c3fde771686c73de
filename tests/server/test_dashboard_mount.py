"""`driftline serve`'s app carries the dashboard: pages behind a sign-in, Plotly served locally."""

from __future__ import annotations

from .conftest import Env


async def test_the_collector_serves_the_dashboard(env: Env) -> None:
    home = await env.client.get("/")
    assert home.status_code == 307 and home.headers["location"] == "/ui/"
    ui = await env.client.get("/ui/")
    assert ui.status_code == 303 and "/ui/login" in ui.headers["location"]
    assert all(not p.startswith("/ui") for p in env.app.openapi()["paths"])
