"""``driftline versions compare MODEL A B``: champion against challenger, with a verdict.

Asks a running collector (``--url``, key in ``DRIFTLINE_API_KEY``) or reads the
store directly (``--store``, like ``driftline keys``). Exit code 0 unless the
challenger is significantly worse (1) or the input is bad (2), so a deployment
script can gate a rollout on it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from driftline._utils.cli import typer_app
from driftline.server.cli import StoreOpt, _fail

versions_app = typer_app(
    help="Compare model versions (champion vs challenger).", no_args_is_help=True
)

VERDICT_TEXT = {
    "better": "challenger BETTER than the champion",
    "worse": "challenger WORSE than the champion",
    "equivalent": "no difference as large as the smallest one you care about",
    "undecided": "no detectable difference yet",
    "insufficient_data": "not enough labelled requests for a verdict yet",
    "not_comparable": "not comparable",
}


def _fetch(url: str, model: str, a: str, b: str) -> dict[str, Any]:
    import httpx

    key = os.environ.get("DRIFTLINE_API_KEY")
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    r = httpx.get(
        f"{url.rstrip('/')}/v1/models/{model}/versions/compare",
        params={"a": a, "b": b},
        headers=headers,
        timeout=60,
    )
    if r.status_code != 200:
        detail = (
            r.json().get("detail", r.text)
            if "json" in r.headers.get("content-type", "")
            else r.text
        )
        raise ValueError(f"{r.status_code} from the collector: {detail}")
    out: dict[str, Any] = r.json()
    return out


def _local(
    store_url: str | None, model: str, a: str, b: str, config: Path | None = None
) -> dict[str, Any]:
    from driftline.store import open_store
    from driftline.windows import WindowConfig
    from driftline.windows.versions import RolloutOptions, Rollouts

    windows, options = WindowConfig(), RolloutOptions()
    if config is not None:  # the collector's collector.windows and collector.versions
        from driftline.server.config import load_serve_config

        collector = load_serve_config(config).collector
        windows = collector.windows.to_config()
        options = collector.versions.to_options() or options
    store = open_store(store_url)
    if store.version(model, a) is None or store.version(model, b) is None:
        missing = [v for v in (a, b) if store.version(model, v) is None]
        raise ValueError(f"model {model!r} has no version(s) {missing}")
    return Rollouts(store, windows, options).compare(model, a, b, now=time.time())


def _fmt(v: Any, pct: bool = False) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:+.2%}" if pct else f"{v:.4g}"
    return str(v)


def render(c: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    out = Console()
    head = f"{c['model']}: {c['b']} (challenger) vs {c['a']} (champion)"
    mode = "paired (shadow, same requests)" if c.get("paired") else "unpaired (split traffic)"
    out.print(f"[bold]{head}[/bold]  {mode}")
    verdict = c["verdict"]
    line = f"verdict: [bold]{verdict}[/bold]: {VERDICT_TEXT.get(verdict, verdict)}"
    if c.get("reason"):
        line += f" ({c['reason']})"
    if c.get("n_needed") is not None:
        line += f"; about {c['n_needed']:,} more labelled requests needed"
    out.print(line)
    if c.get("share_scored") is not None:
        out.print(
            f"share of the champion's labelled requests the challenger scored: "
            f"{c['share_scored']:.1%}"
        )
    if c.get("metrics"):
        t = Table("metric", c["a"], c["b"], "B - A", "always-valid interval", "verdict", "test")
        for m in c["metrics"]:
            lo, hi = m.get("seq_low"), m.get("seq_high")
            interval = "—" if lo is None else f"[{lo:+.4f}, {hi:+.4f}]"
            t.add_row(
                m["metric"],
                _fmt(m["a"]),
                _fmt(m["b"]),
                _fmt(m["difference"]),
                interval,
                m["verdict"],
                m["method"],
            )
        out.print(t)
    ops = c.get("operational")
    if ops:
        t = Table("operations", c["a"], c["b"])
        for k in (
            "events",
            "error_rate",
            "latency_p50_seconds",
            "latency_p90_seconds",
            "latency_p95_seconds",
            "latency_p99_seconds",
            "cpu_seconds_per_1k_predictions",
            "gpu_seconds_per_1k_predictions",
            "rss_bytes_max",
        ):
            t.add_row(k, _fmt(ops[c["a"]].get(k)), _fmt(ops[c["b"]].get(k)))
        t.add_row("cost_per_1k_predictions", *(_cost(ops[v]) for v in (c["a"], c["b"])))
        out.print(t)
        notes = {ops[v].get("latency_note") for v in (c["a"], c["b"])} - {None}
        err = ops[c["a"]].get("latency_relative_error")
        if err:
            out.print(
                f"latency quantiles: of all the range's requests, within {err:.2%} of the value"
            )
        for note in sorted(notes):
            out.print(f"latency: {note}")


def _cost(op: dict[str, Any]) -> str:
    """Cost per 1,000 predictions: "not configured" and "incomplete" said, never 0."""
    status = op.get("cost_status")
    value = op.get("cost_per_1k_predictions")
    if status in (None, "not_configured") or value is None:
        return "not configured"
    text = f"{value:.4g} {op.get('cost_currency') or ''}".strip()
    if status == "incomplete":
        unpriced = ", ".join(sorted(op.get("cost_unpriced") or {}))
        return f">= {text} (incomplete: no price for {unpriced})"
    return text


@versions_app.command("compare")
def compare(
    model: str,
    a: Annotated[str, typer.Argument(help="The champion version.")],
    b: Annotated[str, typer.Argument(help="The challenger version.")],
    url: Annotated[
        str | None,
        typer.Option(help="A running collector (key in DRIFTLINE_API_KEY); else --store."),
    ] = None,
    store: StoreOpt = None,
    config: Annotated[
        Path | None,
        typer.Option(help="driftline.yaml whose collector.versions options apply (with --store)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the comparison as JSON.")] = False,
) -> None:
    """Compare challenger B with champion A: tests, always-valid verdict, operations."""
    from driftline.errors import DriftlineError

    try:
        c = _fetch(url, model, a, b) if url else _local(store, model, a, b, config)
    except (DriftlineError, ValueError, OSError) as exc:
        raise _fail(exc) from exc
    if as_json:
        import json

        typer.echo(json.dumps(c, indent=2, default=str))
    else:
        render(c)
    if c["verdict"] == "worse":
        raise typer.Exit(1)


def _json_option(text: str | None, option: str) -> dict[str, Any] | None:
    import json

    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{option} is not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise ValueError(f"{option} must be a JSON object, got {type(value).__name__}")
    return value


def register_command(
    model: str,
    version: str,
    url: Annotated[
        str | None,
        typer.Option(envvar="DRIFTLINE_URL", help="The collector (key: DRIFTLINE_API_KEY)."),
    ] = None,
    reference: Annotated[
        str | None, typer.Option(help="Reference data (Parquet, CSV, JSON lines) or saved profile.")
    ] = None,
    target: Annotated[str | None, typer.Option(help="The reference's label column.")] = None,
    prediction: Annotated[
        str | None, typer.Option(help="The reference's prediction column.")
    ] = None,
    scores: Annotated[str | None, typer.Option(help="Score columns, comma-separated.")] = None,
    hyperparameters: Annotated[str | None, typer.Option(help="JSON object.")] = None,
    metrics: Annotated[str | None, typer.Option(help="Validation metrics, JSON object.")] = None,
    metadata: Annotated[
        str | None, typer.Option(help="JSON object: git_commit, training_data, features, ...")
    ] = None,
    packages: Annotated[
        str | None,
        typer.Option(help="Packages the model uses, comma-separated (diffs and alerts)."),
    ] = None,
) -> None:
    """Record the training side of MODEL VERSION: runtime, metadata, reference."""
    from driftline.errors import DriftlineError
    from driftline.registration import register

    try:
        out = register(
            model,
            version,
            url=url,
            reference=reference,
            target=target,
            prediction=prediction,
            scores=[s for s in (scores or "").split(",") if s.strip()] or None,
            hyperparameters=_json_option(hyperparameters, "--hyperparameters"),
            metrics=_json_option(metrics, "--metrics"),
            metadata=_json_option(metadata, "--metadata"),
            packages_used=[p.strip() for p in packages.split(",")] if packages else None,
        )
    except (DriftlineError, ValueError, OSError) as exc:
        raise _fail(exc) from exc
    rt = out["runtime"]
    line = (
        f"registered the training side of {model} {version}: Python {rt['python']}, "
        f"{len(rt['packages'])} packages"
    )
    if rt["excluded"]:
        line += f" ({len(rt['excluded'])} installed distributions without a valid name/version)"
    if out["reference_rows"] is not None:
        line += f"; reference of {out['reference_rows']} rows"
    typer.echo(line)
