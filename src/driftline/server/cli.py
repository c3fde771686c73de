"""``driftline serve``, ``driftline migrate``, ``driftline keys create|list|revoke``.

Registered in driftline/cli.py with ``app.command()(serve)``,
``app.command()(migrate)`` and ``app.add_typer(keys_app, name="keys")``.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any

import typer

from driftline._utils.clock import SystemClock
from driftline.errors import DriftlineError

keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)

StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store",
        envvar="DRIFTLINE_STORE_URL",
        help="sqlite:///PATH or postgresql://USER@HOST:PORT/DB (default: .driftline/driftline.db)",
    ),
]


def _fail(exc: Exception) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(2)


def serve(
    store: StoreOpt = None,
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default 127.0.0.1).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (default 8080).")] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="driftline.yaml: the collector: and alerts: sections (docs/collector.md).",
        ),
    ] = None,
) -> None:
    """Run the collector: ingest API, evaluation, alerts, /metrics, the dashboard."""
    import uvicorn

    from driftline.server.app import create_app
    from driftline.server.auth import bootstrap_admin_key
    from driftline.server.settings import Settings
    from driftline.store import open_store

    flags: dict[str, Any] = {"store_url": store, "host": host, "port": port}
    try:
        if config is not None:
            from driftline.server.config import load_serve_config

            cfg = load_serve_config(config)
            settings = cfg.settings(**flags)
            alerts = cfg.alerts_for(settings)
        else:
            settings = Settings.from_env(**{k: v for k, v in flags.items() if v is not None})
            alerts = None
        st = open_store(settings.store_url)
        clock = SystemClock()
        app = create_app(settings, st, clock, alerts=alerts)
    except DriftlineError as exc:
        raise _fail(exc) from exc
    boot = bootstrap_admin_key(st, clock)
    if boot is not None and boot[1]:
        # Printed once, to the terminal only; never logged.
        sys.stdout.write(
            "driftline: created the first admin API key (shown only now, store it safely):\n"
            f"  {boot[0]}\n"
        )
    if alerts is not None:
        engine = app.state.collector.alerts.engine
        receivers = ", ".join(r.name for r in alerts.receivers)
        sys.stdout.write(
            f"driftline: alerting with {len(engine.rules)} rules; receivers: {receivers}\n"
        )
    sys.stdout.flush()
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning", access_log=False)


def migrate(store: StoreOpt = None) -> None:
    """Create or upgrade the store's tables."""
    from driftline.store import open_store, redact_url

    try:
        open_store(store)
    except DriftlineError as exc:
        raise _fail(exc) from exc
    typer.echo(f"migrated {redact_url(store or 'sqlite:///.driftline/driftline.db')}")


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="Who or what uses the key.")],
    scopes: Annotated[str, typer.Option(help="Comma-separated: ingest, read, admin.")] = "ingest",
    project: Annotated[str, typer.Option(help="Project the key belongs to.")] = "default",
    store: StoreOpt = None,
) -> None:
    """Create a key and print it once."""
    from driftline.server.auth import create_key, parse_scopes
    from driftline.store import open_store

    try:
        parsed = parse_scopes(scopes)
        key, kid = create_key(
            open_store(store), SystemClock(), name=name, scopes=parsed, project=project
        )
    except DriftlineError as exc:
        raise _fail(exc) from exc
    typer.echo(f"key id {kid} ({','.join(parsed)}); the key, shown only now:")
    typer.echo(key)


@keys_app.command("list")
def keys_list(store: StoreOpt = None) -> None:
    """List keys (ids, names, scopes; never the keys)."""
    from driftline.store import open_store

    for k in open_store(store).api_keys():
        state = "revoked" if k["revoked_at"] else "active"
        made = datetime.fromtimestamp(k["created_at"], tz=timezone.utc).isoformat(
            timespec="seconds"
        )
        typer.echo(
            f"{k['key_id']}  {state:7}  {k['scopes']:18}  {k['project']:10}  {made}  {k['name']}"
        )


@keys_app.command("revoke")
def keys_revoke(key_id: str, store: StoreOpt = None) -> None:
    """Revoke a key by its id (effective within the key cache time, 5 s by default)."""
    from driftline.store import open_store

    st = open_store(store)
    if not st.revoke_key(key_id, time.time()):
        typer.echo(f"error: no active key with id {key_id!r}", err=True)
        raise typer.Exit(1)
    st.audit("cli", "key.revoke", key_id, "{}", time.time())
    typer.echo(f"revoked {key_id}")


def main() -> None:
    """Entry point of ``python -m driftline.server`` (serve, migrate, keys)."""
    app = typer.Typer(no_args_is_help=True)
    app.command()(serve)
    app.command()(migrate)
    app.add_typer(keys_app, name="keys")
    app()
