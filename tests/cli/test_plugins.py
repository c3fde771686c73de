"""Plug-ins through entry points: the example package works in compare() and the CLI.

examples/driftline-plugin-example is installed by `make` (the dev install);
it adds the ``energy`` drift method with one source file and one entry point.
The collector side (windows, points, alert rules) is tests/server/test_plugin_collector.py.
"""

from __future__ import annotations

import json
from importlib.metadata import EntryPoint
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import driftline
from driftline.cli import app
from driftline.errors import ConfigError, PluginError
from driftline.plugins import Registry
from driftline.stats.drift.registry import DRIFT_METHODS, NUMERIC, DriftMethod


def _frames(shift: float) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    rng = np.random.default_rng(3)
    ref = {"x": rng.normal(0, 1, 3000), "plan": rng.choice(["a", "b", "c"], 3000)}
    cur = {"x": rng.normal(shift, 1, 3000), "plan": rng.choice(["a", "b", "c"], 3000)}
    return ref, cur


def test_compare_uses_the_plugin_method_where_it_applies() -> None:
    ref, cur = _frames(shift=1.0)
    report = driftline.compare(ref, cur, method="energy").to_dict()
    x, plan = report["columns"]["x"]["drift"], report["columns"]["plan"]["drift"]
    assert x["method"] == "energy" and x["drifted"] is True
    assert x["threshold"] == 0.25 and x["statistic"] > 0.25
    assert x["details"]["energy_distance"] > 0
    # a numeric-only method: the categorical column keeps the default rule, and says so
    assert plan["method"] != "energy" and "method_note" in plan["details"]


def test_identical_data_does_not_drift_and_thresholds_apply() -> None:
    ref, _ = _frames(shift=0.0)
    same = driftline.compare(ref, ref, method="energy").to_dict()
    assert same["columns"]["x"]["drift"]["drifted"] is False
    ref, cur = _frames(shift=1.0)
    lax = driftline.compare(ref, cur, method="energy", thresholds={"energy": 1e6}).to_dict()
    assert lax["columns"]["x"]["drift"]["drifted"] is False


def test_the_cli_offers_and_runs_the_plugin(tmp_path: Path, files: dict[str, Path]) -> None:
    runner = CliRunner()
    out = tmp_path / "report.json"
    args = ["report", str(files["ref"]), str(files["cur"]), "--method", "energy"]
    done = runner.invoke(app, [*args, "--json", str(out), "--output", str(tmp_path / "r.html")])
    assert done.exit_code == 0, done.output
    data = json.loads(out.read_text())
    assert data["columns"]["amount"]["drift"]["method"] == "energy"
    assert data["columns"]["amount"]["drift"]["drifted"] is True, data["columns"]["amount"]["drift"]
    listed = runner.invoke(app, ["plugins"])
    assert listed.exit_code == 0
    assert "energy" in listed.output and "driftline-plugin-example" in listed.output
    assert "jsonl_file" in listed.output and "webhook" in listed.output
    assert "energy_drift" in listed.output and "challenger_worse" in listed.output
    assert "zero_inflation" in listed.output and "cardinality_change" in listed.output
    bad = runner.invoke(app, ["report", str(files["ref"]), str(files["cur"]), "--method", "nope"])
    assert bad.exit_code == 2 and "energy" in bad.output  # the choices include the plug-in


def test_configuration_validation_reads_the_registry() -> None:
    from driftline.config import DriftSettings

    assert DriftSettings(method="energy", thresholds={"energy": 0.3}).method == "energy"
    with pytest.raises(ValueError, match="energy"):
        DriftSettings(method="nope")
    with pytest.raises(ConfigError, match="'energy' does not apply to column 'plan'"):
        driftline.compare(*_frames(0.0), per_column={"plan": "energy"})


def _method(name: str) -> DriftMethod:
    return DriftMethod(name, NUMERIC, False, DRIFT_METHODS["psi"].compute, 0.1, "test")


def test_a_clashing_or_broken_plugin_names_its_entry_point() -> None:
    registry: Registry[DriftMethod] = Registry("drift method", "driftline.none", DriftMethod)
    registry.register(_method("psi"))
    with pytest.raises(PluginError, match="clashes"):
        registry.register(_method("psi"), origin="plug-in 'psi2'")
    broken = EntryPoint("gone", "driftline_no_such_module:METHOD", "driftline.drift_methods")
    with pytest.raises(PluginError, match=r"plug-in .gone.*cannot be loaded.*ModuleNotFoundError"):
        registry._load_entry_point(broken)
    wrong = EntryPoint("wrong", "driftline.errors:ConfigError", "driftline.drift_methods")
    with pytest.raises(PluginError, match="must be a DriftMethod"):
        registry._load_entry_point(wrong)
    with pytest.raises(PluginError, match="allowed: a Python identifier"):
        _method("not a name")


def _zeros(share: float, seed: int, n: int = 3000) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, n)
    x[rng.random(n) < share] = 0.0
    return {"x": x, "plan": rng.choice(["a", "b", "c"], n)}


def test_compare_runs_the_plugin_check_once_its_threshold_is_set() -> None:
    ref, cur = _zeros(0.0, 1), _zeros(0.4, 2)
    plain = driftline.compare(ref, cur).to_dict()
    assert "zero_inflation" not in {q["check"] for q in plain["columns"]["x"]["quality"]}
    report = driftline.compare(ref, cur, quality={"zero_share_increase": 0.1}).to_dict()
    (q,) = [q for q in report["columns"]["x"]["quality"] if q["check"] == "zero_inflation"]
    assert q["status"] == "fail" and q["value"] == pytest.approx(0.4, abs=0.03)
    assert q["threshold"] == pytest.approx(0.1) and q["details"]["reference"] == 0.0
    # numeric only: the categorical column has none
    assert "zero_inflation" not in {c["check"] for c in report["columns"]["plan"]["quality"]}
    for threshold, status in ((0.6, "warn"), (0.9, "ok")):  # warns half-way to its threshold
        lax = driftline.compare(ref, cur, quality={"zero_share_increase": threshold}).to_dict()
        (q,) = [q for q in lax["columns"]["x"]["quality"] if q["check"] == "zero_inflation"]
        assert q["status"] == status


def test_driftline_check_gates_on_the_plugin_check(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    ref, cur = tmp_path / "ref.parquet", tmp_path / "cur.parquet"
    pq.write_table(pa.table(_zeros(0.0, 1)), ref)
    pq.write_table(pa.table(_zeros(0.4, 2)), cur)
    config = tmp_path / "check.yaml"
    config.write_text("quality: {zero_share_increase: 0.1}\nfail_on: [quality]\n")
    runner = CliRunner()
    out = tmp_path / "r.json"
    done = runner.invoke(
        app, ["check", str(ref), str(cur), "--config", str(config), "--json", str(out)]
    )
    assert done.exit_code == 1, done.output
    assert "zero_inflation" in done.output
    checks = json.loads(out.read_text())["columns"]["x"]["quality"]
    assert [q["status"] for q in checks if q["check"] == "zero_inflation"] == ["fail"]
    passed = runner.invoke(app, ["check", str(ref), str(ref), "--config", str(config)])
    assert passed.exit_code == 0, passed.output
    config.write_text("quality: {zero_share: 0.1}\n")
    bad = runner.invoke(app, ["check", str(ref), str(cur), "--config", str(config)])
    assert bad.exit_code == 2 and "zero_share_increase" in bad.output  # allowed names listed
