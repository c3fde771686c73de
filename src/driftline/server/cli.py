"""``driftline serve``, ``driftline migrate``, ``driftline keys create|list|revoke``.

Registered in driftline/cli.py with ``app.command()(serve)``,
``app.command()(migrate)`` and ``app.add_typer(keys_app, name="keys")``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import socket
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from driftline._utils.cli import typer_app
from driftline._utils.clock import SystemClock
from driftline.errors import ConfigError, DriftlineError
from driftline.server.workers import worker_replica

if TYPE_CHECKING:
    from driftline.alerts import AlertsConfig
    from driftline.server.config import StreamSection
    from driftline.server.settings import Settings

keys_app = typer_app(help="Create, list and revoke API keys.", no_args_is_help=True)

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


LOG_LEVELS = ("debug", "info", "warning", "error")


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
    log_level: Annotated[
        str,
        typer.Option(
            "--log-level",
            envvar="DRIFTLINE_LOG_LEVEL",
            help="debug, info, warning or error (to stderr).",
        ),
    ] = "warning",
    access_log: Annotated[
        bool, typer.Option("--access-log/--no-access-log", help="Log every HTTP request.")
    ] = False,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            help="Collector processes sharing the port (default 1; one per core for "
            "ingest-heavy deployments).",
        ),
    ] = None,
    listen_fd: Annotated[int | None, typer.Option("--listen-fd", hidden=True)] = None,
    worker: Annotated[int, typer.Option("--worker", hidden=True)] = 0,
) -> None:
    """Run the collector: ingest API, evaluation, alerts, /metrics, the dashboard."""
    # --listen-fd and --worker (hidden) are how a --workers supervisor starts its workers
    # (server/workers.py): serve on that inherited socket, as worker number `worker`.
    level = log_level.lower()
    if level not in LOG_LEVELS:
        typer.echo(
            f"error: --log-level {log_level!r} is not allowed; allowed: {', '.join(LOG_LEVELS)}",
            err=True,
        )
        raise typer.Exit(2)
    # without the server extra: one line naming it (driftline.__main__)
    import uvicorn

    from driftline.server.app import create_app
    from driftline.server.auth import bootstrap_admin_key
    from driftline.server.settings import Settings
    from driftline.store import open_store, redact_url

    flags: dict[str, Any] = {"store_url": store, "host": host, "port": port, "workers": workers}
    try:
        if config is not None:
            from driftline.server.config import load_serve_config

            cfg = load_serve_config(config)
            settings = cfg.settings(**flags)
            alerts = cfg.alerts_for(settings)
            stream = cfg.stream
        else:
            settings = Settings.from_env(**{k: v for k, v in flags.items() if v is not None})
            alerts = stream = None
    except DriftlineError as exc:
        raise _fail(exc) from exc
    if listen_fd is not None:
        _serve_worker(settings, alerts, stream, listen_fd, worker, level, access_log)
        return
    # Listen first: a busy port fails here, before anything is written or a key minted.
    try:
        sock = listen(settings.host, settings.port)
    except DriftlineError as exc:
        raise _fail(exc) from exc
    try:
        st = open_store(settings.store_url)  # migrated once, before any worker starts
        clock = SystemClock()
        # with workers: built to check the configuration once here (notifier secrets, ...)
        app = create_app(settings, st, clock, alerts=alerts, stream=stream)
    except DriftlineError as exc:
        sock.close()
        raise _fail(exc) from exc
    try:
        boot = bootstrap_admin_key(st, clock)
    except DriftlineError as exc:  # a weak DRIFTLINE_BOOTSTRAP_KEY: one line, exit 2
        raise _fail(exc) from exc
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
    url = _url(settings.host, sock.getsockname()[1])
    store_url = redact_url(settings.store_url or "sqlite:///.driftline/driftline.db")
    sys.stdout.write(
        f"driftline: collector listening on {url}\n"
        f"  dashboard  {url}/ui   (sign in with an API key that has the read scope)\n"
        f"  ingest     {url}/v1/events   metrics {url}/metrics   health {url}/readyz\n"
        f"  store      {store_url}\n"
        f"  logs       {level} and above to stderr, access log "
        f"{'on' if access_log else 'off'} (--log-level, --access-log); Ctrl-C stops\n"
    )
    if settings.workers > 1:
        st.close()
        del app
        base = settings.replica or f"replica-{uuid.uuid4().hex[:12]}"
        sys.stdout.write(
            f"  workers    {settings.workers} processes on this port (replicas "
            f"{worker_replica(base, 1)} to {worker_replica(base, settings.workers)}; "
            "--workers)\n"
        )
        sys.stdout.flush()
        code = _supervise(settings, config, base, sock, level, access_log)
        sock.close()
        raise typer.Exit(code)
    sys.stdout.flush()
    server = uvicorn.Server(uvicorn.Config(app, log_level=level, access_log=access_log))
    server.run(sockets=[sock])


def _supervise(
    settings: Settings,
    config: Path | None,
    base: str,
    sock: socket.socket,
    level: str,
    access: bool,
) -> int:
    """Run ``settings.workers`` workers on ``sock`` until SIGINT/SIGTERM; the exit code."""
    from driftline.server.workers import Supervisor

    fd = sock.fileno()
    env = dict(os.environ)
    # one session secret for all: a dashboard session made by one worker is valid on all
    env.setdefault("DRIFTLINE_SESSION_SECRET", secrets.token_hex(32))
    env["DRIFTLINE_HOST"] = settings.host
    env["DRIFTLINE_PORT"] = str(sock.getsockname()[1])
    if settings.store_url is not None:  # from a flag, the file or the environment
        env["DRIFTLINE_STORE_URL"] = settings.store_url
    env.pop("DRIFTLINE_BOOTSTRAP_KEY", None)  # done here, once

    def command(i: int) -> list[str]:
        cmd = [sys.executable, "-m", "driftline.server", "serve", "--listen-fd", str(fd)]
        cmd += ["--worker", str(i), "--log-level", level]
        cmd += ["--access-log" if access else "--no-access-log"]
        return cmd + (["--config", str(config)] if config is not None else [])

    def worker_env(i: int) -> dict[str, str]:
        return {**env, "DRIFTLINE_REPLICA": worker_replica(base, i)}

    return Supervisor(settings.workers, command, worker_env, [fd]).run()


def _serve_worker(
    settings: Settings,
    alerts: AlertsConfig | None,
    stream: StreamSection | None,
    fd: int,
    index: int,
    level: str,
    access_log: bool,
) -> None:
    """Serve as worker ``index`` of a ``--workers`` supervisor, on its socket ``fd``: the
    store is migrated and the key made; the first worker evaluates and purges."""
    import uvicorn

    from driftline.server.app import create_app
    from driftline.server.workers import Rebalance, watch_parent
    from driftline.store import open_store

    sock = socket.socket(fileno=fd)
    try:
        st = open_store(settings.store_url, migrate=False)
        app = create_app(settings, st, SystemClock(), alerts=alerts, stream=stream)
    except DriftlineError as exc:
        raise _fail(exc) from exc
    app.state.collector.evaluates = index <= 1
    watch_parent(os.getppid())
    config = uvicorn.Config(Rebalance(app), log_level=level, access_log=access_log)
    server = uvicorn.Server(config)
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises the SIGINT it stopped on
        server.run(sockets=[sock])


def _url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    return f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` and listening; a ConfigError naming the address and
    the cause when it cannot be (the port is taken, the address is not this machine's)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        why = exc.strerror or str(exc)
        hint = ""
        if exc.errno == errno.EADDRINUSE:
            why = "the port is already in use"
            hint = " (is another collector running? choose another with --port)"
        raise ConfigError(f"cannot listen on {host}:{port}: {why}{hint}") from exc
    sock.set_inheritable(True)
    return sock


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
    app = typer_app(no_args_is_help=True)
    app.command()(serve)
    app.command()(migrate)
    app.add_typer(keys_app, name="keys")
    app()
