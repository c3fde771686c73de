"""Pipeline job runs: ``with mon.job("retrain") as run: ...``.

A run records when it was scheduled, started and finished, its status
(``success`` or ``failed``), rows in and out, the error (masked by the privacy
policy's PII patterns) and any numbers you add (document counts, ingestion lag).
It is sent as a ``job_run`` event and counted in ``driftline_job_*`` metrics;
an exception inside the block is recorded and then re-raised.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import wraps
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, cast

from driftline.sdk._async import AsyncWith
from driftline.sdk._ids import uuid7_hex

if TYPE_CHECKING:
    from driftline.sdk.monitor import Monitor

F = TypeVar("F", bound=Callable[..., Any])


class JobRun(AsyncWith):
    """One run of a pipeline job; see the module documentation."""

    def __init__(
        self,
        monitor: Monitor,
        job: str,
        *,
        scheduled_at: float | datetime | None = None,
        run_id: str | None = None,
        every: float | str | None = None,
    ) -> None:
        self._monitor = monitor
        self.job = job
        self.run_id = run_id or uuid7_hex()
        if isinstance(scheduled_at, datetime):
            scheduled_at = scheduled_at.timestamp()
        self.scheduled_at = scheduled_at
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self.status = "running"
        self.rows_in: int | None = None
        self.rows_out: int | None = None
        self.error: str | None = None
        self.metrics: dict[str, float] = {}
        self.newest_input_at: float | None = None
        self.expected_interval_seconds: float | None = None
        if every is not None:
            from driftline._utils.durations import parse_duration

            self.expected_interval_seconds = (
                parse_duration(every) if isinstance(every, str) else float(every)
            )
        self._start = 0.0

    def rows(self, rows_in: int | None = None, rows_out: int | None = None) -> None:
        """Set (or add to) the rows read and written."""
        if rows_in is not None:
            self.rows_in = (self.rows_in or 0) + rows_in
        if rows_out is not None:
            self.rows_out = (self.rows_out or 0) + rows_out

    def metric(self, name: str, value: float) -> None:
        """Record a custom number for this run, e.g. ``run.metric("documents", 1200)``.

        Charted per job on the Jobs page and usable in alert rules (``job_metric``).
        A value that is not a finite number is left out and counted
        (``driftline_sdk_events_dropped_total{reason="job_metric"}``), with a warning.
        """
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok or value != value or value in (float("inf"), float("-inf")):
            self._monitor.accounting.dropped("job_metric", 1)
            self._monitor._log.warning(
                "job_metric", "job %r metric %r: %r is not a finite number", self.job, name, value
            )
            return
        self.metrics[name] = value

    def freshness(self, newest_input_at: float | datetime) -> None:
        """The time of the newest input this run read (its data's freshness).

        The collector reports the age of the newest input of the job's latest run
        (``job_freshness_seconds``), growing while no newer run reports.
        """
        if isinstance(newest_input_at, datetime):
            newest_input_at = newest_input_at.timestamp()
        self.newest_input_at = float(newest_input_at)

    def __enter__(self) -> JobRun:
        clock = self._monitor.clock
        self.started_at = clock.time()
        self._start = clock.monotonic()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self._finish(exc_type, exc)
        except Exception:
            self._monitor.internal_error("job.exit")

    def __call__(self, fn: F) -> F:
        """Use as a decorator: every call of ``fn`` is a new run of this job."""
        monitor, job = self._monitor, self.job

        @wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with JobRun(monitor, job):
                return fn(*args, **kwargs)

        return cast(F, wrapper)

    def _finish(self, exc_type: type[BaseException] | None, exc: BaseException | None) -> None:
        mon = self._monitor
        clock = mon.clock
        self.finished_at = clock.time()
        duration = clock.monotonic() - self._start
        if exc_type is None:
            self.status = "success"
        else:
            self.status = "failed"
            self.error = f"{exc_type.__name__}: {exc}"
        fam = mon.families
        fam.job_runs.labels(self.job, self.status).inc()
        fam.job_duration.labels(self.job).observe(duration)
        if self.status == "success":
            fam.job_last_success.labels(self.job).set(self.finished_at)
        if self.rows_in:
            fam.job_rows.labels(self.job, "in").inc(self.rows_in)
        if self.rows_out:
            fam.job_rows.labels(self.job, "out").inc(self.rows_out)
        mon.enqueue(("job_run", self.as_dict()))

    def as_dict(self) -> dict[str, Any]:
        return {
            "job": self.job,
            "run_id": self.run_id,
            "scheduled_at": self.scheduled_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "status": self.status,
            "rows_in": self.rows_in,
            "rows_out": self.rows_out,
            "error": self.error,
            "metrics": dict(self.metrics),
            "newest_input_at": self.newest_input_at,
            "expected_interval_seconds": self.expected_interval_seconds,
        }
