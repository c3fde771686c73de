"""The CI gate's checks and their JUnit XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest

import driftline
from driftline.config import load_check_config
from driftline.errors import ConfigError
from driftline.report.gate import evaluate
from driftline.report.junit import junit_xml

from .conftest import SHIFTED, frame


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    return driftline.compare(frame(3000, 1), frame(3000, 2, shifted=True), seed=0).to_dict()


def test_drift_checks_fail_exactly_the_drifted_columns(report: dict[str, Any]) -> None:
    checks = evaluate(report, ["drift"])
    failed = {c.name for c in checks if c.failed}
    assert {n for n in failed if not n.startswith("multivariate: ")} == SHIFTED
    assert {c.name for c in checks if c.status == "skip"} == {"ts"}  # datetime: no verdict
    income = next(c for c in checks if c.name == "income")
    assert income.message.startswith("wasserstein ") and ">= threshold 0.05" in income.message


def test_quality_warnings_pass_and_failures_fail(report: dict[str, Any]) -> None:
    checks = evaluate(report, ["quality"])
    statuses = {c.message.split(":")[0] for c in checks if c.status == "pass"}
    assert statuses <= {"ok", "warn"}
    n_failed = report["dataset"]["quality"]["failed"]
    assert sum(c.failed for c in checks) == n_failed


def test_performance_bounds_use_realized_then_estimated() -> None:
    rep = {
        "columns": {},
        "quality": [],
        "performance": {
            "task": "binary",
            "n_labelled": 10,
            "realized": {"accuracy": 0.7},
            "estimated": {"roc_auc": {"value": 0.9, "lower": 0.85, "upper": 0.95}},
        },
    }
    bounds = {"accuracy": {"min": 0.8}, "roc_auc": {"min": 0.8}, "f1": {"min": 0.5}}
    checks = {c.name: c for c in evaluate(rep, ["performance"], bounds)}
    assert checks["accuracy"].failed
    assert checks["accuracy"].message == "realized 0.7 < min 0.8 (only 10 labelled rows)"
    assert checks["roc_auc"].status == "pass" and "estimated" in checks["roc_auc"].message
    assert checks["f1"].status == "skip"
    rep.pop("performance")
    (only,) = evaluate(rep, ["performance"], bounds)
    assert only.status == "skip" and "no performance section" in only.message


def test_junit_has_one_suite_per_gate_and_consistent_counts(report: dict[str, Any]) -> None:
    checks = evaluate(report, ["drift", "quality"])
    root = ET.fromstring(junit_xml(checks, properties={"reference": "a.parquet"}))
    assert root.tag == "testsuites"
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert set(suites) == {"driftline.drift", "driftline.quality"}
    assert int(root.get("tests", "0")) == len(checks)
    assert int(root.get("failures", "0")) == sum(c.failed for c in checks)
    drift = suites["driftline.drift"]
    failures = [c.get("name") for c in drift.iter("testcase") if c.find("failure") is not None]
    assert {n for n in failures if not n.startswith("multivariate: ")} == SHIFTED
    assert any(n.startswith("multivariate: ") for n in failures)
    assert drift.find("properties/property[@name='reference']") is not None


def test_check_config_accepts_a_driftline_yaml_check_section(tmp_path: Any) -> None:
    p = tmp_path / "driftline.yaml"
    p.write_text(
        "check:\n  fail_on: [drift, performance]\n  drift: {method: psi, alpha: 0.01}\n"
        "  performance: {accuracy: {min: 0.8}}\n  quality: {missing_increase: 0.1}\n"
    )
    cfg = load_check_config(p)
    assert cfg.fail_on == ["drift", "performance"]
    assert cfg.drift.method == "psi" and cfg.drift.alpha == 0.01
    assert cfg.performance["accuracy"].min == 0.8
    p.write_text("check:\n  performance: {accuracy: {minimum: 0.8}}\n")
    with pytest.raises(
        ConfigError,
        match=r"unknown key 'check.performance.accuracy.minimum'; "
        r"allowed: min, max",
    ):
        load_check_config(p)
