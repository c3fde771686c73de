"""Command-line plumbing of driftline's batch commands: role options, errors, progress.

Every error here goes to stderr, names the option or file, the bad value and
what is allowed, and exits with code 2 (see :mod:`driftline.cli`).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer

from driftline.errors import DriftlineError

if TYPE_CHECKING:
    from rich.console import Console

USAGE_ERROR = 2
TTY_BATCH_ROWS = 250_000  # smaller batches on a terminal, so the progress bar moves


@cache
def out() -> Console:
    """The Rich console of the results (stdout), made on first output: rich.console is
    imported only when something is printed (a command rejecting its arguments stays quick)."""
    from rich.console import Console

    return Console(width=None if sys.stdout.isatty() else 120)


@cache
def err() -> Console:
    """The Rich console of errors, notes and the progress bar (stderr), made on first use."""
    from rich.console import Console

    return Console(stderr=True)


class Roles:
    """Role options -> a schema mapping, remembering which option named which column."""

    def __init__(self, **by_option: str | list[str] | None) -> None:
        self.columns: dict[str, dict[str, str]] = {}
        self.sources: dict[str, str] = {}
        for option, value in by_option.items():
            role = {"scores": "score"}.get(option, option)
            for col in [value] if isinstance(value, str) else (value or []):
                flag = f"--{option}"
                if col in self.sources and self.columns[col]["role"] != role:
                    usage(flag, col, f"column already has role {self.columns[col]['role']}")
                self.columns[col] = {"role": role}
                self.sources[col] = flag

    def timestamp_unit(self, timestamp: str | None, unit: str | None) -> None:
        """``--timestamp-unit``: the unit of a numeric ``--timestamp`` column."""
        if unit is None:
            return
        from driftline.timestamps import UNITS  # numpy, pyarrow: only when the option is given

        if unit not in UNITS:
            usage("--timestamp-unit", unit, f"{', '.join(UNITS)} (since 1970-01-01 UTC)")
        if timestamp is None:
            raise typer.BadParameter(
                "--timestamp-unit needs --timestamp COL: the column whose numbers it describes",
                param_hint="'--timestamp-unit'",
            )
        self.columns[timestamp]["unit"] = unit

    def schema(self, path: Path | None) -> dict[str, Any] | None:
        """The --schema file's mapping with the role options applied on top."""
        if path is None:
            return {"columns": self.columns} if self.columns else None
        from driftline._yaml import read_yaml
        from driftline.errors import SchemaError

        try:
            data = read_yaml(path, what="schema file", error=SchemaError) or {}
        except SchemaError as exc:
            fail(f"--schema: {exc}")
        cols = data.get("columns", data) if isinstance(data, dict) else None
        if not isinstance(cols, dict):
            fail(f"--schema: {path} must hold a mapping of column -> {{kind, role}}")
        merged = {str(k): dict(v) if isinstance(v, dict) else v for k, v in cols.items()}
        for col, spec in self.columns.items():
            merged[col] = {**(merged.get(col) or {}), **spec}
        sources = {c: f"--schema {path}" for c in merged if c not in self.sources}
        self.sources = {**sources, **self.sources}
        return {"columns": merged}


def usage(option: str, value: object, allowed: str) -> NoReturn:
    raise typer.BadParameter(f"{value!r} is not allowed: {allowed}", param_hint=f"'{option}'")


def fail(message: str) -> NoReturn:
    err().print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(USAGE_ERROR)


@contextmanager
def errors() -> Iterator[None]:
    """DriftlineError and OS errors -> one line on stderr and exit code 2."""
    try:
        yield
    except DriftlineError as exc:
        fail(str(exc))
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        fail(f"cannot access{where}: {exc.strerror or exc}")


@contextmanager
def progress() -> Iterator[Any]:
    """A progress callback ``(stage, advance, total)``: a Rich bar on a terminal, else silent."""
    if not err().is_terminal:
        yield None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    labels = {
        "reference": "reading reference",
        "current": "reading current",
        "columns": "comparing columns",
        "chunks": "comparing chunks",
    }
    with Progress(
        TextColumn("{task.description:<18}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[unit]}"),
        TimeElapsedColumn(),
        console=err(),
        transient=True,
    ) as bar:
        tasks: dict[str, Any] = {}

        def hook(stage: str, advance: int, total: int | None = None) -> None:
            if stage not in tasks:
                unit = {"chunks": "chunks", "columns": "columns"}.get(stage, "rows")
                tasks[stage] = bar.add_task(labels.get(stage, stage), total=total, unit=unit)
            bar.update(tasks[stage], advance=advance)

        yield hook


def encoding(name: str) -> AbstractContextManager[str]:
    """Read CSV and JSON-lines inputs in ``name`` (``--encoding``) inside the block."""
    from driftline.io import check_encoding, text_encoding

    try:
        check_encoding(name)
    except DriftlineError:
        usage("--encoding", name, "a Python codec name such as utf-8, latin-1, cp1252, utf-16")
    return text_encoding(name)


def check_file(option: str, path: Path | None) -> None:
    if path is None:
        return
    if not path.exists():
        fail(f"{option}: cannot read {path}: no such file")
    if path.is_dir():
        fail(f"{option}: cannot read {path}: it is a directory, expected a file")
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        fail(f"{option}: cannot read {path}: {exc.strerror}")


def parse_chunk_by(value: str | None) -> Any:
    if value is None:
        return None
    from driftline.report.chunks import MAX_CHUNKS, ChunkBy

    try:
        return ChunkBy.parse(value)
    except DriftlineError:
        usage("--chunk-by", value, f"day, week, month or a whole number from 2 to {MAX_CHUNKS}")


def check_task(task: str | None) -> None:
    if task is None:
        return
    from driftline.schema import TASKS  # pyarrow: only when --task is given

    if task not in TASKS:
        usage("--task", task, ", ".join(TASKS))


def no_silent_drops(roles: Roles, task: str | None, performance: Any) -> None:
    """An option that had no effect is said, never dropped in silence.

    ``--task`` with nothing to apply it to is an error; ``--target`` without a
    prediction or scores, or scores without a target, is a note on stderr.
    """
    given = {src for src in roles.sources.values()}
    if performance is None:
        if task is not None:
            fail(
                "--task: there is no performance to apply it to; it needs a target column "
                "(--target) and a prediction (--prediction) or score columns (--scores)"
            )
        if "--target" in given:
            err().print(
                "note: --target without --prediction or --scores: the target is compared "
                "for drift (label drift), with no prediction-quality section",
                highlight=False,
            )
        elif "--scores" in given or "--prediction" in given:
            err().print(
                "note: no target column (--target, or a reference profile with one): "
                "no prediction-quality section, and nothing to estimate it from",
                highlight=False,
            )


def check_method(method: str, alpha: float) -> None:
    if method != "auto":
        from driftline.stats.drift.rules import method_names  # the registry loads scipy

        if method not in method_names():
            usage("--method", method, f"one of auto, {', '.join(method_names())}")
    if not 0 < alpha < 1:
        usage("--alpha", alpha, "a number between 0 and 1 (exclusive)")


def check_labels(
    labels: Path | None,
    id_col: str | None,
    label_column: str | None,
    target: str | None = None,
    encoding_name: str = "utf-8",
) -> dict[str, Any] | None:
    """Validate --labels/--id/--label-column; the compare() options that join the labels.

    Without --label-column the label is the labels file's --target column when it has
    one, else its ``label`` column."""
    if labels is None:
        return None
    check_file("--labels", labels)
    if id_col is None:
        raise typer.BadParameter(
            "--labels needs --id COL: the column that joins labels to predictions",
            param_hint="'--labels'",
        )
    from driftline.io import open_source

    with encoding(encoding_name), errors():
        names = open_source(labels).schema.names
    if label_column is None:
        label_column = target if target is not None and target in names else "label"
        if label_column not in names:
            named = f"--target column {target!r} nor a " if target else ""
            fail(
                f"--label-column: {labels} has neither a {named}'label' column; name the "
                f"column that holds the label with --label-column (its columns: "
                f"{', '.join(names)})"
            )
    for option, col in (("--id", id_col), ("--label-column", label_column)):
        if col not in names:
            fail(f"{option}: {labels} has no column {col!r}; its columns: {', '.join(names)}")
    return {"labels": str(labels), "id": id_col, "label_column": label_column}


def write(path: Path, text: str, option: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"{option}: cannot write {path}: {exc.strerror}")
