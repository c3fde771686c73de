"""The ``driftline`` command line (docs/cli.md).

Exit codes: 0 success (for ``check``: every check passed), 1 a check failed
(``check`` only), 2 a usage or input error (bad option, unreadable file, bad
schema or config), 3 too little data for a verdict (``check`` only; see
``--on-insufficient``). Errors go to stderr and name the option or file, the
bad value and what is allowed. A progress bar is shown only on a terminal.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from driftline._utils.cli import typer_app
from driftline.report import _cli

if TYPE_CHECKING:
    from driftline.config import CheckConfig

app = typer_app(no_args_is_help=True, help="driftline: monitor machine-learning models.")
out, err = _cli.out, _cli.err  # the consoles, made on first output
CHECK_FAILED = 1
INSUFFICIENT_DATA = 3

# -- shared options -----------------------------------------------------------------

_Reference = Annotated[
    Path, typer.Argument(metavar="REFERENCE", help="Data file or saved profile.")
]
_Current = Annotated[Path, typer.Argument(metavar="CURRENT", help="Data file to check.")]
_Data = Annotated[Path, typer.Argument(metavar="DATA", help="Parquet, CSV or JSON-lines file.")]
_Source = Annotated[
    str,
    typer.Argument(
        metavar="DATA",
        help="Parquet, CSV or JSON-lines file; with --engine spark also a Parquet directory or "
        "a table; or a database URL (with --query).",
    ),
]
EngineOpt = Annotated[
    str,
    typer.Option(
        "--engine",
        help="local (this process, the default) or spark: profile on the Spark session's "
        "executors (docs/spark.md).",
    ),
]
QueryOpt = Annotated[
    str | None,
    typer.Option(
        "--query",
        help="With a database URL as DATA: the SQL query (or table name) to profile, read in "
        "batches through a server-side cursor.",
    ),
]
SchemaOpt = Annotated[
    Path | None,
    typer.Option("--schema", help="YAML file {column: {kind, role}} overriding inference."),
]
TargetOpt = Annotated[str | None, typer.Option("--target", help="Column with the true label.")]
PredictionOpt = Annotated[
    str | None, typer.Option("--prediction", help="Column with the model's prediction.")
]
ScoresOpt = Annotated[
    list[str] | None,
    typer.Option("--scores", help="Score / class-probability column (repeatable)."),
]
TaskOpt = Annotated[
    str | None,
    typer.Option(
        "--task",
        help="classification, binary, multiclass or regression (default: from the target and "
        "--scores; a 0/1 target is classification).",
    ),
]
IdOpt = Annotated[str | None, typer.Option("--id", help="Prediction id column (joins --labels).")]
TimestampOpt = Annotated[
    str | None, typer.Option("--timestamp", help="Timestamp column (used by --chunk-by).")
]
TimestampUnitOpt = Annotated[
    str | None,
    typer.Option(
        "--timestamp-unit",
        help="Unit of a numeric --timestamp column: s, ms, us or ns since 1970-01-01 UTC.",
    ),
]
SegmentOpt = Annotated[
    list[str] | None, typer.Option("--segment", help="Segment column (repeatable).")
]
LabelsOpt = Annotated[
    Path | None,
    typer.Option("--labels", help="File of late labels, joined to CURRENT on --id."),
]
LabelColumnOpt = Annotated[
    str | None,
    typer.Option(
        "--label-column",
        help="Column of the --labels file holding the label (default: the --target column "
        "if the file has it, else label).",
    ),
]
MethodOpt = Annotated[str, typer.Option("--method", help="Drift method: auto or a method name.")]
AlphaOpt = Annotated[float, typer.Option("--alpha", help="False-alarm level of the tests.")]
DataDrivenOpt = Annotated[
    bool,
    typer.Option(
        "--data-driven-thresholds",
        help="Thresholds from the reference's no-drift spread (resamples, own chunks); "
        "without it, the fixed thresholds.",
    ),
]
ChunkOpt = Annotated[
    str | None,
    typer.Option("--chunk-by", help="Split CURRENT by day, week, month or into N equal chunks."),
]
JsonOpt = Annotated[Path | None, typer.Option("--json", help="Also write the report as JSON.")]
SeedOpt = Annotated[
    int | None,
    typer.Option("--seed", help="Seed of the samples (default 0: same inputs, same answer)."),
]
EncodingOpt = Annotated[
    str,
    typer.Option("--encoding", help="Text encoding of CSV / JSON-lines inputs (e.g. latin-1)."),
]


def _build(
    reference: Path,
    current: Path,
    roles: _cli.Roles,
    schema_path: Path | None,
    *,
    chunk_by: Any = None,
    timestamp: str | None = None,
    data_driven: bool = False,
    seed: int | None = None,
    encoding: str = "utf-8",
    task: str | None = None,
    engine: str = "local",
    label_info: dict[str, Any] | None = None,
    **compare_options: Any,
) -> Any:
    """The report of CURRENT against REFERENCE, with what it was made from in
    ``data["inputs"]``; ``label_info``: the --labels join (:func:`_cli.check_labels`)."""
    _cli.check_task(task)
    _check_engine(engine)
    if engine == "spark":
        _cli.check_file("--schema", schema_path)
        for option, value in (("--chunk-by", chunk_by), ("--labels", label_info)):
            if value is not None:
                _cli.fail(f"{option} is not supported with --engine spark (docs/spark.md)")
        if data_driven:
            _cli.fail("--data-driven-thresholds is not supported with --engine spark")
        with _cli.errors():
            from driftline.integrations.spark import spark_compare

            report = spark_compare(
                str(reference), str(current), roles.schema(schema_path), seed=seed, task=task,
                **compare_options,
            )  # fmt: skip
        _cli.no_silent_drops(roles, task, report.data.get("performance"))
        return _with_inputs(report, reference, current, None, spark=True)
    _cli.check_file("REFERENCE", reference)
    _cli.check_file("CURRENT", current)
    _cli.check_file("--schema", schema_path)
    schema = roles.schema(schema_path)
    from driftline.report.chunks import chunked_report  # scipy, pyarrow: after the checks

    with _cli.encoding(encoding), _cli.errors(), _cli.progress() as hook:
        report = chunked_report(
            str(reference),
            str(current),
            chunk_by,
            schema,
            timestamp=timestamp,
            data_driven=True,
            seed=seed,
            progress=hook,
            column_sources=roles.sources,
            batch_rows=None if hook is None else _cli.TTY_BATCH_ROWS,
            data_driven_thresholds=data_driven,
            task=task,
            **(label_info or {}),
            **compare_options,
        )
    _cli.no_silent_drops(roles, task, report.data.get("performance"))
    return _with_inputs(report, reference, current, label_info, spark=False)


def _with_inputs(
    report: Any, reference: Path, current: Path, label_info: dict[str, Any] | None, spark: bool
) -> Any:
    """Record in the report what it was made from: files, engine, the labels joined."""
    from driftline import __version__

    inputs: dict[str, Any] = {"reference": str(reference), "current": str(current)}
    if spark:
        inputs["engine"] = "spark"
    inputs["generated_at"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    inputs["driftline_version"] = __version__
    if label_info:
        inputs["labels"] = {k: v for k, v in label_info.items() if k != "labels"}
        inputs["labels"]["path"] = label_info["labels"]
    report.data["inputs"] = inputs
    return report


def _roles(
    target: str | None,
    prediction: str | None,
    scores: list[str] | None,
    id: str | None,
    timestamp: str | None,
    timestamp_unit: str | None,
    segment: list[str] | None,
) -> _cli.Roles:
    """The role options (--target, --prediction, ...) as a schema mapping."""
    roles = _cli.Roles(
        target=target,
        prediction=prediction,
        scores=scores,
        id=id,
        timestamp=timestamp,
        segment=segment,
    )
    roles.timestamp_unit(timestamp, timestamp_unit)
    return roles


def _check_engine(engine: str) -> None:
    if engine not in ("local", "spark"):
        _cli.usage("--engine", engine, "local or spark")


# -- commands -------------------------------------------------------------------------


@app.callback()
def _root() -> None:
    """driftline: monitor machine-learning models in production."""


@app.command()
def profile(
    data: _Source,
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to save the profile.")],
    schema: SchemaOpt = None,
    target: TargetOpt = None,
    prediction: PredictionOpt = None,
    scores: ScoresOpt = None,
    id: IdOpt = None,
    timestamp: TimestampOpt = None,
    timestamp_unit: TimestampUnitOpt = None,
    segment: SegmentOpt = None,
    seed: SeedOpt = None,
    encoding: EncodingOpt = "utf-8",
    task: TaskOpt = None,
    engine: EngineOpt = "local",
    query: QueryOpt = None,
) -> None:
    """Profile DATA once and save it, so the reference's raw data is never needed again."""
    from driftline._utils.sql_url import is_sql_url

    roles = _roles(target, prediction, scores, id, timestamp, timestamp_unit, segment)
    _cli.check_task(task)
    _check_engine(engine)
    source: Any = data
    if engine == "spark" and query is not None:
        _cli.fail("--query reads a database URL with the local engine, not with --engine spark")
    if engine == "local" and is_sql_url(data):
        if query is None:
            _cli.fail(
                "DATA is a database URL: say what to profile with --query 'select ...' "
                "(or --query TABLE)"
            )
        from driftline.integrations.sql import SQLQuery  # pyarrow: after the checks

        source = SQLQuery(data, query)
    elif query is not None:
        _cli.fail(f"--query needs DATA to be a database URL (dialect://...), got {data!r}")
    elif engine == "local":
        _cli.check_file("DATA", Path(data))
    _cli.check_file("--schema", schema)
    mapping = roles.schema(schema)
    if engine == "spark":
        with _cli.errors():
            from driftline.integrations.spark import profile_spark, read_spark

            prof = profile_spark(read_spark(data), mapping, seed=seed, task=task)
        _saved(prof, output, roles, task)
        return
    from driftline.report.chunks import profile_chunks  # scipy: after the checks

    with _cli.encoding(encoding), _cli.errors(), _cli.progress() as hook:
        prof = profile_chunks(
            source,
            None,
            mapping,
            seed=seed,
            progress=None if hook is None else (lambda n, t=None: hook("current", n, t)),
            column_sources=roles.sources,
            task=task,
        ).whole
    _saved(prof, output, roles, task)


def _saved(prof: Any, output: Path, roles: _cli.Roles, task: str | None) -> None:
    perf = prof.performance
    _cli.no_silent_drops(roles, task, None if perf is None else {"task": perf.spec.task})
    try:
        prof.save(output)
    except OSError as exc:
        _cli.fail(f"--output: cannot write {output}: {exc.strerror}")
    kinds: dict[str, int] = {}
    for spec in prof.schema:
        kinds[spec.kind.value] = kinds.get(spec.kind.value, 0) + 1
    desc = ", ".join(f"{v} {k}" for k, v in sorted(kinds.items()))
    out().print(
        f"profiled {prof.n_rows:,} rows x {len(prof.columns)} columns ({desc}) -> {output} "
        f"({output.stat().st_size:,} bytes)",
        highlight=False,
    )


@app.command()
def report(
    reference: _Reference,
    current: _Current,
    output: Annotated[Path, typer.Option("--output", "-o", help="HTML report to write.")] = Path(
        "report.html"
    ),
    json_path: JsonOpt = None,
    schema: SchemaOpt = None,
    target: TargetOpt = None,
    prediction: PredictionOpt = None,
    scores: ScoresOpt = None,
    labels: LabelsOpt = None,
    label_column: LabelColumnOpt = None,
    id: IdOpt = None,
    timestamp: TimestampOpt = None,
    timestamp_unit: TimestampUnitOpt = None,
    segment: SegmentOpt = None,
    chunk_by: ChunkOpt = None,
    method: MethodOpt = "auto",
    alpha: AlphaOpt = 0.05,
    data_driven: DataDrivenOpt = False,
    title: Annotated[str, typer.Option("--title", help="Title of the HTML report.")] = "",
    seed: SeedOpt = None,
    encoding: EncodingOpt = "utf-8",
    task: TaskOpt = None,
    engine: EngineOpt = "local",
) -> None:
    """Compare CURRENT with REFERENCE (data or a saved profile); write HTML and JSON reports."""
    spec = _cli.parse_chunk_by(chunk_by)
    _cli.check_method(method, alpha)
    label_info = _cli.check_labels(labels, id, label_column, target, encoding)
    roles = _roles(target, prediction, scores, id, timestamp, timestamp_unit, segment)
    rep = _build(
        reference,
        current,
        roles,
        schema,
        chunk_by=spec,
        timestamp=timestamp,
        data_driven=data_driven,
        seed=seed,
        encoding=encoding,
        task=task,
        engine=engine,
        method=method,
        alpha=alpha,
        label_info=label_info,
    )
    from driftline.report.console import (
        drift_table,
        multivariate_summary,
        performance_summary,
        verdict,
    )
    from driftline.report.html import render_html  # both load scipy: after the checks

    data = rep.to_dict()
    _cli.write(output, render_html(data, title=title or None), "--output")
    if json_path is not None:
        _cli.write(json_path, json.dumps(data, indent=2, allow_nan=False), "--json")
    out().print(verdict(data))
    if out().is_terminal:
        out().print(drift_table(data, limit=10))
    if (mv := multivariate_summary(data)) is not None:
        out().print(mv)
    if (perf := performance_summary(data)) is not None:
        out().print(perf)
    written = f"{output}" + (f" and {json_path}" if json_path else "")
    out().print(f"report written to {written}", highlight=False)


@app.command()
def check(
    reference: _Reference,
    current: _Current,
    config: Annotated[
        Path | None, typer.Option("--config", help="YAML check configuration (docs/cli.md).")
    ] = None,
    fail_on: Annotated[
        str | None,
        typer.Option("--fail-on", help="Comma-separated: drift, quality, performance."),
    ] = None,
    junit: Annotated[
        Path | None, typer.Option("--junit", help="Write the checks as JUnit XML.")
    ] = None,
    json_path: JsonOpt = None,
    schema: SchemaOpt = None,
    target: TargetOpt = None,
    prediction: PredictionOpt = None,
    scores: ScoresOpt = None,
    labels: LabelsOpt = None,
    label_column: LabelColumnOpt = None,
    id: IdOpt = None,
    timestamp: TimestampOpt = None,
    timestamp_unit: TimestampUnitOpt = None,
    segment: SegmentOpt = None,
    seed: SeedOpt = None,
    encoding: EncodingOpt = "utf-8",
    task: TaskOpt = None,
    on_insufficient: Annotated[
        str | None,
        typer.Option(
            "--on-insufficient",
            help="Too little data for a verdict: error (exit 3, the default), fail (exit 1) "
            "or warn (exit 0, with a warning).",
        ),
    ] = None,
) -> None:
    """Gate for CI: exit 0 when every check passes, 1 when one fails, 2 on bad input, 3 when
    there is too little data for a verdict."""
    from driftline.report import gate

    started = time.perf_counter()
    _cli.check_file("--config", config)
    cfg: CheckConfig | None = None
    if config is not None:
        from driftline.config import load_check_config

        with _cli.errors():
            cfg = load_check_config(config)
    suites: list[str] | None = None
    if fail_on is not None:
        suites = [s.strip().lower() for s in fail_on.split(",") if s.strip()]
        bad = [s for s in suites if s not in gate.SUITES]
        if bad or not suites:
            allowed = f"a comma-separated list of {', '.join(gate.SUITES)}"
            _cli.usage("--fail-on", fail_on, allowed)
    if on_insufficient is not None and on_insufficient not in gate.ON_INSUFFICIENT:
        _cli.usage("--on-insufficient", on_insufficient, "error, fail or warn")
    label_info = _cli.check_labels(labels, id, label_column, target, encoding)
    roles = _roles(target, prediction, scores, id, timestamp, timestamp_unit, segment)
    if cfg is None:
        # The default settings are a pydantic model (driftline.config: ~0.1 s to import):
        # first what _build checks first, so that a missing input is said at once.
        _cli.check_task(task)
        _cli.check_file("REFERENCE", reference)
        _cli.check_file("CURRENT", current)
        from driftline.config import CheckConfig

        cfg = CheckConfig()
    short_data = on_insufficient or cfg.on_insufficient
    suites = list(cfg.fail_on) if suites is None else suites
    for col, spec in cfg.columns.items():
        if col not in roles.columns:
            roles.columns[col] = dict(spec)
            roles.sources[col] = f"--config {config}: columns"
    d = cfg.drift
    rep = _build(
        reference,
        current,
        roles,
        schema,
        timestamp=timestamp,
        data_driven=d.data_driven_thresholds,
        seed=seed,
        encoding=encoding,
        task=task,
        method=d.method,
        per_column=d.per_column,
        thresholds=d.thresholds,
        alpha=d.alpha,
        min_samples=d.min_samples,
        n_bins=d.n_bins,
        multivariate=d.multivariate,
        quality=cfg.quality,
        label_info=label_info,
    )
    data = rep.to_dict()
    from driftline.report.console import check_summary, failed_table
    from driftline.report.junit import write_junit

    bounds = {k: v.model_dump() for k, v in cfg.performance.items()}
    checks = gate.evaluate(data, suites, bounds, on_insufficient=short_data)
    if json_path is not None:
        data["checks"] = [c.__dict__ for c in checks]
        _cli.write(json_path, json.dumps(data, indent=2, allow_nan=False), "--json")
    if junit is not None:
        try:
            write_junit(
                junit,
                checks,
                properties={"reference": str(reference), "current": str(current)},
                seconds=time.perf_counter() - started,
            )
        except OSError as exc:
            _cli.fail(f"--junit: cannot write {junit}: {exc.strerror}")
    out().print(check_summary(checks))
    if any(c.failed for c in checks):
        out().print(failed_table(checks))
        raise typer.Exit(CHECK_FAILED)
    short = gate.undecided(checks)  # too little data, or a check that cannot decide
    warned = [c for c in short if c.status == "warn"]
    for c in warned[:1] if warned and warned[0].suite == "data" else []:
        err().print(f"warning: {c.message} (--on-insufficient warn: exit 0)")
    if others := [f"{c.suite} {c.name}" for c in warned if c.suite != "data"]:
        err().print(
            f"warning: {len(others)} check(s) could not decide: {', '.join(others)} "
            "(--on-insufficient warn: exit 0; --json has why)"
        )
    if any(c.status == "error" for c in short):
        out().print(failed_table(checks))
        raise typer.Exit(INSUFFICIENT_DATA)


@app.command()
def demo(
    output_dir: Annotated[
        Path, typer.Option("--output-dir", help="Where to write the demo files.")
    ] = Path("demo-output"),
) -> None:
    """Run a drift scenario end to end: data, comparison, HTML and JSON report."""
    from driftline.report.demo import run_demo

    with _cli.errors():
        run_demo(output_dir, out())


@app.command()
def plugins() -> None:
    """List the registered drift methods, quality checks, notifiers and alert presets."""
    from rich.table import Table

    from driftline.alerts.notifiers.registry import NOTIFIERS
    from driftline.alerts.presets import PRESETS
    from driftline.stats.drift.registry import DRIFT_METHODS
    from driftline.stats.quality import CHECKS

    with _cli.errors():
        methods = Table("name", "kinds", "kind of result", "from", title="drift methods")
        for m in DRIFT_METHODS:
            result = "test (alpha)" if m.is_test else f"distance (>= {m.default_threshold:g})"
            kinds = ", ".join(sorted(m.kinds))
            methods.add_row(m.name, kinds, result, DRIFT_METHODS.origin(m.name))
        out().print(methods)
        checks = Table("name", "level", "threshold (default)", "what it checks", "from",
                       title="quality checks")  # fmt: skip
        for c in CHECKS:
            level = c.level if c.level == "dataset" else f"column ({', '.join(sorted(c.kinds))})"
            threshold = "-" if c.threshold is None else f"{c.threshold} ({c.default_threshold:g})"
            if not c.by_default:
                threshold += ", opt-in"
            checks.add_row(c.name, level, threshold, c.description, CHECKS.origin(c.name))
        out().print(checks)
        notifiers = Table("name", "what it does", "from", title="notifiers")
        for n in NOTIFIERS:
            notifiers.add_row(n.name, n.description, NOTIFIERS.origin(n.name))
        out().print(notifiers)
        presets = Table("name", "signal", "rule", "what it catches", "from", title="alert presets")
        for p in PRESETS:
            r = p.default_rule
            rule = f"{r.metric} {r.op} {r.threshold:g} for {r.for_}"
            presets.add_row(p.name, p.signal, rule, p.description, PRESETS.origin(p.name))
        out().print(presets)


def _from_store(*args: Any, **kwargs: Any) -> None:
    """``alerts test --from-store``: the server's replay over stored history (imported late)."""
    from driftline.server.history import from_store_command

    from_store_command(*args, **kwargs)


def _register_subsystems() -> None:
    """Commands of the collector, the alerting and the exports (each imports its own deps late)."""
    from driftline.alerts import cli as alerts_cli
    from driftline.alerts.cli import alerts_app, export_app
    from driftline.demo.command import live_demo_command
    from driftline.server.cli import keys_app, migrate, serve
    from driftline.server.versions_cli import register_command, versions_app

    app.command("live-demo")(live_demo_command)
    app.command()(serve)
    app.command()(migrate)
    app.add_typer(keys_app, name="keys")
    app.add_typer(alerts_app, name="alerts")
    alerts_cli.FROM_STORE = _from_store
    app.add_typer(export_app, name="export")
    app.add_typer(versions_app, name="versions")
    app.command("register")(register_command)


_register_subsystems()


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err().print("interrupted")
        sys.exit(130)
