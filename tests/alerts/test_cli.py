"""``driftline alerts test`` and ``driftline export`` through Typer's runner."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from driftline.alerts.cli import alerts_app, export_app

from .conftest import Receiver

app = typer.Typer()
app.add_typer(alerts_app, name="alerts")
app.add_typer(export_app, name="export")
runner = CliRunner()


def test_alerts_test_drift_with_builtin_presets() -> None:
    result = runner.invoke(app, ["alerts", "test", "--scenario", "drift"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "fault in windows 6..13 (+30m to +70m)" in out
    fired = re.search(
        r"\+(\d+)m\s+FIRING\s+drift_top_feature\s+warning\s+.*column=age.*-> ml-owners", out
    )
    assert fired is not None, out
    assert 40 <= int(fired.group(1)) <= 50  # three consecutive windows after the fault began
    assert re.search(r"RESOLVED\s+drift_top_feature .*column=age", out)
    assert re.search(r"FIRING\s+to ml-owners \(log\): drift_top_feature", out)
    assert "FIRING  error_rate" not in out and "p99_latency" not in out


@pytest.mark.parametrize(
    ("scenario", "rule", "receiver"),
    [("latency", "p99_latency", "ops"), ("job", "job_failed_or_late", "data-owners")],
)
def test_alerts_test_other_scenarios(scenario: str, rule: str, receiver: str) -> None:
    result = runner.invoke(app, ["alerts", "test", "--scenario", scenario, "--windows", "12"])
    assert result.exit_code == 0, result.output
    assert re.search(rf"FIRING\s+{rule}\s.*-> {receiver}", result.output), result.output


def test_alerts_test_with_config_and_send(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ERRORS_HOOK", receiver.url + "/hook")
    config = tmp_path / "driftline.yaml"
    config.write_text(
        "alerts:\n"
        "  presets: {error_rate: {threshold: 0.01}}\n"
        "  receivers:\n"
        "    - {name: oncall, webhook: {url_env: ERRORS_HOOK}}\n"
        "  route: {receiver: oncall, group_wait: 0s}\n"
    )
    result = runner.invoke(
        app, ["alerts", "test", "--scenario", "errors", "--config", str(config), "--send",
              "--windows", "12", "--model", "fraud"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert re.search(r"FIRING\s+to oncall \(webhook\): error_rate", result.output)
    first = receiver.bodies("/hook")[0]
    assert first["version"] == "4" and first["alerts"][0]["labels"]["model"] == "fraud"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scenario", "fire"], "--scenario: 'fire' is not allowed; allowed: drift, latency"),
        ([], "--scenario is needed: one of drift, latency, errors"),  # was "None is not allowed"
        (["--scenario", "drift", "--config", "nope.yaml"], "--config: no such file: nope.yaml"),
        (["--scenario", "drift", "--window", "5 minutes"], "--window: '5 minutes' is not allowed"),
    ],
    ids=["scenario", "no-scenario", "config", "window"],
)
def test_alerts_test_usage_errors(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["alerts", "test", *args])
    assert result.exit_code == 2
    assert message in result.output


def test_bad_config_is_a_usage_error(tmp_path: Path) -> None:
    config = tmp_path / "d.yaml"
    config.write_text("alerts:\n  presets: [nope]\n")
    result = runner.invoke(app, ["alerts", "test", "--scenario", "drift", "--config", str(config)])
    assert result.exit_code == 2 and "unknown preset 'nope'" in result.output


def test_export_grafana_writes_provisioning(tmp_path: Path) -> None:
    result = runner.invoke(app, ["export", "grafana", "--output", str(tmp_path)])
    assert result.exit_code == 0, result.output
    board = json.loads((tmp_path / "dashboards" / "driftline-service.json").read_text())
    assert board["id"] is None and board["uid"] == "driftline-service"
    assert (tmp_path / "provisioning" / "datasources" / "driftline.yaml").exists()
