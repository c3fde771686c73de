"""``driftline live-demo``: the command, kept apart from the demo so ``driftline --help`` is fast.

Importing this module imports only typer; the demo (numpy, scikit-learn, the
collector) loads when the command runs.
"""

from __future__ import annotations

from typing import Annotated

import typer

DEFAULT_STORE = ".driftline/demo.db"


def live_demo_command(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (a free one if taken).")] = 8080,
    duration: Annotated[
        float | None, typer.Option(help="Stop after this many simulated seconds.")
    ] = None,
    speed: Annotated[
        float, typer.Option(help="Simulated seconds per real second (0: as fast as possible).")
    ] = 15.0,
    once: Annotated[bool, typer.Option(help="Stop when the story is over.")] = False,
    store: Annotated[
        str | None, typer.Option(help=f"Store URL (default: a fresh sqlite:///{DEFAULT_STORE}).")
    ] = None,
) -> None:
    """Live demo: a model service, the collector and the dashboard, with drift and alerts."""
    import gc
    import signal
    from typing import Any

    from driftline.demo.live import Terminated, run

    def on_sigterm(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # one stop at a time (SIGKILL still works)
        raise Terminated

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        run(
            port=port, duration=duration, speed=speed, once=once, store_url=store,
            out=lambda line: print(line, flush=True),
        )  # fmt: skip
        gc.collect()  # free the sketches' native objects before exit (no leak warnings)
        typer.echo("driftline live demo: stopped.")
    except Exception as exc:  # a clean message for the command line
        typer.echo(f"driftline live demo failed: {exc}", err=True)
        raise typer.Exit(1) from exc
    finally:
        signal.signal(signal.SIGTERM, previous)


__all__ = ["DEFAULT_STORE", "live_demo_command"]
