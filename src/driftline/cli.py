"""The ``driftline`` command line."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False, help="driftline: monitor ML models.")


@app.callback()
def _root() -> None:
    """driftline: monitor machine-learning models in production."""


def main() -> None:
    app()
