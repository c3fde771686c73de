"""One suite over every registered alert preset, built-in or installed plug-in.

Each preset is driven through a real :class:`AlertEngine` on a manual clock:
values on the safe side of its threshold never raise it, values beyond it
fire after exactly its ``for`` windows and resolve after its
``keep_firing_for`` windows, an override changes what the docs say it
changes, and its declaration is what docs/alerts.md's table says.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pytest

from driftline.alerts import METRICS, AlertEngine, MetricPoint, parse_alerts_config
from driftline.alerts.presets import PRESETS, AlertPreset
from driftline.alerts.presets.registry import SIGNAL_KINDS
from driftline.alerts.replay import RecordingSink
from driftline.alerts.rules import PresetOverride
from driftline.errors import ConfigError, PluginError
from driftline.sdk.clock import ManualClock

from .conftest import START, set_time

W = 300.0
ROOT = Path(__file__).resolve().parents[2]
ALL = list(PRESETS)
IDS = [p.name for p in ALL]
BUILTIN = [p for p in ALL if PRESETS.is_builtin(p.name)]


def _values(preset: AlertPreset) -> tuple[float, float]:
    """A value that breaks the preset's threshold and one that does not (what it compares)."""
    rule = preset.default_rule
    t, op = rule.threshold, rule.op
    d = abs(t) / 2 if t else 1.0
    breach = {">": t + d, ">=": t, "<": t - d, "<=": t, "==": t, "!=": t + d}[op]
    clear = {">": t - d, ">=": t - d, "<": t + d, "<=": t + d, "==": t + d, "!=": t}[op]
    return breach, clear


def _drive(
    preset: AlertPreset, compared: list[float], override: dict[str, Any] | None = None
) -> list[str]:
    """Feed one point per window (after the baseline, if the preset has one); states after each."""
    clock = ManualClock(START)
    cfg = parse_alerts_config(
        {
            "presets": {preset.name: override},
            "route": {"receiver": "r", "group_wait": "0s"},
            "receivers": [{"name": "r"}],
        }
    )
    engine = AlertEngine(cfg, clock=clock, sink=RecordingSink())
    rule = preset.to_rule(None)
    labels = {"job": "nightly", "method": "pca"} | dict(rule.match_labels)
    values = list(compared)
    base = 1.0
    if rule.baseline_windows:  # compared: the relative change against the mean of the baseline
        values = [base] * rule.baseline_windows + [base + v * abs(base) for v in values]
    states = []
    for i, v in enumerate(values):
        set_time(clock, START + (i + 1) * W)
        engine.ingest(
            [
                MetricPoint(
                    model=(rule.model or ["m"])[0].replace("*", "m"),
                    version=(rule.version or ["v1"])[0].replace("*", "v1"),
                    segment="*",
                    metric=rule.metric,
                    column=(rule.column or ["x"])[0].replace("*", "x"),
                    window_start=START + i * W,
                    window_end=START + (i + 1) * W,
                    value=v,
                    labels=labels,
                    n=10_000,
                )
            ]
        )
        alerts = engine.alerts()
        states.append(alerts[0].state.value if alerts else "inactive")
    return states[rule.baseline_windows or 0 :]


def _windows(hold: int | str) -> int:
    from driftline._utils.durations import parse_duration

    return hold if isinstance(hold, int) else max(1, math.ceil(parse_duration(hold) / W))


@pytest.mark.parametrize("preset", ALL, ids=IDS)
def test_declaration(preset: AlertPreset) -> None:
    rule = preset.default_rule
    assert rule.name == preset.name and preset.description and preset.metric == rule.metric
    assert rule.annotations["runbook_url"].endswith(f"#{preset.name}")
    assert "summary" in rule.annotations
    assert issubclass(preset.config, PresetOverride)
    if PRESETS.is_builtin(preset.name):
        assert preset.signal in SIGNAL_KINDS
        assert rule.labels.get("team", rule.team) in ("data", "ml", "ops")
        assert preset.metric in METRICS, f"add {preset.metric} to driftline.alerts.METRICS"


@pytest.mark.parametrize("preset", ALL, ids=IDS)
def test_safe_values_never_raise_it(preset: AlertPreset) -> None:
    _, clear = _values(preset)
    assert set(_drive(preset, [clear] * 6)) == {"inactive"}


@pytest.mark.parametrize("preset", ALL, ids=IDS)
def test_fires_after_for_and_resolves_after_keep_firing_for(preset: AlertPreset) -> None:
    rule = preset.default_rule
    breach, clear = _values(preset)
    hold, keep = _windows(rule.for_), _windows(rule.keep_firing_for)
    states = _drive(preset, [breach] * hold + [clear] * (keep + 1))
    expected = ["pending"] * (hold - 1) + ["firing"] + ["firing"] * keep + ["resolved"]
    assert states == expected


@pytest.mark.parametrize("preset", ALL, ids=IDS)
def test_an_override_changes_only_what_it_sets(preset: AlertPreset) -> None:
    breach, clear = _values(preset)
    # threshold moved past the breaching value: nothing fires; for: 1 fires at once
    rule = preset.default_rule
    moved = breach + (breach - clear) * 2 if rule.op in ("<", "<=", ">", ">=") else None
    if moved is not None:
        assert "firing" not in _drive(preset, [breach] * 4, {"threshold": moved, "for": 1})
    assert _drive(preset, [breach], {"for": 1}) == ["firing"]
    override = {"severity": "info", "labels": {"a": "b"}}
    cfg = parse_alerts_config({"presets": {preset.name: override}})
    (compiled,) = cfg.compiled_rules()
    assert compiled.labels["severity"] == "info" and compiled.labels["a"] == "b"
    assert compiled.threshold == rule.threshold and compiled.metric == rule.metric
    assert compiled.annotations["summary"] == rule.annotations["summary"]


def _docs_rows() -> dict[str, list[str]]:
    text = (ROOT / "docs" / "alerts.md").read_text()
    table = text.split("\n## Presets\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in table.splitlines():
        m = re.match(r"\| `(\w+)` \|", line)
        if m:
            rows[m.group(1)] = [c.strip() for c in line.strip("|").split("|")]
    return rows


def test_docs_table_lists_every_builtin_preset_as_declared() -> None:
    rows = _docs_rows()
    assert sorted(rows) == sorted(p.name for p in BUILTIN)
    metrics = (ROOT / "docs" / "alerts.md").read_text().split("## Metric points", 1)[1]
    metrics = metrics.split("\n## ", 1)[0]
    for p in BUILTIN:
        _, condition, hold, team, severity = rows[p.name]
        rule = p.default_rule
        assert (hold, team, severity) == (str(rule.for_), rule.team, rule.severity), p.name
        assert rule.metric.split(".")[0] in condition, p.name
        assert f"`{rule.metric}`" in metrics, f"docs/alerts.md, Metric points: {rule.metric}"


def test_a_preset_is_one_registration_call() -> None:
    from driftline.plugins import Registry

    registry: Registry[AlertPreset] = Registry("alert preset", "no.such.group", AlertPreset)
    preset = registry.register(
        AlertPreset(
            name="queue_backlog",
            description="the request queue is backing up",
            signal="service",
            rule={"metric": "queue_depth", "op": ">", "threshold": 100, "for": 2, "team": "ops"},
        )
    )
    assert registry.names() == ("queue_backlog",)
    assert preset.default_rule.annotations["runbook_url"].endswith("#queue_backlog")
    with pytest.raises(PluginError, match="clashes"):
        registry.register(
            AlertPreset(name="queue_backlog", description="", signal="service", rule=preset.rule)
        )


def test_a_bad_declaration_names_the_preset_and_the_key() -> None:
    with pytest.raises(PluginError, match=r"alert preset 'x': key 'rule.op'"):
        AlertPreset(name="x", description="", signal="data", rule={"metric": "m", "op": "=>",
                                                                    "threshold": 1})  # fmt: skip
    with pytest.raises(PluginError, match="a Python identifier"):
        AlertPreset(name="x-y", description="", signal="data", rule={"metric": "m", "threshold": 1})


class _DeadManOverride(PresetOverride):
    """A preset with a setting of its own: how many windows without a run are tolerated."""

    missed_runs: int = 2


def _dead_man_apply(rule: Any, override: PresetOverride) -> Any:
    assert isinstance(override, _DeadManOverride)
    return rule.model_copy(update={"for_": override.missed_runs})


def test_a_preset_with_its_own_config_model(monkeypatch: pytest.MonkeyPatch) -> None:
    preset = AlertPreset(
        name="contract_dead_man",
        description="no job run for a while",
        signal="job",
        rule={"metric": "job_status", "op": ">=", "threshold": 2, "for": 2},
        config=_DeadManOverride,
        apply=_dead_man_apply,
    )
    monkeypatch.setitem(PRESETS._items, preset.name, preset)
    monkeypatch.setitem(PRESETS._origin, preset.name, "test")
    (rule,) = parse_alerts_config(
        {"presets": {"contract_dead_man": {"missed_runs": 4}}}
    ).compiled_rules()
    assert rule.for_windows == 4
    with pytest.raises(ConfigError) as exc:
        parse_alerts_config({"presets": {"contract_dead_man": {"missed": 4}}})
    assert "unknown key 'alerts.presets.contract_dead_man.missed'; allowed:" in str(exc.value)
    assert "missed_runs" in str(exc.value)
    with pytest.raises(ConfigError) as exc:
        parse_alerts_config({"presets": {"error_rate": {"missed_runs": 4}}})
    assert "unknown key 'alerts.presets.error_rate.missed_runs'" in str(exc.value)
