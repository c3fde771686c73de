"""driftline.yaml for ``driftline serve``: settings, precedence, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from driftline.errors import ConfigError
from driftline.server.config import load_serve_config, parse_serve_config

GOOD = """
collector:
  store_url: sqlite:///{db}
  host: 0.0.0.0
  port: 9000
  retention_days: 7
  tick_seconds: 2
  public_metrics: true
  dashboard_url: https://driftline.example.com/ui/
  windows: {sizes: [5m, 1h], grace_seconds: 30, segment_keys: [region]}
alerts:
  presets: [error_rate, drift_top_feature]
  slos:
    - {name: scoring, kind: latency, objective: 0.999, threshold_seconds: 0.25}
  receivers:
    - {name: ops, webhook: {url_env: OPS_WEBHOOK_URL}}
  route: {receiver: ops}
check:
  fail_on: [drift]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "driftline.yaml"
    path.write_text(text)
    return path


def test_the_file_sets_the_collector_and_the_alerts(tmp_path: Path) -> None:
    cfg = load_serve_config(write(tmp_path, GOOD.replace("{db}", str(tmp_path / "c.db"))))
    s = cfg.settings(env={})
    assert (s.store_url, s.host, s.port) == (f"sqlite:///{tmp_path / 'c.db'}", "0.0.0.0", 9000)
    assert (s.retention_days, s.tick_seconds, s.public_metrics) == (7, 2.0, True)
    assert (s.windows.sizes, s.windows.grace_seconds, s.windows.segment_keys) == (
        (300, 3600),
        30,
        ("region",),
    )
    alerts = cfg.alerts_for(s)
    assert alerts is not None
    assert [r.name for r in alerts.compiled_rules()] == [
        "error_rate",
        "drift_top_feature",
        "slo_scoring_critical",
        "slo_scoring_warning",
    ]
    assert alerts.external_url == "https://driftline.example.com/ui"  # links to the dashboard
    assert alerts.dashboard_url is not None
    # alert links go through /ui/explain, which redirects to the view that explains the alert
    assert alerts.dashboard_url.startswith("https://driftline.example.com/ui/explain?")


def test_environment_over_the_file_and_flags_over_both(tmp_path: Path) -> None:
    cfg = load_serve_config(write(tmp_path, GOOD.replace("{db}", str(tmp_path / "c.db"))))
    env = {"DRIFTLINE_PORT": "9100", "DRIFTLINE_TICK_SECONDS": "1", "DRIFTLINE_WINDOW_SIZES": "60"}
    s = cfg.settings(env=env, port=9200, host=None)
    assert (s.port, s.tick_seconds, s.windows.sizes, s.host) == (9200, 1.0, (60,), "0.0.0.0")


def test_the_evaluator_takes_drift_and_quality_settings_like_check() -> None:
    cfg = parse_serve_config(
        {
            "collector": {
                "drift": {"method": "psi", "thresholds": {"psi": 0.3}, "min_samples": 50},
                "quality": {"missing_increase": 0.2},
            }
        }
    )
    ev = cfg.settings(env={}).evaluator
    assert (ev.drift.method, ev.drift.threshold("psi"), ev.drift.min_samples) == ("psi", 0.3, 50)
    assert ev.quality.missing_increase == 0.2
    default = parse_serve_config({}).settings(env={}).evaluator
    assert default.drift.method == "auto" and default.quality.missing_increase == 0.05


def test_no_alerts_section_means_no_alerting_and_default_links(tmp_path: Path) -> None:
    cfg = parse_serve_config({"collector": {"port": 8181}})
    s = cfg.settings(env={})
    assert cfg.alerts is None and cfg.alerts_for(s) is None
    assert cfg.external_url(s) == "http://127.0.0.1:8181/ui"


def test_a_store_url_from_an_environment_variable(tmp_path: Path) -> None:
    cfg = parse_serve_config({"collector": {"store_url_env": "DL_STORE"}})
    assert cfg.settings(env={"DL_STORE": "postgresql://u:pw@db/x"}).store_url == (
        "postgresql://u:pw@db/x"
    )
    with pytest.raises(ConfigError, match=r"collector.store_url_env.*DL_STORE is not set"):
        cfg.settings(env={})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "collectr: {}",
            "unknown key 'collectr'; allowed at the top level: collector, alerts, check",
            id="top-level-typo",
        ),
        pytest.param(
            "collector: {prot: 80}",
            "unknown key 'collector.prot'; allowed: store_url, host, port,",
            id="collector-typo",
        ),
        pytest.param(
            "collector: {port: eighty}",
            "key 'collector.port': value 'eighty' is not allowed: Input should be a valid integer",
            id="port-not-a-number",
        ),
        pytest.param(
            "collector: {max_inflight: 0}",
            "key 'collector.max_inflight': value 0 is not allowed: Input should be greater than 0",
            id="limit-not-positive",
        ),
        pytest.param(
            "collector: {windows: {sizes: [5m, soon]}}",
            "key 'collector.windows.sizes.1': value 'soon' is not allowed",
            id="window-size-not-a-duration",
        ),
        pytest.param(
            "collector: {windows: {sizes: [5m, 7m]}}",
            "key 'collector.windows': window sizes=[300, 420]: [420] is not a multiple",
            id="window-sizes-not-multiples",
        ),
        pytest.param(
            "collector: {windows: {grace: 10}}",
            "unknown key 'collector.windows.grace'; allowed: sizes, grace_seconds,",
            id="windows-typo",
        ),
        pytest.param(
            "collector: {store_url: 'postgresql://app:hunter2@db:5432/driftline'}",
            "key 'collector.store_url': the URL holds a password; secrets are not allowed",
            id="password-in-file",
        ),
        pytest.param(
            "alerts: {rules: [{name: r, metric: error_rate, op: '=>', threshold: 1}]}",
            "key 'alerts.rules.0.op': value '=>' is not allowed",
            id="alert-rule-op",
        ),
        pytest.param(
            "alerts: {receivers: [{name: ops, slack: {webhook_url: 'https://hooks'}}]}",
            "unknown key 'alerts.receivers.0.slack.webhook_url'; allowed: webhook_url_env",
            id="secret-value-in-file",
        ),
        pytest.param(
            "alerts: {rules: [{name: r, metric: error_rate, threshold: 1, window: 1h}]}",
            "key 'alerts.rules.0.window': value '1h' is not allowed: the collector alerts on its "
            "base window only; allowed: 5m",
            id="rule-on-another-window",
        ),
        pytest.param(
            "check: {fail_on: [everything]}",
            "key 'check.fail_on.0'",
            id="check-section",
        ),
        pytest.param(
            "collector: {drift: {method: psy}}",
            "key 'collector.drift.method': value 'psy' is not allowed: unknown drift method",
            id="drift-method",
        ),
        pytest.param(
            "collector: {drift: {data_driven_thresholds: true}}",
            "key 'collector.drift.data_driven_thresholds': applies to driftline check",
            id="drift-check-only-option",
        ),
        pytest.param(
            "collector: {quality: {missing: 0.2}}",
            "key 'collector.quality': unknown quality threshold 'missing'; allowed:",
            id="quality-threshold-name",
        ),
        pytest.param(
            "check: {colour: red}",
            "unknown key 'check.colour'; allowed: columns, drift, quality, performance, fail_on",
            id="check-typo",
        ),
        pytest.param("- just\n- a list", "must hold a mapping", id="not-a-mapping"),
    ],
)
def test_errors_name_the_file_and_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_serve_config(path).settings(env={})
    assert str(info.value).startswith(f"config file {path}: "), str(info.value)
    assert message in str(info.value), str(info.value)


def test_serve_reports_a_bad_file_and_a_missing_secret_and_exits_2(tmp_path: Path) -> None:
    import typer

    from driftline.server.cli import serve

    app = typer.Typer(add_completion=False)
    app.command("serve")(serve)
    app.command("other")(lambda: None)
    runner = CliRunner()
    bad = write(tmp_path, "collector: {port: eighty}")
    result = runner.invoke(app, ["serve", "--config", str(bad)])
    assert result.exit_code == 2
    assert "key 'collector.port'" in result.output
    store = f"sqlite:///{tmp_path / 'c.db'}"
    secret = write(
        tmp_path,
        "alerts: {receivers: [{name: ops, slack: {webhook_url_env: DL_TEST_SLACK_URL}}], "
        "route: {receiver: ops}}",
    )
    result = runner.invoke(app, ["serve", "--config", str(secret), "--store", store], env={})
    assert result.exit_code == 2
    assert "environment variable DL_TEST_SLACK_URL (Slack webhook URL) is not set" in result.output


DOC = Path(__file__).resolve().parents[2] / "docs" / "collector.md"


def test_the_yaml_examples_of_the_collector_docs_are_valid() -> None:
    import re

    import yaml

    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.DOTALL)
    assert blocks
    for text in blocks:
        cfg = parse_serve_config(yaml.safe_load(text))
        cfg.settings(env={"DRIFTLINE_DB_URL": "postgresql://driftline@db/driftline"})


def test_every_collector_key_is_documented() -> None:
    from driftline.server.config import CollectorSection, WindowsSection

    text = DOC.read_text()
    missing = [k for k in CollectorSection.model_fields if f"`{k}`" not in text]
    missing += [k for k in WindowsSection.model_fields if f"`windows.{k}`" not in text]
    assert missing == []


def test_the_windows_section_is_window_config() -> None:
    """One source of truth: every WindowConfig setting, with its default, and its rules."""
    import dataclasses

    from driftline.server.config import WindowsSection
    from driftline.windows import WindowConfig

    settable = [f.name for f in dataclasses.fields(WindowConfig) if f.name not in
                WindowConfig.INTERNAL]  # fmt: skip
    assert list(WindowsSection.model_fields) == settable
    assert WindowsSection().to_config() == WindowConfig()
    for key, value, message in [
        ("max_segments", 0, "window max_segments=0; allowed: a whole number >= 1"),
        ("grace_seconds", -1, "window grace_seconds=-1; allowed: a whole number >= 0"),
        ("seasonal_history", 0, "window seasonal_history=0; allowed: 1 or more"),
        ("shift_windows", 0, "window shift_windows=0; allowed: 1 or more"),
    ]:
        with pytest.raises(ConfigError) as exc:
            parse_serve_config({"collector": {"windows": {key: value}}})
        assert str(exc.value) == f"key 'collector.windows': {message}"
        with pytest.raises(ConfigError, match=message):  # the same rule from Python
            WindowConfig(**{key: value})


def test_the_versions_section_sets_the_comparison_options() -> None:
    cfg = parse_serve_config(
        {"collector": {"versions": {"min_n": 500, "lookback": "2d",
                                    "min_effect": {"accuracy": 0.02}, "bootstrap_resamples": 0}}}
    )  # fmt: skip
    rollouts = cfg.settings(env={}).evaluator.rollouts
    assert rollouts is not None and rollouts.lookback_seconds == 2 * 86_400
    c = rollouts.compare
    assert (c.min_n, dict(c.min_effect), c.bootstrap_resamples, c.alpha) == (
        500, {"accuracy": 0.02}, 0, 0.05,
    )  # fmt: skip
    off = parse_serve_config({"collector": {"versions": {"enabled": False}}})
    assert off.settings(env={}).evaluator.rollouts is None
    default = parse_serve_config({}).settings(env={}).evaluator.rollouts
    from driftline.windows.versions import RolloutOptions

    assert default == RolloutOptions()
    for section, message in [
        ({"alpha": 1.5}, "key 'collector.versions': comparison alpha=1.5; allowed: a number "
                         "between 0 and 1"),
        ({"min_effect": {"f1": 0.1}}, "comparison min_effect.f1=0.1; allowed: keys accuracy, "
                                      "auc, mae, rmse"),
        ({"min_n": 1}, "comparison min_n=1; allowed: a whole number >= 2"),
        ({"lookback": "soon"}, "key 'collector.versions.lookback': value 'soon' is not allowed"),
        ({"minimum": 3}, "unknown key 'collector.versions.minimum'; allowed: enabled, lookback, "
                         "alpha, min_n"),
    ]:  # fmt: skip
        with pytest.raises(ConfigError) as exc:
            parse_serve_config({"collector": {"versions": section}})
        assert message in str(exc.value)
