"""Pipeline job runs: events and metrics for success and failure."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

import pytest
from prometheus_client import CollectorRegistry

from driftline.sdk import ManualClock, Monitor

MakeMonitor = Callable[..., Monitor]


def test_a_successful_run(make_monitor: MakeMonitor, registry: CollectorRegistry) -> None:
    clock = ManualClock(start=1_700_000_000.0)
    mon = make_monitor(clock=clock)
    scheduled = datetime(2023, 11, 14, 22, 0, tzinfo=timezone.utc)
    with mon.job("embed-docs", scheduled_at=scheduled, run_id="run-42") as run:
        clock.advance(90.0)
        run.rows(rows_in=1000, rows_out=990)
        run.rows(rows_in=10)
        run.metric("vector_store_documents", 120_000)
        run.metric("ingestion_lag_seconds", 35.5)
    assert mon.flush(5)
    (job,) = mon.sink.jobs  # type: ignore[attr-defined]
    assert job == {
        "type": "job_run",
        "event_id": job["event_id"],
        "job": "embed-docs",
        "run_id": "run-42",
        "scheduled_at": "2023-11-14T22:00:00.000000Z",
        "started_at": "2023-11-14T22:13:20.000000Z",
        "finished_at": "2023-11-14T22:14:50.000000Z",
        "status": "success",
        "rows_in": 1010,
        "rows_out": 990,
        "error": None,
        "metrics": {"vector_store_documents": 120_000, "ingestion_lag_seconds": 35.5},
    }
    value = registry.get_sample_value
    assert value("driftline_job_runs_total", {"job": "embed-docs", "status": "success"}) == 1
    assert value("driftline_job_duration_seconds_sum", {"job": "embed-docs"}) == 90.0
    assert value("driftline_job_last_success_timestamp_seconds", {"job": "embed-docs"}) == (
        1_700_000_090.0
    )
    assert value("driftline_job_rows_total", {"job": "embed-docs", "direction": "in"}) == 1010


def test_a_failed_run_is_recorded_and_the_error_re_raised(
    make_monitor: MakeMonitor, registry: CollectorRegistry
) -> None:
    mon = make_monitor()
    with pytest.raises(KeyError), mon.job("retrain"):
        raise KeyError("label column")
    assert mon.flush(5)
    (job,) = mon.sink.jobs  # type: ignore[attr-defined]
    assert (job["status"], job["error"]) == ("failed", "KeyError: 'label column'")
    assert (
        registry.get_sample_value(
            "driftline_job_runs_total", {"job": "retrain", "status": "failed"}
        )
        == 1
    )
    assert (
        registry.get_sample_value(
            "driftline_job_last_success_timestamp_seconds", {"job": "retrain"}
        )
        is None
    )


def test_job_as_decorator_and_async(make_monitor: MakeMonitor) -> None:
    import asyncio

    mon = make_monitor()

    @mon.job("nightly")
    def nightly() -> int:
        return 7

    async def ingest() -> None:
        async with mon.job("ingest") as run:
            run.rows(rows_out=3)

    assert nightly() == 7 and nightly() == 7
    asyncio.run(ingest())
    assert mon.flush(5)
    jobs = mon.sink.jobs  # type: ignore[attr-defined]
    assert [j["job"] for j in jobs] == ["nightly", "nightly", "ingest"]
    assert jobs[0]["run_id"] != jobs[1]["run_id"]
    assert jobs[2]["rows_out"] == 3
