"""Rules on sampled metrics: a minimum sample, and the threshold against the value's interval."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from driftline.alerts import AlertEngine, MetricPoint, parse_alerts_config
from driftline.errors import ConfigError, InputError
from driftline.sdk.clock import ManualClock
from driftline.stats.performance.uncertainty import proportion_se

T0 = 1_767_225_600.0
W = 300.0


def _engine(rules: list[dict[str, Any]], **section: Any) -> tuple[AlertEngine, ManualClock]:
    clock = ManualClock(T0)
    return AlertEngine(parse_alerts_config({"rules": rules, **section}), clock=clock), clock


def _accuracy(i: int, value: float, n: int | None, stderr: float | None) -> MetricPoint:
    start = T0 + W * i
    return MetricPoint("m", "v1", "*", "accuracy", "", start, start + W, value, n=n, stderr=stderr)


def _run(engine: AlertEngine, clock: ManualClock, points: list[MetricPoint]) -> list[str]:
    moves = []
    for p in points:
        clock.advance(W)
        moves += [f"{t.from_state.value}->{t.to_state.value}" for t in engine.ingest([p])]
    return moves


def _healthy_windows(n_windows: int, n: int, p: float, seed: int = 0) -> list[MetricPoint]:
    """Accuracy of ``n`` labelled predictions per window from a model that is right with ``p``."""
    rng = np.random.default_rng(seed)
    right = rng.binomial(n, p, size=n_windows)
    return [_accuracy(i, k / n, n, proportion_se(k, n)) for i, k in enumerate(right.tolist())]


RULE = {"name": "accuracy_low", "metric": "accuracy", "op": "<", "threshold": 0.85, "for": 2}


def test_a_healthy_model_on_small_windows_flaps_without_the_guards_and_is_quiet_with_them() -> None:
    """The demo's story: a model right 90 % of the time, 25 labelled predictions a window."""
    points = _healthy_windows(200, 25, 0.9)
    bare, clock = _engine([{**RULE, "min_samples": 0, "uncertainty": "ignore"}])
    flaps = _run(bare, clock, points)
    assert flaps.count("pending->inactive") >= 10  # what users saw: pending, inactive, ...
    assert "pending->firing" in flaps
    guarded, clock = _engine([RULE])
    assert _run(guarded, clock, points) == []


def test_interval_alone_keeps_a_healthy_model_quiet_on_large_enough_windows() -> None:
    points = _healthy_windows(200, 150, 0.9, seed=1)
    bare, clock = _engine([{**RULE, "uncertainty": "ignore"}])
    assert _run(bare, clock, points)  # 0.85 is within 1.7 standard errors: it flaps
    guarded, clock = _engine([RULE])
    assert _run(guarded, clock, points) == []


def test_a_real_drop_still_fires_and_resolves() -> None:
    healthy = _healthy_windows(10, 400, 0.9, seed=2)
    rng = np.random.default_rng(3)
    dropped = [
        _accuracy(10 + i, k / 400, 400, proportion_se(k, 400))
        for i, k in enumerate(rng.binomial(400, 0.7, size=4).tolist())
    ]
    again = [
        _accuracy(14 + i, k / 400, 400, proportion_se(k, 400))
        for i, k in enumerate(rng.binomial(400, 0.9, size=3).tolist())
    ]
    engine, clock = _engine([RULE])
    moves = _run(engine, clock, healthy + dropped + again)
    assert moves == ["inactive->pending", "pending->firing", "firing->resolved"]


def test_too_few_rows_hold_the_state_instead_of_deciding() -> None:
    engine, clock = _engine([{**RULE, "for": 1}])
    moves = _run(
        engine,
        clock,
        [
            _accuracy(0, 0.6, 400, 0.02),  # fires
            _accuracy(1, 0.95, 20, 0.05),  # 20 rows: says nothing, stays firing
            _accuracy(2, 0.2, 5, 0.2),
        ],
    )
    assert moves == ["inactive->pending", "pending->firing"]
    (alert,) = engine.alerts()
    assert alert.state.value == "firing"
    assert alert.last_window_end == T0 + 3 * W  # seen: not resolved as "no data"
    assert _run(engine, clock, [_accuracy(3, 0.95, 400, 0.01)]) == ["firing->resolved"]


def test_min_samples_default_is_the_sections_and_a_rule_can_change_it() -> None:
    engine, clock = _engine(
        [{**RULE, "for": 1}, {**RULE, "name": "strict", "for": 1, "min_samples": 10}],
        min_samples=50,
    )
    assert [r.min_samples for r in engine.rules] == [50, 10]
    _run(engine, clock, [_accuracy(0, 0.5, 30, 0.09)])
    assert [a.rule for a in engine.alerts()] == ["strict"]


def test_points_without_n_are_not_held_back() -> None:
    """Counts, latency and drift verdicts carry no sample size: min_samples does not apply."""
    engine, clock = _engine([{**RULE, "for": 1}])
    assert _run(engine, clock, [_accuracy(0, 0.5, None, None)]) == [
        "inactive->pending",
        "pending->firing",
    ]


def test_the_interval_applies_to_the_relative_change_of_a_baseline_rule() -> None:
    rule = {
        "name": "drop",
        "metric": "accuracy",
        "op": "<",
        "threshold": -0.1,
        "baseline_windows": 3,
        "for": 1,
    }
    base = [_accuracy(i, 0.9, 1000, 0.01) for i in range(3)]
    # -13 % relative, but the standard error is 0.05 / 0.9 = 5.6 % of the baseline: unsure
    engine, clock = _engine([rule])
    assert _run(engine, clock, [*base, _accuracy(3, 0.78, 1000, 0.05)]) == []
    engine, clock = _engine([rule])
    moves = _run(engine, clock, [*base, _accuracy(3, 0.78, 1000, 0.01)])
    assert moves == ["inactive->pending", "pending->firing"]


def test_the_interval_widens_with_the_confidence() -> None:
    point = _accuracy(0, 0.80, 400, 0.02)  # 2.5 standard errors below 0.85
    for confidence, fires in ((0.95, True), (0.999, False)):
        engine, clock = _engine([{**RULE, "for": 1, "confidence": confidence}])
        assert bool(_run(engine, clock, [point])) is fires, confidence


def test_bad_settings_name_the_key() -> None:
    with pytest.raises(ConfigError, match=r"alerts.rules.0.min_samples"):
        parse_alerts_config({"rules": [{**RULE, "min_samples": -1}]})
    with pytest.raises(ConfigError, match=r"alerts.rules.0.uncertainty"):
        parse_alerts_config({"rules": [{**RULE, "uncertainty": "maybe"}]})
    with pytest.raises(ConfigError, match=r"alerts.min_samples"):
        parse_alerts_config({"min_samples": "many"})
    with pytest.raises(InputError, match="stderr"):
        _accuracy(0, 0.5, 10, -0.1)


def test_presets_take_the_settings_as_overrides() -> None:
    config = parse_alerts_config(
        {"presets": {"accuracy_drop": {"min_samples": 500, "confidence": 0.99}}}
    )
    (rule,) = config.compiled_rules()
    assert (rule.min_samples, rule.confidence, rule.uncertainty) == (500, 0.99, "interval")
    assert "99% interval" in rule.condition
