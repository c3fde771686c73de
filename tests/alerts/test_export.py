"""Exported Prometheus rules pass promtool; Grafana provisioning passes static checks."""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from driftline.alerts.cli import export_app
from driftline.alerts.export import dashboard_problems, dashboards, prometheus_rules
from driftline.errors import ConfigError

from .conftest import require_binary


def promtool_test(promtool: str, where: Path) -> subprocess.CompletedProcess[str]:
    """``promtool test rules driftline.rules.test.yml`` in ``where``."""
    return subprocess.run(
        [promtool, "test", "rules", "driftline.rules.test.yml"], cwd=where,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


@pytest.mark.binary("promtool")
def test_exported_rules_pass_promtool_check_and_tests(tmp_path: Path) -> None:
    promtool = require_binary("promtool")
    result = CliRunner().invoke(export_app, ["prometheus-rules", "--output", str(tmp_path)])
    assert result.exit_code == 0, result.output
    rules = tmp_path / "driftline.rules.yml"
    assert (tmp_path / "driftline.rules.test.yml").is_file()
    check = subprocess.run(
        [promtool, "check", "rules", str(rules)], capture_output=True, text=True, timeout=60
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "SUCCESS: 43 rules found" in check.stdout
    test = promtool_test(promtool, tmp_path)
    assert test.returncode == 0, test.stdout + test.stderr


@pytest.mark.binary("promtool")
def test_promtool_tests_can_fail(tmp_path: Path) -> None:
    """The unit tests are real: a wrong threshold in the rules makes them fail."""
    promtool = require_binary("promtool")
    CliRunner().invoke(export_app, ["prometheus-rules", "--output", str(tmp_path)])
    rules = tmp_path / "driftline.rules.yml"
    rules.write_text(rules.read_text().replace("ratio_rate5m > 0.005", "ratio_rate5m > 0.5"))
    test = promtool_test(promtool, tmp_path)
    assert test.returncode != 0


def test_rules_follow_prometheus_conventions() -> None:
    doc = prometheus_rules()
    recording, alerting, ml = doc["groups"]
    assert all(set(g) == {"name", "rules"} for g in doc["groups"])  # no group-level labels
    for r in recording["rules"]:
        level, metric, ops = r["record"].split(":")
        assert level == "model_version" and metric.startswith("driftline_") and ops
    for r in alerting["rules"] + ml["rules"]:
        assert r["labels"]["severity"] in ("critical", "warning")
        assert r["labels"]["team"] in ("ops", "data", "ml")
        assert r["annotations"]["runbook_url"].startswith("https://")
    page = next(r for r in alerting["rules"] if r["alert"] == "DriftlineErrorsBudgetBurnPage")
    assert "ratio_rate1h > (14.4 * 0.001)" in page["expr"]
    assert "ratio_rate5m > (14.4 * 0.001)" in page["expr"]
    assert "ratio_rate6h > (6 * 0.001)" in page["expr"]
    with pytest.raises(ConfigError, match="must be a latency bucket boundary"):
        prometheus_rules(latency_threshold=0.3)
    # drift held N windows of the collector's base window
    drift = next(r for r in ml["rules"] if r["alert"] == "DriftlineFeatureDrift")
    assert drift["for"] == "15m"
    assert prometheus_rules(window=60, drift_windows=5)["groups"][2]["rules"][0]["for"] == "5m"
    with pytest.raises(ConfigError, match="--drift-windows 0 is not allowed"):
        prometheus_rules(drift_windows=0)


@pytest.mark.binary("promtool")
@pytest.mark.parametrize("window", ["45s", "90s", "1h"])
def test_ml_rule_tests_pass_for_other_windows(tmp_path: Path, window: str) -> None:
    """The drift, accuracy-drop and no-window tests follow the window they are written for."""
    promtool = require_binary("promtool")
    result = CliRunner().invoke(
        export_app, ["prometheus-rules", "-o", str(tmp_path), "--window", window]
    )
    assert result.exit_code == 0, result.output
    test = promtool_test(promtool, tmp_path)
    assert test.returncode == 0, test.stdout + test.stderr


@pytest.mark.binary("promtool")
@pytest.mark.parametrize(
    ("alert", "old", "new"),
    [
        # drift alerting at once contradicts "held 3 windows"
        ("DriftlineFeatureDrift", "for: 15m", "for: 5m"),
        # a dead-man rule waiting for 3 missed intervals misses the case's 2.25
        ("DriftlineJobDeadMan", "driftline_job_since_success_intervals) > 1.5",
         "driftline_job_since_success_intervals) > 3"),
    ],
    ids=["drift-not-held", "dead-man-too-late"],
)  # fmt: skip
def test_the_ml_rule_cases_fail_on_a_wrong_rule(
    tmp_path: Path, alert: str, old: str, new: str
) -> None:
    """The promtool cases are real: a rule changed against its case fails it."""
    promtool = require_binary("promtool")
    CliRunner().invoke(export_app, ["prometheus-rules", "--output", str(tmp_path)])
    rules = tmp_path / "driftline.rules.yml"
    text = rules.read_text()
    at = text.index(f"alert: {alert}")
    assert old in text[at:]
    rules.write_text(text[:at] + text[at:].replace(old, new, 1))
    test = promtool_test(promtool, tmp_path)
    assert test.returncode != 0 and alert in test.stdout + test.stderr


def test_dashboards_pass_static_checks() -> None:
    boards = dashboards()
    assert set(boards) == {
        "driftline-service.json",
        "driftline-model.json",
        "driftline-ml.json",
        "driftline-versions.json",
    }
    for board in boards.values():
        assert dashboard_problems(board) == []
        assert board["schemaVersion"] == 39 and board["id"] is None
        if "rate(" in json.dumps(board):
            assert "$__rate_interval" in json.dumps(board)
        assert board["templating"]["list"][0]["type"] == "datasource"
    assert len({b["uid"] for b in boards.values()}) == 4


def test_static_checks_find_problems() -> None:
    board = copy.deepcopy(dashboards()["driftline-service.json"])
    board["id"] = 7
    board["panels"][1]["id"] = board["panels"][0]["id"]
    board["panels"][2]["gridPos"]["x"] = 20
    board["panels"][3]["targets"][0]["expr"] = "rate(x[5m])"
    board["templating"]["list"] = board["templating"]["list"][1:]
    problems = dashboard_problems(board)
    assert len(problems) == 5, problems


def test_grafana_files(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        export_app, ["grafana", "--output", str(tmp_path), "--prometheus-url", "http://prom:9090"]
    )
    assert result.exit_code == 0, result.output
    ds = yaml.safe_load((tmp_path / "provisioning/datasources/driftline.yaml").read_text())
    assert ds["datasources"][0]["uid"] == "driftline-prometheus"
    assert ds["datasources"][0]["url"] == "http://prom:9090"
    prov = yaml.safe_load((tmp_path / "provisioning/dashboards/driftline.yaml").read_text())
    assert prov["providers"][0]["type"] == "file"
    for f in (tmp_path / "dashboards").glob("*.json"):
        assert dashboard_problems(json.loads(f.read_text())) == []


def test_the_ml_dashboard_charts_feedback_kpis_slices_and_jobs() -> None:
    """Issue 16: the collector's families of these signals each have a Grafana panel."""
    from driftline.signals import SIGNALS

    exprs = json.dumps(dashboards()["driftline-ml.json"])
    kinds = ("feedback.rate", "feedback.share", "feedback.mean", "kpi.", "slices.significant",
             "job_run")  # fmt: skip
    missing = [(s.kind, s.family) for s in SIGNALS if s.kind in kinds and s.family not in exprs]
    assert missing == []
    for family in ("driftline_job_since_success_intervals", "driftline_job_metric",
                   "driftline_job_freshness_seconds", "driftline_kpi_window_start"):  # fmt: skip
        assert family in exprs, family
