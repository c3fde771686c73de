"""``driftline serve --workers N``: N collector processes sharing one listening socket.

One process's ingest is held to one core by the GIL. With ``workers`` above 1 the
``serve`` process binds the port, migrates the store, creates the first admin key and
prints where it listens, then becomes a supervisor: it starts N workers, each a
``python -m driftline.server serve`` process that inherits the listening socket
(``pass_fds``) and serves on it, so the kernel hands every new connection to one of
them. The socket stays open in the supervisor, so a worker's restart loses no queued
connection. Each worker is a replica of its own (``<replica>-w<i>``: its own live
partials, Parquet files and name in the alerting lease, kept across its restarts); the
first worker evaluates windows and purges old events, the others only ingest and flush
their partials (docs/collector.md, "Several workers on one port"). A keep-alive
connection is closed after a few seconds (:class:`Rebalance`), so that clients spread
over the workers as load changes.

:class:`Supervisor` watches them: a worker that exits is logged and started again, at
once, or after a pause growing to ``max_pause`` while it keeps exiting within
``quick_seconds`` of its start; ``give_up`` such exits in a row stop the collector
(exit code 1: it cannot start, e.g. a store it cannot open). SIGINT or SIGTERM stops
every worker with SIGTERM (each saves its live partials) and returns 0 once all have
exited; a worker still running after ``stop_seconds`` is killed (exit code 1). Workers
run in their own session, so Ctrl-C in a terminal reaches the supervisor only, and a
worker whose supervisor died (SIGKILL) stops itself (:func:`watch_parent`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("driftline.server")

#: Exit statuses of a worker that stopped as asked (uvicorn re-raises SIGTERM).
_STOPPED = (0, -signal.SIGTERM, -signal.SIGINT)


def worker_replica(base: str, index: int) -> str:
    """The replica name of worker ``index`` (from 1) of a collector named ``base``."""
    return f"{base}-w{index}"


def describe_exit(code: int) -> str:
    """``exit code 3`` or ``killed by SIGKILL``."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


@dataclass
class _Worker:
    index: int
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    #: Exits within ``quick_seconds`` of a start, in a row.
    quick: int = 0
    #: When to start it again (monotonic), after it exited.
    due: float | None = None


class Supervisor:
    """Start ``n`` workers (``command(i)`` with ``env(i)``, ``i`` from 1), keep them running,
    stop them on SIGINT/SIGTERM; :meth:`run` returns the exit code."""

    def __init__(
        self,
        n: int,
        command: Callable[[int], Sequence[str]],
        env: Callable[[int], Mapping[str, str]],
        pass_fds: Sequence[int],
        *,
        stop_seconds: float = 60.0,
        quick_seconds: float = 10.0,
        max_pause: float = 30.0,
        give_up: int = 5,
        poll_seconds: float = 0.2,
    ) -> None:
        self.workers = [_Worker(i) for i in range(1, n + 1)]
        self.command = command
        self.env = env
        self.pass_fds = tuple(pass_fds)
        self.stop_seconds = stop_seconds
        self.quick_seconds = quick_seconds
        self.max_pause = max_pause
        self.give_up = give_up
        self.poll_seconds = poll_seconds
        self.signals = 0
        #: Workers started again after an exit (not counting the first starts).
        self.restarts = 0

    # -- signals --------------------------------------------------------------------------
    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.signals += 1
        if self.signals > 1:  # asked twice: stop now
            for w in self.workers:
                self._send(w, signal.SIGKILL)

    def _send(self, w: _Worker, sig: int) -> None:
        if w.proc is not None and w.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):  # exited meanwhile
                w.proc.send_signal(sig)

    # -- running --------------------------------------------------------------------------
    def _start(self, w: _Worker) -> None:
        w.proc = subprocess.Popen(
            list(self.command(w.index)),
            env=dict(self.env(w.index)),
            pass_fds=self.pass_fds,
            start_new_session=True,  # Ctrl-C reaches the supervisor, which stops them in turn
        )
        w.started = time.monotonic()
        w.due = None
        log.info("driftline: worker %d started (pid %d)", w.index, w.proc.pid)

    def _exited(self, w: _Worker, code: int) -> None:
        """Note ``w``'s exit and when to start it again."""
        assert w.proc is not None
        lived = time.monotonic() - w.started
        w.quick = w.quick + 1 if lived < self.quick_seconds else 0
        pause = 0.0 if w.quick <= 1 else min(self.max_pause, 2.0 ** (w.quick - 2))
        w.due = time.monotonic() + pause
        log.warning(
            "driftline: worker %d (pid %d) exited after %.1f s (%s); starting it again%s",
            w.index, w.proc.pid, lived, describe_exit(code),
            f" in {pause:.0f} s" if pause else "",
        )  # fmt: skip
        w.proc = None

    def run(self) -> int:
        """Supervise until SIGINT/SIGTERM (or a worker that cannot start); the exit code."""
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        code = 0
        try:
            for w in self.workers:
                self._start(w)
            while not self.signals:
                for w in self.workers:
                    if w.proc is not None and (rc := w.proc.poll()) is not None:
                        self._exited(w, rc)
                if any(w.quick >= self.give_up for w in self.workers):
                    bad = next(w for w in self.workers if w.quick >= self.give_up)
                    log.error(
                        "driftline: worker %d exited within %.0f s of its start %d times in a "
                        "row; stopping the collector",
                        bad.index, self.quick_seconds, bad.quick,
                    )  # fmt: skip
                    code = 1
                    break
                now = time.monotonic()
                for w in self.workers:
                    if w.proc is None and w.due is not None and w.due <= now:
                        self.restarts += 1
                        self._start(w)
                time.sleep(self.poll_seconds)
            if not self.stop():
                code = 1
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
        return code

    def stop(self) -> bool:
        """SIGTERM every worker and wait for them (SIGKILL after ``stop_seconds``); True when
        every one stopped as asked."""
        running = [w for w in self.workers if w.proc is not None]
        for w in running:
            self._send(w, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_seconds
        clean = True
        for w in running:
            assert w.proc is not None
            try:
                rc = w.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.error(
                    "driftline: worker %d (pid %d) did not stop within %.0f s; killing it",
                    w.index, w.proc.pid, self.stop_seconds,
                )  # fmt: skip
                w.proc.kill()
                rc = w.proc.wait()
            if rc not in _STOPPED and self.signals < 2:
                log.warning("driftline: worker %d stopped with %s", w.index, describe_exit(rc))
                clean = False
            w.proc = None
        return clean


class Rebalance:
    """A worker's app: the first response on a connection open ``seconds`` or longer says
    ``Connection: close``, so its client's next request takes a new connection, which the
    worker that accepts it first serves (an idle one, usually, over a busy one). Keep-alive
    clients then spread over the workers as load comes and goes, not only by where they
    first landed; each client makes a new connection every ``seconds`` at most."""

    def __init__(
        self, app: ASGIApp, seconds: float = 5.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.app = app
        self.seconds = seconds
        self.clock = clock
        #: When each connection (the client's address and port) was first seen.
        self._opened: dict[tuple[str, int], float] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if scope["type"] != "http" or not client:
            await self.app(scope, receive, send)
            return
        now = self.clock()
        if len(self._opened) > 4096:  # connections closed by their clients meanwhile
            self._opened = {c: t for c, t in self._opened.items() if now - t < self.seconds}
        key = (str(client[0]), int(client[1]))
        if now - self._opened.setdefault(key, now) < self.seconds:
            await self.app(scope, receive, send)
            return
        del self._opened[key]

        async def closing(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), (b"connection", b"close")]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, closing)


def watch_parent(parent: int, every: float = 1.0) -> threading.Thread:
    """In a worker: SIGTERM this process (a clean stop) once its supervisor ``parent`` is
    gone (killed without stopping its workers). A daemon thread; returned for tests."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every)
        log.warning("driftline: the supervisor (pid %d) is gone; this worker stops", parent)
        os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=watch, name="driftline-watch-parent", daemon=True)
    thread.start()
    return thread


__all__ = ["Rebalance", "Supervisor", "describe_exit", "watch_parent", "worker_replica"]
