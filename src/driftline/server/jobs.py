"""Pipeline health from job runs: status, custom metrics, freshness and the dead-man signal.

The collector stores each run (``POST /v1/jobs``, ``Monitor.job``); this module
answers "is my pipeline healthy" from the stored runs, for the Jobs page, the
``/metrics`` scrape and the alert feed (docs/collector.md, "Jobs"):

- status of the latest run: ``ok``, ``failed``, ``late`` (it started more than
  ``late_after`` seconds after its ``scheduled_at``);
- ``expected_interval``: how often the job runs: the ``every`` the SDK sent
  with the latest run, else the median gap between the last runs' scheduled
  (or start) times, known from three runs on; None before;
- ``since_success_intervals`` (the dead-man signal): seconds since the last
  successful run finished (since the first run started, when none has)
  divided by the expected interval; above 1 the job has missed its schedule;
- ``freshness_seconds``: now minus the newest input time the latest run that
  reported one read (``run.freshness(...)``): the age of the data a model
  reads, growing while no newer run reports;
- ``metrics``: the latest run's custom numbers, plus ``rows_in``,
  ``rows_out`` and ``duration_seconds``.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from driftline.server.ingest import EXPECTED_INTERVAL, NEWEST_INPUT

#: Statuses that count as success; any other is a failure.
JOB_OK = ("success", "ok", "succeeded")
#: Runs whose gaps give the inferred interval.
INTERVAL_RUNS = 20


def run_metrics(run: Mapping[str, Any]) -> dict[str, float]:
    """The custom numbers of one stored run, with rows_in, rows_out and duration_seconds."""
    raw = run.get("metrics") or "{}"
    parsed = orjson.loads(raw) if isinstance(raw, str | bytes) else dict(raw)
    out = {str(k): float(v) for k, v in parsed.items() if not str(k).startswith("_")}
    for name in ("rows_in", "rows_out"):
        if run.get(name) is not None:
            out[name] = float(run[name])
    out["duration_seconds"] = max(float(run["finished_at"]) - float(run["started_at"]), 0.0)
    return out


def _reserved(run: Mapping[str, Any], key: str) -> float | None:
    raw = run.get("metrics") or "{}"
    parsed = orjson.loads(raw) if isinstance(raw, str | bytes) else dict(raw)
    v = parsed.get(key)
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def run_status(run: Mapping[str, Any], late_after: float) -> str:
    if str(run["status"]).lower() not in JOB_OK:
        return "failed"
    sched = run.get("scheduled_at")
    if sched is not None and float(run["started_at"]) - float(sched) > late_after:
        return "late"
    return "ok"


@dataclass
class JobHealth:
    job: str
    runs: int = 0
    failed: int = 0
    last_run: dict[str, Any] | None = None
    status: str = "ok"  # of the latest run: ok, failed, late
    last_success_at: float | None = None
    expected_interval: float | None = None
    interval_source: str = ""  # "sdk" (every=), "schedule" (inferred), ""
    since_success_seconds: float | None = None
    since_success_intervals: float | None = None
    freshness_seconds: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def overdue(self) -> bool:
        """No successful run within its expected interval (the dead-man condition)."""
        return self.since_success_intervals is not None and self.since_success_intervals > 1.0

    @property
    def verdict(self) -> str:
        """What the Jobs page says at a glance: failed, overdue, late, stale-free ok."""
        if self.status == "failed":
            return "failed"
        if self.overdue:
            return "overdue"
        return self.status


def _interval(runs: list[Mapping[str, Any]]) -> tuple[float | None, str]:
    """The expected interval of a job's runs (newest first) and where it came from."""
    for r in runs:
        every = _reserved(r, EXPECTED_INTERVAL)
        if every is not None:
            return every, "sdk"
        break
    times = sorted(
        float(r["scheduled_at"] if r.get("scheduled_at") is not None else r["started_at"])
        for r in runs[:INTERVAL_RUNS]
    )
    gaps = [b - a for a, b in itertools.pairwise(times) if b - a > 0]
    if len(gaps) < 2:
        return None, ""
    return float(statistics.median(gaps)), "schedule"


def job_health(
    runs: Iterable[Mapping[str, Any]], now: float, late_after: float = 300.0
) -> list[JobHealth]:
    """Health of every job among ``runs`` (any order), sorted by job name."""
    by_job: dict[str, list[Mapping[str, Any]]] = {}
    for r in runs:
        by_job.setdefault(str(r["job"]), []).append(r)
    out = []
    for job, rs in sorted(by_job.items()):
        rs.sort(key=lambda r: float(r["started_at"]), reverse=True)
        h = JobHealth(job, runs=len(rs), last_run=dict(rs[0]))
        h.failed = sum(run_status(r, late_after) == "failed" for r in rs)
        h.status = run_status(rs[0], late_after)
        ok = [r for r in rs if run_status(r, late_after) != "failed"]
        if ok:
            h.last_success_at = float(ok[0]["finished_at"])
        h.expected_interval, h.interval_source = _interval(rs)
        since_ref = (
            h.last_success_at if h.last_success_at is not None else float(rs[-1]["started_at"])
        )
        h.since_success_seconds = max(now - since_ref, 0.0)
        if h.expected_interval:
            h.since_success_intervals = h.since_success_seconds / h.expected_interval
        newest = [v for r in rs if (v := _reserved(r, NEWEST_INPUT)) is not None]
        if newest:
            h.freshness_seconds = max(now - max(newest), 0.0)
        h.metrics = run_metrics(rs[0])
        out.append(h)
    return out
