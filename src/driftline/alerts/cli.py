"""Typer sub-apps: ``driftline alerts ...`` and ``driftline export ...``.

Registered by :mod:`driftline.cli` with::

    from driftline.alerts.cli import alerts_app, export_app
    app.add_typer(alerts_app, name="alerts")
    app.add_typer(export_app, name="export")

Exit codes follow driftline's CLI: 0 success, 2 a usage or configuration error.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from driftline._utils.cli import typer_app
from driftline.errors import DriftlineError

USAGE_ERROR = 2

#: ``alerts test --from-store`` replays stored history; the collector's package provides it
#: (alerts import no server code): driftline.cli sets it to
#: :func:`driftline.server.history.from_store_command`.
FROM_STORE: Callable[..., None] | None = None

alerts_app = typer_app(
    no_args_is_help=True,
    help="Alert rules, SLOs and notifications: test them before production.",
)
export_app = typer_app(no_args_is_help=True, help="Export Prometheus rules and Grafana dashboards.")


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(USAGE_ERROR)


def _config(path: Path | None) -> Any:
    from driftline.alerts.config import load_alerts_config, parse_alerts_config
    from driftline.alerts.presets import PRESETS

    if path is None:
        return parse_alerts_config({"presets": list(PRESETS.names())})
    if not path.is_file():
        _fail(f"--config: no such file: {path}")
    return load_alerts_config(path)


@alerts_app.callback()
def _alerts() -> None:
    """Alert rules, SLOs and notifications."""


@alerts_app.command("test")
def test_command(
    scenario: Annotated[
        str | None,
        typer.Option(
            "--scenario",
            help="Fault to inject: drift, latency, errors, quality, labels, job, missing, schema.",
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="driftline.yaml with an alerts: section (default: presets)."),
    ] = None,
    send: Annotated[
        bool, typer.Option("--send", help="Really deliver the notifications to the receivers.")
    ] = False,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            help="Model name of the traffic (credit_risk); with --from-store the model to "
            "replay (default every model).",
        ),
    ] = None,
    version: Annotated[str, typer.Option("--version", help="Model version.")] = "v1",
    windows: Annotated[int, typer.Option("--windows", min=4, max=500)] = 20,
    window: Annotated[str, typer.Option("--window", help="Window length, e.g. 5m.")] = "5m",
    seed: Annotated[int, typer.Option("--seed")] = 7,
    from_store: Annotated[
        bool,
        typer.Option(
            "--from-store",
            help="Replay the metric points stored by the collector instead of a scenario.",
        ),
    ] = False,
    days: Annotated[
        float, typer.Option("--days", help="With --from-store: the last N days.")
    ] = 7.0,
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            envvar="DRIFTLINE_STORE_URL",
            help="With --from-store: the collector's store URL (default .driftline/driftline.db).",
        ),
    ] = None,
) -> None:
    """Replay generated traffic with a fault, or the stored history (--from-store), and print
    which alerts fire, when and to whom."""
    from driftline._utils.durations import parse_duration
    from driftline.alerts.replay import SCENARIOS, Scenario, replay

    try:
        length = parse_duration(window)
    except ValueError as exc:
        _fail(f"--window: {window!r} is not allowed: {exc}")
    if from_store:
        if scenario is not None:
            _fail("--scenario and --from-store exclude each other: give one")
        if FROM_STORE is None:
            _fail("--from-store needs the collector: pip install 'driftline[server]'")
        try:
            cfg = _config(config)
            assert FROM_STORE is not None
            FROM_STORE(
                cfg, model=model, days=days, window=length, store_url=store, echo=typer.echo,
            )  # fmt: skip
        except DriftlineError as exc:
            _fail(str(exc))
        return
    if scenario is None:
        _fail(f"--scenario is needed: one of {', '.join(SCENARIOS)} (or --from-store)")
    if scenario not in SCENARIOS:
        _fail(
            f"--scenario: {scenario!r} is not allowed; allowed: {', '.join(SCENARIOS)} "
            "(or --from-store)"
        )
    assert scenario is not None
    model = model or "credit_risk"
    try:
        cfg = _config(config)
        start = 1_767_225_600.0
        if send:  # real receivers see current times: end the replay now
            start = (time.time() // length) * length - windows * length
        third = max(1, windows // 3)
        s = Scenario(
            scenario, model=model, version=version, windows=windows, seed=seed,
            window_seconds=length, start=start, fault=(third, min(windows, 2 * third + 2)),
        )  # fmt: skip
        factory = None
        dispatchers: list[Any] = []
        if send:
            from driftline.alerts.notifiers.dispatch import Dispatcher

            def factory(clock: Any, store: Any) -> Any:
                d = Dispatcher(cfg, store, clock=clock, env=os.environ)
                dispatchers.append(d)
                return d

        typer.echo(f"scenario {scenario}: {SCENARIOS[scenario]}")
        typer.echo(
            f"{windows} windows of {window} for {model} {version}; fault in windows "
            f"{s.fault[0]}..{s.fault[1] - 1} (+{s.fault[0] * length / 60:.0f}m to "
            f"+{s.fault[1] * length / 60:.0f}m); {len(cfg.compiled_rules())} rules"
        )
        result = replay(s, cfg, sink_factory=factory)
        for d in dispatchers:
            d.close()
    except DriftlineError as exc:
        _fail(str(exc))
    _print(result, cfg, send)


def _print(result: Any, cfg: Any, send: bool) -> None:
    from driftline.alerts.routing import Route

    route = Route.build(cfg.route)
    from driftline.alerts.notifiers.registry import NOTIFIERS

    kinds = {
        r.name: [k for k in NOTIFIERS.names() if getattr(r, k, None) is not None]
        for r in cfg.receivers
    }
    typer.echo("")
    typer.echo("state changes:")
    shown = [t for t in result.transitions if t.to_state.value in ("firing", "resolved")]
    if not shown:
        typer.echo("  (no alert fired)")
    for t in shown:
        where = " ".join(
            f"{k}={t.labels[k]}" for k in ("model", "version", "column", "job") if t.labels.get(k)
        )
        to = ", ".join(r.receiver for r in route.match(t.labels))
        typer.echo(
            f"  {result.offset(t.window_end):>7}  {t.to_state.value.upper():<8} {t.rule:<22} "
            f"{t.labels.get('severity', ''):<8} {where}  value={t.value:.4g}  -> {to}"
        )
    typer.echo("")
    typer.echo("notifications" + (" sent:" if send else " (not sent; use --send):"))
    if not result.notifications:
        typer.echo("  (none)")
    for n in result.notifications:
        names = ", ".join(sorted({a.labels.get("alertname", "") for a in n.alerts}))
        via = "+".join(kinds.get(n.receiver, [])) or "no notifier"
        typer.echo(
            f"  {result.offset(n.created_at):>7}  {n.status.upper():<8} to {n.receiver} ({via}): "
            f"{names} [{len(n.alerts)} alert(s)]"
        )


@export_app.callback()
def _export() -> None:
    """Export Prometheus rules and Grafana dashboards."""


@export_app.command("prometheus-rules")
def prometheus_rules_command(
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            help="Directory for the rule and test files, or the rule file (rules.yml; "
            "its tests go to rules.test.yml).",
        ),
    ] = Path("prometheus"),
    latency_threshold: Annotated[
        float, typer.Option("--latency-threshold", help="p99 latency budget (a bucket bound).")
    ] = 1.0,
    error_ratio: Annotated[
        float, typer.Option("--error-ratio", help="Alert when errors exceed this share.")
    ] = 0.005,
    slo: Annotated[
        float, typer.Option("--slo", help="Availability objective, e.g. 0.999.")
    ] = 0.999,
    runbook_url: Annotated[
        str, typer.Option("--runbook-url", help="Base URL of the runbooks.")
    ] = "https://driftline.dev/docs/alerts",
    window: Annotated[
        str, typer.Option("--window", help="The collector's base window, e.g. 5m.")
    ] = "5m",
    drift_windows: Annotated[
        int,
        typer.Option("--drift-windows", help="Windows in a row drift or a failed check must hold."),
    ] = 3,
    accuracy_drop: Annotated[
        float,
        typer.Option(
            "--accuracy-drop", help="Alert when accuracy falls this far below its 7-day mean."
        ),
    ] = 0.05,
) -> None:
    """Write Prometheus alerting + recording rules for the SDK's and the collector's metrics,
    with promtool tests."""
    from driftline._utils.durations import parse_duration
    from driftline.alerts.export import write_prometheus_rules

    try:
        length = parse_duration(window)
    except ValueError as exc:
        _fail(f"--window: {window!r} is not allowed: {exc}")
    try:
        written = write_prometheus_rules(
            output, latency_threshold=latency_threshold, error_ratio=error_ratio,
            objective=slo, runbook_url=runbook_url, window=length, drift_windows=drift_windows,
            accuracy_drop=accuracy_drop,
        )  # fmt: skip
    except (DriftlineError, OSError) as exc:
        _fail(str(exc))
    for p in written:
        typer.echo(f"wrote {p}")
    typer.echo(f"check with: promtool check rules {written[0]} && promtool test rules {written[1]}")


@export_app.command("grafana")
def grafana_command(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Directory for the provisioning files.")
    ] = Path("grafana"),
    prometheus_url: Annotated[
        str, typer.Option("--prometheus-url", help="URL Grafana uses to reach Prometheus.")
    ] = "http://127.0.0.1:9090",
) -> None:
    """Write Grafana provisioning: a datasource, a dashboard provider and dashboards."""
    from driftline.alerts.export import write_grafana

    try:
        written = write_grafana(output, prometheus_url=prometheus_url)
    except (DriftlineError, OSError) as exc:
        _fail(str(exc))
    for p in written:
        typer.echo(f"wrote {p}")


def main() -> None:  # pragma: no cover - for running this sub-app alone
    app = typer_app()
    app.add_typer(alerts_app, name="alerts")
    app.add_typer(export_app, name="export")
    sys.exit(app())
