"""The alerts: section is validated with errors that name the key, the value and what is allowed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from driftline.alerts import PRESETS, load_alerts_config, parse_alerts_config
from driftline.errors import ConfigError


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"rules": [{"name": "x", "metric": "m", "threshold": 1, "op": "=>"}]},
         "key 'alerts.rules.0.op': value '=>' is not allowed: Input should be '>', '>=', '<', "
         "'<=', '==' or '!='"),
        ({"rules": [{"name": "x", "metric": "m", "threshold": 1, "for": "soon"}]},
         "key 'alerts.rules.0.for': value 'soon' is not allowed: a duration is a number with a "
         "unit (ms, s, m, h, d, w), e.g. 5m or 1h"),
        ({"rules": [{"name": "x", "metric": "m", "threshold": 1, "severity": "page"}]},
         "key 'alerts.rules.0.severity': value 'page' is not allowed: Input should be "
         "'critical', 'error', 'warning' or 'info'"),
        ({"rules": [{"name": "x", "metric": "m", "threshold": 1, "colour": "red"}]},
         "unknown key 'alerts.rules.0.colour'; allowed: severity, team, owner, labels, "
         "annotations, model, version, segment, column, match_labels, window, name, metric, op, "
         "threshold, for, keep_firing_for, baseline_windows"),
        ({"presets": ["drift"]},
         "key 'alerts.presets': value ['drift'] is not allowed: unknown preset 'drift'; allowed: "
         + ", ".join(PRESETS.names())),
        ({"rules": [{"name": "x", "metric": "m", "threshold": 1,
                     "annotations": {"summary": "{{ $val }}"}}]},
         "unknown template variable {{ $val }}; allowed: {{ $value }}, {{ $threshold }}, "
         "{{ $labels.NAME }}"),
        ({"route": {"receiver": "nobody"}},
         "route.receiver: unknown receiver 'nobody'; allowed: ops, data-owners, ml-owners"),
        ({"route": {"receiver": "ops", "routes": [{"matchers": ["team"]}]}},
         "matcher 'team' must look like label=value"),
        ({"receivers": [{"name": "r", "webhook": {}}], "route": {"receiver": "r"}},
         "give exactly one of url or url_env"),
        ({"receivers": [{"name": "r", "pagerduty": {"routing_key": "abc"}}],
          "route": {"receiver": "r"}},
         "unknown key 'alerts.receivers.0.pagerduty.routing_key'; allowed: routing_key_env, url, "
         "source"),
        ({"slos": [{"name": "s", "kind": "errors", "objective": 1.5}]},
         "key 'alerts.slos.0.objective': value 1.5 is not allowed: Input should be less than 1"),
        ({"rules": [{"name": "a", "metric": "m", "threshold": 1}] * 2},
         "rule names must be unique; repeated: a"),
        ({"presets": {"error_rate": {"baseline_windows": 6}}},
         "alerts.presets.error_rate.baseline_windows: error_rate compares the raw value with its "
         "threshold, not a change against a baseline"),
        ({"presets": {"accuracy_drop": {"baseline_windows": 0}}},
         "key 'alerts.presets.accuracy_drop.baseline_windows': value 0 is not allowed: Input "
         "should be greater than or equal to 1"),
    ],
    ids=["op", "for", "severity", "unknown-key", "preset", "template", "route-receiver",
         "matcher", "webhook-url", "secret-in-file", "objective", "duplicate-rule",
         "baseline-on-raw-preset", "baseline-zero"],
)  # fmt: skip
def test_errors_name_key_value_and_allowed(section: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_alerts_config(section)
    assert message in str(exc.value)


def test_preset_override_keeps_the_rest() -> None:
    cfg = parse_alerts_config(
        {"presets": {"p99_latency": {"threshold": 0.5, "model": "credit_risk"}, "error_rate": None},
         "owners": {"credit_risk": "risk-team"}}
    )  # fmt: skip
    p99, errors = cfg.compiled_rules()
    assert (p99.name, p99.threshold, p99.for_windows, p99.model) == (
        "p99_latency", 0.5, 3, ("credit_risk",),
    )  # fmt: skip
    assert p99.labels["owner"] == "risk-team" and p99.labels["team"] == "ops"
    assert errors.threshold == 0.005


def test_every_preset_compiles_with_runbook_and_summary() -> None:
    cfg = parse_alerts_config({"presets": list(PRESETS.names())})
    rules = cfg.compiled_rules()
    assert [r.name for r in rules] == list(PRESETS.names())
    for r in rules:
        assert r.annotations["runbook_url"].endswith(f"#{r.name}")
        assert "summary" in r.annotations
        assert r.labels["team"] in ("data", "ml", "ops")


def test_load_from_driftline_yaml(tmp_path: Path) -> None:
    path = tmp_path / "driftline.yaml"
    path.write_text(
        "check: {}\n"
        "alerts:\n"
        "  presets: [drift_top_feature]\n"
        "  rules:\n"
        "    - {name: income_missing, metric: missing_ratio, column: income, threshold: 0.1,\n"
        "       for: 2, team: data}\n"
    )
    cfg = load_alerts_config(path)
    assert [r.name for r in cfg.compiled_rules()] == ["drift_top_feature", "income_missing"]
    path.write_text("alerts:\n  rules:\n    - {name: x, metric: m}\n")
    with pytest.raises(ConfigError, match=r"config file .*driftline.yaml: key 'alerts.rules.0"):
        load_alerts_config(path)
    path.write_text("alerts: [\n")
    with pytest.raises(ConfigError, match="is not valid YAML"):
        load_alerts_config(path)
