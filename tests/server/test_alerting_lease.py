"""Several replicas, one alert evaluator: the store's alerting lease and its failover.

Two collectors share one store (each with its own clock, as two processes would);
the one holding the lease evaluates rules and notifies a real receiver on loopback.
The leader then dies without a word (it stops ticking and never releases the
lease: what SIGKILL leaves behind); the other takes over once the lease expired,
and every alert reaches the receiver exactly once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from driftline.alerts import parse_alerts_config
from driftline.sdk.clock import ManualClock
from driftline.server.collector import ALERTING_LEASE, Collector
from driftline.server.settings import Settings
from driftline.store import open_store
from driftline.windows import WindowConfig

T0 = 1_767_225_600.0
WINDOW = 60
LEASE = 30.0


def _replica(name: str, url: str, store_url: str) -> tuple[Collector, ManualClock]:
    alerts = parse_alerts_config(
        {
            "rules": [
                {"name": "errors", "metric": "error_rate", "op": ">", "threshold": 0.5,
                 "for": 1, "severity": "critical", "team": "ops"},
            ],
            "receivers": [{"name": "hook", "webhook": {"url": url, "format": "json"}}],
            "route": {"receiver": "hook", "group_wait": "0s", "group_interval": "1m",
                      "repeat_interval": "1000h"},
        }
    )  # fmt: skip
    clock = ManualClock(T0)
    settings = Settings(
        replica=name,
        alerting_lease_seconds=LEASE,
        windows=WindowConfig(sizes=(WINDOW,), grace_seconds=5),
    )
    return Collector(settings, open_store(store_url), clock, alerts=alerts), clock


def _errors(model: str, w: int) -> list[dict[str, Any]]:
    return [
        {"event_id": f"{model}-{w}-{i}", "timestamp": T0 + w * WINDOW + i, "model": model,
         "version": "v1", "features": {"x": 1.0}, "prediction": 1, "status": "error",
         "error_type": "Timeout"}
        for i in range(40)
    ]  # fmt: skip


def _firing(got: list[dict[str, Any]]) -> list[str]:
    return sorted(
        a["labels"]["model"]
        for body in got
        for a in body.get("alerts", [])
        if a["status"] == "firing"
    )


def test_one_replica_evaluates_and_another_takes_over_when_it_dies(
    tmp_path: Path, receiver: tuple[str, list[dict[str, Any]]]
) -> None:
    url, got = receiver
    store_url = f"sqlite:///{tmp_path}/shared.db"
    a, clock_a = _replica("a", url, store_url)
    b, clock_b = _replica("b", url, store_url)

    def tick(*replicas: tuple[Collector, ManualClock], seconds: float = 20.0) -> None:
        for c, clock in replicas:
            clock.advance(seconds)
            c.tick()

    tick((a, clock_a), (b, clock_b))
    assert a.store.lease(ALERTING_LEASE)["holder"] == "a"  # type: ignore[index]
    a.ingest("prediction", _errors("fraud", 0))
    for _ in range(6):  # two minutes: the window closes, is evaluated, the alert fires
        tick((a, clock_a), (b, clock_b))
    assert _firing(got) == ["fraud"]
    assert a.metrics.alerting_leader._value.get() == 1
    assert b.metrics.alerting_leader._value.get() == 0

    # a dies (no release: SIGKILL); b ingests a second failing model's window
    b.ingest("prediction", _errors("churn", 3))
    ticks = 0
    while b.store.lease(ALERTING_LEASE)["holder"] != "b":  # type: ignore[index]
        tick((b, clock_b), seconds=5.0)
        ticks += 1
    assert ticks * 5.0 <= LEASE + 5.0, "failover within the lease plus one tick"
    for _ in range(8):
        tick((b, clock_b))
    # each alert notified once: fraud's is not sent again by the new leader, churn's is sent
    assert _firing(got) == ["churn", "fraud"]

    # a comes back (a restart): it does not take the lease from the live leader
    tick((a, clock_a), (b, clock_b))
    assert a.metrics.alerting_leader._value.get() == 0
    assert _firing(got) == ["churn", "fraud"]
    a.close()
    b.close()


def test_people_act_on_any_replica(
    tmp_path: Path, receiver: tuple[str, list[dict[str, Any]]]
) -> None:
    url, got = receiver
    store_url = f"sqlite:///{tmp_path}/shared.db"
    a, clock_a = _replica("a", url, store_url)
    b, clock_b = _replica("b", url, store_url)
    a.ingest("prediction", _errors("fraud", 0))
    for _ in range(7):
        for c, clock in ((a, clock_a), (b, clock_b)):
            clock.advance(20.0)
            c.tick()
    assert _firing(got) == ["fraud"]
    assert a.alerts is not None and b.alerts is not None
    (alert,) = [x for x in a.alerts.engine.alerts() if x.state.value == "firing"]
    # b does not evaluate alerts; an ack given there reaches the leader's state
    b.alerts.engine.before_people()
    b.alerts.engine.acknowledge(alert.fingerprint, "ann")
    clock_a.advance(20.0)
    a.tick()
    (held,) = [x for x in a.alerts.engine.alerts() if x.fingerprint == alert.fingerprint]
    assert held.acked_by == "ann"
    a.close()
    b.close()
