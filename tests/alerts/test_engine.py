"""The alert state machine on a manual clock: for, keep_firing_for, grouping, silences, ..."""

from __future__ import annotations

import math
from typing import Any

import pytest

from driftline.alerts import AlertEngine, AlertState, Outcome, parse_alerts_config
from driftline.alerts.replay import RecordingSink
from driftline.errors import ConfigError, InputError
from driftline.sdk.clock import ManualClock

from .conftest import START, point, set_time

W = 300.0


def rule(**kw: Any) -> dict[str, Any]:
    base = {"name": "drift", "metric": "drift_score", "op": ">", "threshold": 0.2, "for": 3}
    return {**base, **kw}


def engine(clock: ManualClock, **cfg: Any) -> tuple[AlertEngine, RecordingSink]:
    cfg.setdefault("route", {"receiver": "ops", "group_wait": "30s", "group_interval": "5m"})
    cfg.setdefault("receivers", [{"name": "ops"}])
    sink = RecordingSink()
    return AlertEngine(parse_alerts_config(cfg), clock=clock, sink=sink), sink


def feed(
    e: AlertEngine, clock: ManualClock, values: list[float], first: int = 0, **kw: Any
) -> list[str]:
    """One point per window; returns the state after each window."""
    states = []
    for k, v in enumerate(values):
        i = first + k
        set_time(clock, START + (i + 1) * W)
        e.ingest(
            [
                point(
                    kw.get("metric", "drift_score"),
                    v,
                    i,
                    kw.get("column", "age"),
                    model=kw.get("model", "m"),
                )
            ]
        )
        alerts = e.alerts()
        states.append(alerts[0].state.value if alerts else "inactive")
    return states


def test_pending_for_n_windows_then_firing_then_resolved(clock: ManualClock) -> None:
    e, _ = engine(clock, rules=[rule()])
    states = feed(e, clock, [0.1, 0.5, 0.5, 0.5, 0.5, 0.1])
    assert states == ["inactive", "pending", "pending", "firing", "firing", "resolved"]
    (alert,) = e.alerts()
    assert alert.active_since == START + 1 * W  # the first breaching window
    assert alert.fired_at == START + 4 * W  # end of the third breaching window
    assert alert.resolved_at == START + 6 * W


def test_one_clear_window_resets_pending(clock: ManualClock) -> None:
    e, _ = engine(clock, rules=[rule()])
    states = feed(e, clock, [0.5, 0.5, 0.1, 0.5, 0.5, 0.5])
    assert states == ["pending", "pending", "inactive", "pending", "pending", "firing"]


def test_missing_window_resets_pending(clock: ManualClock) -> None:
    e, _ = engine(clock, rules=[rule()])
    feed(e, clock, [0.5, 0.5], first=0)
    assert feed(e, clock, [0.5], first=3) == ["pending"]  # window 2 never came
    assert e.alerts()[0].breaches == 1


def test_for_as_duration(clock: ManualClock) -> None:
    e, _ = engine(clock, rules=[rule(**{"for": "10m"})])
    assert feed(e, clock, [0.5, 0.5, 0.5]) == ["pending", "firing", "firing"]


def test_keep_firing_for_prevents_flapping(clock: ManualClock) -> None:
    e, _ = engine(clock, rules=[rule(**{"for": 1, "keep_firing_for": 2})])
    states = feed(e, clock, [0.5, 0.1, 0.5, 0.1, 0.1, 0.1])
    assert states == ["firing", "firing", "firing", "firing", "firing", "resolved"]
    transitions = [a.to_state for a in e.audit() if a.kind == "state"]
    assert transitions == ["pending", "firing", "resolved"]  # one episode, not three


def test_without_keep_firing_for_it_flaps(clock: ManualClock) -> None:
    e, _ = engine(clock, rules=[rule(**{"for": 1})])
    assert feed(e, clock, [0.5, 0.1, 0.5]) == ["firing", "resolved", "firing"]


def test_old_and_duplicate_windows_are_ignored(clock: ManualClock) -> None:
    e, _ = engine(clock, rules=[rule(**{"for": 2})])
    feed(e, clock, [0.5])
    assert e.ingest([point("drift_score", 0.5, 0, "age")]) == []  # the same window again
    assert e.alerts()[0].breaches == 1


def test_nan_is_no_data(clock: ManualClock) -> None:
    e, _ = engine(clock, rules=[rule(**{"for": 1})])
    assert feed(e, clock, [0.5, math.nan, math.nan]) == ["firing"] * 3


def test_resolve_timeout_when_series_stops(clock: ManualClock) -> None:
    e, _ = engine(clock, rules=[rule(**{"for": 1})], resolve_timeout="30m")
    feed(e, clock, [0.5])
    clock.advance(29 * 60)
    e.tick()
    assert e.alerts()[0].state is AlertState.FIRING
    clock.advance(60)
    e.tick()
    assert e.alerts()[0].state is AlertState.RESOLVED
    assert e.audit()[-1].actor == "engine (no data)"


def test_selectors_and_fingerprints(clock: ManualClock) -> None:
    e, _ = engine(clock, rules=[rule(**{"for": 1, "column": ["ag*"], "model": "m"})])
    e.ingest(
        [
            point("drift_score", 0.9, 0, "age"),
            point("drift_score", 0.9, 0, "income"),
            point("drift_score", 0.9, 0, "age", model="other"),
            point("missing_ratio", 0.9, 0, "age"),
        ]
    )
    (alert,) = e.alerts()
    assert alert.labels["column"] == "age" and alert.labels["model"] == "m"
    assert len(alert.fingerprint) == 16
    e2, _ = engine(ManualClock(START), rules=[rule(**{"for": 1})])
    e2.ingest([point("drift_score", 0.9, 0, "age")])
    assert e2.alerts()[0].fingerprint == alert.fingerprint  # stable across engines


def test_baseline_compares_relative_change(clock: ManualClock) -> None:
    r = rule(
        name="acc", metric="accuracy", op="<", threshold=-0.1, baseline_windows=3, **{"for": 1}
    )
    e, _ = engine(clock, rules=[r])
    states = feed(e, clock, [0.8, 0.82, 0.78, 0.79, 0.6, 0.6], metric="accuracy", column="")
    assert states == ["inactive"] * 4 + ["firing", "firing"]
    base = (0.82 + 0.78 + 0.79) / 3  # the last 3 windows before the drop; frozen while breaching
    assert e.alerts()[0].value == pytest.approx((0.6 - base) / base)


def test_preset_baseline_windows_can_be_overridden(clock: ManualClock) -> None:
    """accuracy_drop ships a 12-window baseline; with 3 it decides after 3 windows."""
    override = {"baseline_windows": 3, "for": 1, "min_samples": 0, "uncertainty": "ignore"}
    e, _ = engine(clock, presets={"accuracy_drop": override})
    states = feed(e, clock, [0.8, 0.82, 0.78, 0.79, 0.6], metric="accuracy", column="")
    assert states == ["inactive"] * 4 + ["firing"]
    base = (0.82 + 0.78 + 0.79) / 3
    assert e.alerts()[0].value == pytest.approx((0.6 - base) / base)


def test_context_has_value_threshold_since_top_columns_and_links(clock: ManualClock) -> None:
    e, _ = engine(
        clock,
        presets={"drift_top_feature": {"for": 1}},
        dashboard_url="http://dash/models/{{ $labels.model }}?v={{ $labels.version }}",
    )
    set_time(clock, START + W)
    e.ingest(
        [
            point("drift_detected", 1, 0, "age"),
            point("drift_score", 0.61, 0, "age"),
            point("drift_score", 0.3, 0, "income"),
            point("drift_detected", 0, 0, "income"),
            point("drift_score", 0.05, 0, "tenure"),
        ]
    )
    (alert,) = e.alerts()
    ctx = alert.context
    assert ctx["value"] == 1 and ctx["threshold"] == 1 and ctx["since"] == START
    assert [t["column"] for t in ctx["top_columns"]] == ["age", "income", "tenure"]
    assert ctx["dashboard_url"] == "http://dash/models/m?v=v1"
    assert alert.annotations["runbook_url"].endswith("#drift_top_feature")
    assert alert.annotations["summary"] == "feature age of m drifted"
    assert (
        "top columns by drift_score: age (0.61), income (0.3)" in alert.annotations["description"]
    )


# -- grouping, intervals --------------------------------------------------


def test_group_wait_groups_by_model_and_owner(clock: ManualClock) -> None:
    e, _ = engine(clock, rules=[rule(**{"for": 1})], owners={"m": "alice"})
    set_time(clock, START + W)
    e.ingest(
        [
            point("drift_score", 0.9, 0, "age"),
            point("drift_score", 0.9, 0, "income"),
            point("drift_score", 0.9, 0, "age", model="n"),
        ]
    )
    assert e.tick() == []  # group_wait 30s
    clock.advance(30)
    sent = e.tick()
    assert sorted((n.group_labels["model"], len(n.alerts)) for n in sent) == [("m", 2), ("n", 1)]
    m = next(n for n in sent if n.group_labels["model"] == "m")
    assert m.group_labels == {"model": "m", "owner": "alice"}
    assert m.status == "firing"


def test_group_interval_and_repeat_interval(clock: ManualClock) -> None:
    e, _ = engine(
        clock,
        rules=[rule(**{"for": 1})],
        route={
            "receiver": "ops",
            "group_wait": "0s",
            "group_interval": "5m",
            "repeat_interval": "1h",
        },
    )
    set_time(clock, START + W)
    e.ingest([point("drift_score", 0.9, 0, "age")])
    assert len(e.tick()) == 1
    e.ingest([point("drift_score", 0.9, 0, "income")])  # joins the group
    clock.advance(60)
    assert e.tick() == []  # not before group_interval
    clock.advance(240)
    (n,) = e.tick()
    assert len(n.alerts) == 2
    sent = []
    for _ in range(12):  # nothing changes for an hour: one repeat
        clock.advance(300)
        sent += e.tick()
    assert len(sent) == 1 and len(sent[0].alerts) == 2


def test_resolved_notification_keeps_fingerprint(clock: ManualClock) -> None:
    e, _ = engine(
        clock,
        rules=[rule(**{"for": 1})],
        route={"receiver": "ops", "group_wait": "0s", "group_interval": "1m"},
    )
    feed(e, clock, [0.9])
    (fired,) = e.tick()
    feed(e, clock, [0.1], first=1)
    clock.advance(60)
    (resolved,) = e.tick()
    assert resolved.status == "resolved"
    assert resolved.alerts[0].fingerprint == fired.alerts[0].fingerprint
    assert resolved.alerts[0].ends_at == START + 2 * W
    clock.advance(3600)
    assert e.tick() == []


def test_send_resolved_false(clock: ManualClock) -> None:
    e, _ = engine(
        clock,
        rules=[rule(**{"for": 1})],
        receivers=[{"name": "ops", "send_resolved": False}],
        route={"receiver": "ops", "group_wait": "0s", "group_interval": "1m"},
    )
    feed(e, clock, [0.9])
    assert len(e.tick()) == 1
    feed(e, clock, [0.1], first=1)
    clock.advance(60)
    assert e.tick() == []


def test_ack_stops_repeats(clock: ManualClock) -> None:
    e, _ = engine(
        clock,
        rules=[rule(**{"for": 1})],
        route={"receiver": "ops", "group_wait": "0s", "repeat_interval": "1h"},
    )
    feed(e, clock, [0.9])
    (n,) = e.tick()
    e.acknowledge(n.alerts[0].fingerprint, by="alice", comment="looking")
    sent = []
    for k in range(1, 25):  # two more hours of breaching windows: no repeat
        feed(e, clock, [0.9], first=k)
        sent += e.tick()
    assert sent == []
    ack = [a for a in e.audit() if a.kind == "ack"]
    assert ack[0].actor == "alice" and ack[0].detail["comment"] == "looking"


# -- silences and inhibition ----------------------------------------------


def test_silence_mutes_until_expiry_then_notifies(clock: ManualClock) -> None:
    e, _ = engine(
        clock,
        rules=[rule(**{"for": 1})],
        route={"receiver": "ops", "group_wait": "0s", "group_interval": "1m"},
    )
    s = e.add_silence(["column=age"], duration="10m", created_by="bob", comment="known issue")
    feed(e, clock, [0.9])
    assert e.tick() == []
    assert e.muted_by(e.alerts()[0]) == f"silence:{s.id}"
    assert e.alerts()[0].state is AlertState.FIRING  # state still moves
    set_time(clock, s.ends_at)
    (n,) = e.tick()
    assert n.alerts[0].labels["column"] == "age"
    audit = [a for a in e.audit() if a.kind == "silence"]
    assert audit[0].actor == "bob" and audit[0].detail["comment"] == "known issue"


def test_expire_silence_early(clock: ManualClock) -> None:
    e, _ = engine(
        clock,
        rules=[rule(**{"for": 1})],
        route={"receiver": "ops", "group_wait": "0s", "group_interval": "1m"},
    )
    s = e.add_silence({"alertname": "drift"}, duration="1d", created_by="bob", comment="x")
    feed(e, clock, [0.9])
    assert e.tick() == []
    e.expire_silence(s.id, by="carol")
    clock.advance(60)
    assert len(e.tick()) == 1
    assert [a.actor for a in e.audit() if a.kind == "silence"] == ["bob", "carol"]


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"created_by": "", "comment": "x", "duration": "1h"}, "created_by and a comment"),
        ({"created_by": "a", "comment": "x"}, "exactly one of duration or ends_at"),
        ({"created_by": "a", "comment": "x", "ends_at": START - 1}, "must be after"),
    ],
    ids=["no-author", "no-end", "end-before-start"],
)
def test_silence_needs_author_comment_and_end(clock: ManualClock, kw: Any, message: str) -> None:
    e, _ = engine(clock, rules=[rule()])
    with pytest.raises(InputError, match=message):
        e.add_silence(["column=age"], **kw)


def test_schema_violation_inhibits_drift_on_same_column(clock: ManualClock) -> None:
    e, _ = engine(
        clock,
        presets={"schema_violation": None, "drift_top_feature": {"for": 1}},
        route={"receiver": "ops", "group_wait": "0s"},
    )
    set_time(clock, START + W)
    e.ingest(
        [
            point("schema_violations", 1, 0, "income"),
            point("drift_detected", 1, 0, "income"),
            point("drift_detected", 1, 0, "age"),
            point("schema_violations", 0, 0, "age"),
        ]
    )
    assert {a.labels["alertname"] + ":" + a.labels["column"] for a in e.alerts("firing")} == {
        "schema_violation:income",
        "drift_top_feature:income",
        "drift_top_feature:age",
    }
    sent = {(a.labels["alertname"], a.labels["column"]) for n in e.tick() for a in n.alerts}
    assert sent == {("schema_violation", "income"), ("drift_top_feature", "age")}
    drift_income = next(
        a
        for a in e.alerts()
        if a.labels["alertname"] == "drift_top_feature" and a.labels["column"] == "income"
    )
    assert (e.muted_by(drift_income) or "").startswith("inhibited:")


# -- routing --------------------------------------------------------------


def test_routing_first_match_wins_unless_continue(clock: ManualClock) -> None:
    route = {
        "receiver": "ops",
        "group_wait": "0s",
        "routes": [
            {"matchers": ["team=data"], "receiver": "data", "continue": True},
            {"matchers": ["severity=~critical|error"], "receiver": "pager"},
            {"matchers": ["team=data"], "receiver": "data-2"},
            {
                "matchers": ["model=m"],
                "receiver": "m-owner",
                "routes": [{"matchers": ["column=age"], "receiver": "age-owner"}],
            },
        ],
    }
    receivers = [{"name": n} for n in ("ops", "data", "pager", "data-2", "m-owner", "age-owner")]
    e, _ = engine(
        clock,
        route=route,
        receivers=receivers,
        rules=[
            rule(name="a", **{"for": 1}, team="data", severity="critical", column="x"),
            rule(name="b", **{"for": 1}, team="data", severity="warning", column="y"),
            rule(name="c", **{"for": 1}, team="ml", column="age"),
            rule(name="d", **{"for": 1}, team="ml", column="income"),
            rule(name="e", **{"for": 1}, team="ml", column="z", model="other"),
        ],
    )
    set_time(clock, START + W)
    e.ingest([point("drift_score", 0.9, 0, c) for c in ("x", "y", "age", "income")])
    e.ingest([point("drift_score", 0.9, 0, "z", model="other")])
    got: dict[str, set[str]] = {}
    for n in e.tick():
        for a in n.alerts:
            got.setdefault(a.labels["alertname"], set()).add(n.receiver)
    assert got == {
        "a": {"data", "pager"},
        "b": {"data", "data-2"},
        "c": {"age-owner"},
        "d": {"m-owner"},
        "e": {"ops"},
    }


def test_children_inherit_intervals(clock: ManualClock) -> None:
    from driftline.alerts.routing import Route

    cfg = parse_alerts_config(
        {
            "route": {
                "receiver": "ops",
                "group_wait": "10s",
                "group_by": ["model"],
                "routes": [{"matchers": ["team=ml"], "receiver": "ml", "repeat_interval": "1h"}],
            },
            "receivers": [{"name": "ops"}, {"name": "ml"}],
        }
    )
    (child,) = Route.build(cfg.route).match({"team": "ml"})
    assert (child.receiver, child.group_wait, child.group_by) == ("ml", 10.0, ("model",))
    assert (child.group_interval, child.repeat_interval) == (300.0, 3600.0)


# -- people: outcomes, precision, audit, persistence ----------------------


def test_outcomes_give_precision_per_rule(clock: ManualClock) -> None:
    e, _ = engine(clock, rules=[rule(**{"for": 1})])
    feed(e, clock, [0.9, 0.1, 0.9, 0.1, 0.9, 0.1])  # three episodes
    fp = e.alerts()[0].fingerprint
    outcomes = [Outcome.TRUE_POSITIVE, Outcome.FALSE_POSITIVE, "not_actionable"]
    episode_events = [a for a in e.audit() if a.kind == "state" and a.to_state == "firing"]
    assert len(episode_events) == 3
    # label each episode right after it fired
    e2, _ = engine(ManualClock(START), rules=[rule(**{"for": 1})])
    for k, outcome in enumerate(outcomes):
        feed(e2, e2.clock, [0.9], first=2 * k)  # type: ignore[arg-type]
        e2.set_outcome(fp, outcome, by="alice")
        feed(e2, e2.clock, [0.1], first=2 * k + 1)  # type: ignore[arg-type]
    p = e2.precision()["drift"]
    assert (p.fired, p.true_positive, p.false_positive, p.not_actionable) == (3, 1, 1, 1)
    assert p.precision == 0.5 and p.actionable_precision == pytest.approx(1 / 3)
    with pytest.raises(InputError, match="allowed: true_positive, false_positive, not_actionable"):
        e2.set_outcome(fp, "maybe", by="alice")


def test_every_state_change_is_audited(clock: ManualClock) -> None:
    e, _ = engine(clock, rules=[rule(**{"for": 2})])
    feed(e, clock, [0.9, 0.9, 0.1])
    trail = [(a.from_state, a.to_state, a.actor) for a in e.audit() if a.kind == "state"]
    assert trail == [
        ("inactive", "pending", "engine"),
        ("pending", "firing", "engine"),
        ("firing", "resolved", "engine"),
    ]


def test_state_survives_restart_on_sql_store(clock: ManualClock, tmp_path: Any) -> None:
    from driftline.alerts import SQLAlertStore

    store = SQLAlertStore(f"sqlite:///{tmp_path / 'alerts.db'}")
    store.create_tables()
    cfg = parse_alerts_config(
        {"rules": [rule()], "receivers": [{"name": "ops"}], "route": {"receiver": "ops"}}
    )
    e = AlertEngine(cfg, store=store, clock=clock)
    feed(e, clock, [0.9, 0.9, 0.9])
    fp = e.alerts()[0].fingerprint
    e.acknowledge(fp, by="alice")
    again = AlertEngine(cfg, store=SQLAlertStore(store.engine), clock=clock)
    (alert,) = again.alerts()
    assert (alert.state, alert.acked_by, alert.breaches) == (AlertState.FIRING, "alice", 3)
    assert [a.to_state for a in again.audit(fp) if a.kind == "state"] == ["pending", "firing"]


def test_unknown_fingerprint_and_ack_of_pending(clock: ManualClock) -> None:
    e, _ = engine(clock, rules=[rule()])
    with pytest.raises(InputError, match="no alert with fingerprint"):
        e.acknowledge("nope", by="a")
    feed(e, clock, [0.9])
    with pytest.raises(InputError, match="only firing alerts"):
        e.acknowledge(e.alerts()[0].fingerprint, by="a")
    with pytest.raises(ConfigError, match="no rule named 'x'"):
        e.rule("x")


def test_restart_neither_resends_nor_loses_notifications(clock: ManualClock, tmp_path: Any) -> None:
    from driftline.alerts import SQLAlertStore

    url = f"sqlite:///{tmp_path / 'alerts.db'}"
    SQLAlertStore(url).create_tables()
    cfg = parse_alerts_config(
        {
            "rules": [rule(**{"for": 1})],
            "receivers": [{"name": "ops"}],
            "route": {"receiver": "ops", "group_wait": "30s", "group_interval": "5m"},
        }
    )

    def start() -> tuple[AlertEngine, RecordingSink]:
        sink = RecordingSink()
        return AlertEngine(cfg, store=SQLAlertStore(url), clock=clock, sink=sink), sink

    e, sink = start()
    feed(e, clock, [0.9], column="age")
    e.tick()
    assert sink.notifications == []  # the age group waits 30 s
    e, sink = start()  # restart during group_wait: the wait goes on, nothing is lost
    clock.advance(30)
    e.tick()
    assert [n.status for n in sink.notifications] == ["firing"]
    e, sink = start()  # restart after sending: nothing is sent again
    for _ in range(3):
        clock.advance(300)
        e.tick()
    assert sink.notifications == []
    feed(e, clock, [0.9], first=4, column="age")
    assert [a.breaches for a in e.alerts()] == [2]
    e, sink = start()
    feed(e, clock, [0.1], first=5, column="age")
    clock.advance(300)
    e.tick()
    assert [n.status for n in sink.notifications] == ["resolved"]  # sent by the new process


def test_restart_does_not_replay_windows_already_evaluated(
    clock: ManualClock, tmp_path: Any
) -> None:
    from driftline.alerts import SQLAlertStore

    url = f"sqlite:///{tmp_path / 'alerts.db'}"
    SQLAlertStore(url).create_tables()
    cfg = parse_alerts_config(
        {"rules": [rule()], "receivers": [{"name": "ops"}], "route": {"receiver": "ops"}}
    )
    e = AlertEngine(cfg, store=SQLAlertStore(url), clock=clock)
    feed(e, clock, [0.9, 0.9])
    again = AlertEngine(cfg, store=SQLAlertStore(url), clock=clock)
    assert again.ingest([point("drift_score", 0.9, 1, "age")]) == []  # window 1 again
    assert again.alerts()[0].breaches == 2
