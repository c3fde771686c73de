"""Collector settings from the environment: parsed, or refused with the name and what is allowed."""

from __future__ import annotations

import pytest

from driftline.errors import ConfigError
from driftline.server.settings import Settings


def test_settings_from_environment() -> None:
    s = Settings.from_env(
        {
            "DRIFTLINE_MAX_INFLIGHT": "3",
            "DRIFTLINE_PUBLIC_METRICS": "true",
            "DRIFTLINE_RETENTION_DAYS": "7.5",
            "DRIFTLINE_WINDOW_SIZES": "60,600",
            "DRIFTLINE_SEGMENT_KEYS": "region,tier",
        },
        port=9000,
    )
    assert (s.max_inflight, s.public_metrics, s.retention_days, s.port) == (3, True, 7.5, 9000)
    assert s.windows.sizes == (60, 600) and s.windows.segment_keys == ("region", "tier")


@pytest.mark.parametrize(
    ("env", "match"),
    [
        ({"DRIFTLINE_MAX_INFLIGHT": "many"}, "DRIFTLINE_MAX_INFLIGHT='many'; allowed: a int"),
        ({"DRIFTLINE_PUBLIC_METRICS": "maybe"}, "allowed: a bool"),
        ({"DRIFTLINE_MAX_INFLIGHT": "0"}, "max_inflight=0; allowed: > 0"),
        ({"DRIFTLINE_WINDOW_SIZES": "300,450"}, "not a multiple"),
        ({"DRIFTLINE_WINDOW_SIZES": "5m"}, "comma-separated integer seconds"),
    ],
    ids=["int", "bool", "range", "multiple", "format"],
)
def test_bad_settings_name_the_variable_and_what_is_allowed(
    env: dict[str, str], match: str
) -> None:
    with pytest.raises(ConfigError, match=match):
        Settings.from_env(env)


def test_a_serving_collector_runs_blas_on_one_thread() -> None:
    """BLAS worker threads spin after each call; a collector limits BLAS to one thread
    (server/collector.py, one_blas_thread; called when a serving app starts)."""
    import numpy as np
    from threadpoolctl import threadpool_info

    from driftline.server.collector import one_blas_thread

    np.dot(np.ones(10), np.ones(10))  # BLAS loaded
    limiter = one_blas_thread()
    assert limiter is not None
    try:
        blas = [i for i in threadpool_info() if i["user_api"] == "blas"]
        assert blas and all(i["num_threads"] == 1 for i in blas)
    finally:
        limiter.restore_original_limits()
