"""Multi-window, multi-burn-rate SLO alerts against the SRE workbook's table."""

from __future__ import annotations

import pytest

from driftline.alerts import AlertEngine, parse_alerts_config
from driftline.alerts.points import MetricPoint
from driftline.alerts.rules import SRE_BURN_RATES
from driftline.alerts.slo import budget_remaining, burn_rate
from driftline.sdk.clock import ManualClock

from .conftest import START, set_time

W = 300.0


def test_sre_table_pairs() -> None:
    assert [(b.long, b.short, b.factor, b.severity) for b in SRE_BURN_RATES] == [
        ("1h", "5m", 14.4, "critical"),
        ("6h", "30m", 6, "critical"),
        ("24h", "2h", 3, "warning"),
        ("3d", "6h", 1, "warning"),
    ]


@pytest.mark.parametrize(
    ("factor", "hours", "spent"),
    [(14.4, 1, 0.02), (6, 6, 0.05), (3, 24, 0.10), (1, 72, 0.10)],
    ids=["1h-14.4x-2%", "6h-6x-5%", "24h-3x-10%", "3d-1x-10%"],
)
def test_budget_spent_by_each_pair_matches_the_workbook(
    factor: float, hours: int, spent: float
) -> None:
    """Burning at `factor` for `hours` of a 30-day period spends the workbook's share."""
    objective, per_hour = 0.999, 1000.0
    total = 30 * 24 * per_hour
    bad = factor * (1 - objective) * per_hour * hours
    assert burn_rate(factor * (1 - objective) * 100, 100, objective) == pytest.approx(factor)
    assert 1 - budget_remaining(bad, total, objective) == pytest.approx(spent, abs=1e-3)


def test_no_traffic_is_no_burn() -> None:
    assert burn_rate(0, 0, 0.999) == 0.0
    assert budget_remaining(0, 0, 0.999) == 1.0


def _engine(clock: ManualClock, **slo: object) -> AlertEngine:
    cfg = parse_alerts_config(
        {
            "slos": [{"name": "avail", "kind": "errors", "objective": 0.999, **slo}],
            "receivers": [{"name": "ops"}],
            "route": {"receiver": "ops", "group_wait": "0s"},
        }
    )
    return AlertEngine(cfg, clock=clock)


def _window(e: AlertEngine, clock: ManualClock, i: int, requests: float, errors: float) -> None:
    ws = START + i * W
    set_time(clock, ws + W)
    e.ingest(
        [
            MetricPoint("m", "v1", "*", "request_count", "", ws, ws + W, requests),
            MetricPoint("m", "v1", "*", "error_count", "", ws, ws + W, errors),
        ]
    )


def _firing(e: AlertEngine) -> set[str]:
    return {a.labels["severity"] for a in e.alerts("firing")}


def test_page_fires_above_14_4x_and_not_below(clock: ManualClock) -> None:
    above, below = _engine(clock), _engine(ManualClock(START), burn_rates=[SRE_BURN_RATES[0]])
    for i in range(12):  # one hour of 5-minute windows
        _window(above, clock, i, 1000, 15)  # 1.5% errors = burn 15 > 14.4
        _window(below, below.clock, i, 1000, 14)  # type: ignore[arg-type]
    assert _firing(above) == {"critical", "warning"}  # 15 is over every factor of the table
    assert _firing(below) == set()  # burn 14 < 14.4 on the 1h/5m pair
    (page,) = [a for a in above.alerts("firing") if a.labels["severity"] == "critical"]
    assert page.labels["alertname"] == "slo_avail" and page.labels["slo"] == "avail"
    slo = page.context["slo"]
    assert slo["burn_rates"]["1h"] == pytest.approx(15.0)
    assert slo["burn_rates"]["5m"] == pytest.approx(15.0)
    assert slo["budget_remaining"] == pytest.approx(1 - 15.0)
    assert "error budget left" in page.annotations["description"]


def test_short_window_stops_the_page_quickly(clock: ManualClock) -> None:
    e = _engine(clock, burn_rates=[{"long": "1h", "short": "5m", "factor": 14.4,
                                    "severity": "critical"}])  # fmt: skip
    for i in range(12):
        _window(e, clock, i, 1000, 100)  # 10% errors: burn 100
    assert _firing(e) == {"critical"}
    _window(e, clock, 12, 1000, 0)  # fixed: the 1h window still burns, the 5m one does not
    assert _firing(e) == set()


def test_windows_without_traffic_neither_fire_nor_spend_budget(clock: ManualClock) -> None:
    e = _engine(clock)
    for i in range(24):
        _window(e, clock, i, 0, 0)
    assert e.alerts() == []
    (status,) = e.slo.statuses()
    assert status["budget_remaining"] == 1.0 and status["error_ratio"] is None
    assert all(b == 0.0 for b in status["burn_rates"].values())


def test_latency_slo_counts_requests_above_the_bucket_bound(clock: ManualClock) -> None:
    cfg = parse_alerts_config(
        {
            "slos": [{"name": "fast", "kind": "latency", "objective": 0.99,
                      "threshold_seconds": 0.25}],
            "receivers": [{"name": "ops"}], "route": {"receiver": "ops"},
        }
    )  # fmt: skip
    e = AlertEngine(cfg, clock=clock)
    for i in range(3):
        ws = START + i * W
        set_time(clock, ws + W)
        e.ingest(
            [
                MetricPoint("m", "v1", "*", "request_count", "", ws, ws + W, 1000),
                MetricPoint("m", "v1", "*", "latency_bucket", "", ws, ws + W, 800, {"le": "0.25"}),
                MetricPoint("m", "v1", "*", "latency_bucket", "", ws, ws + W, 990, {"le": "0.5"}),
            ]
        )
    (status,) = e.slo.statuses()
    assert status["error_ratio"] == pytest.approx(0.2)  # 200 of 1000 slower than 0.25 s
    assert status["burn_rates"]["5m"] == pytest.approx(20.0)
    assert {a.labels["severity"] for a in e.alerts("firing")} == {"critical", "warning"}


def test_quality_slo_against_its_baseline(clock: ManualClock) -> None:
    cfg = parse_alerts_config(
        {
            "slos": [{"name": "acc", "kind": "quality", "objective": 0.9, "tolerance": 0.05,
                      "baseline": "1d", "burn_rates": [{"long": "6h", "short": "1h",
                                                        "factor": 2, "severity": "warning"}]}],
            "receivers": [{"name": "ops"}], "route": {"receiver": "ops"},
        }
    )  # fmt: skip
    e = AlertEngine(cfg, clock=clock)
    hour = 3600.0
    for i in range(30):
        ws = START + i * hour
        set_time(clock, ws + hour)
        value = 0.9 if i < 24 else 0.8  # 11% below baseline from hour 24 on
        e.ingest([MetricPoint("m", "v1", "*", "accuracy", "", ws, ws + hour, value)])
        if i == 23:
            assert e.alerts() == []
    assert [a.labels["alertname"] for a in e.alerts("firing")] == ["slo_acc"]


def test_latency_slo_threshold_must_be_a_bucket_bound() -> None:
    from driftline.errors import ConfigError

    with pytest.raises(ConfigError, match=r"threshold_seconds 0.3 must be a latency bucket"):
        parse_alerts_config(
            {"slos": [{"name": "x", "kind": "latency", "objective": 0.99,
                       "threshold_seconds": 0.3}]}
        )  # fmt: skip
