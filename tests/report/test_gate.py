"""The CI gate's checks and their JUnit XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest

import driftline
from driftline.config import load_check_config
from driftline.errors import ConfigError
from driftline.report.gate import evaluate, fmt
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
    # 7 of 10 right: the 95% interval 0.40-0.89 reaches 0.8, so the bound cannot decide
    assert checks["accuracy"].status == "error"
    assert checks["accuracy"].message == (
        "realized 0.7, 95% interval 0.3968 to 0.8922 (Wilson, 10 labelled rows) reaches "
        "min 0.8: too few labelled rows to decide"
    )
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


def _perf(metric: str, value: float, n: int, **more: Any) -> dict[str, Any]:
    perf = {"task": "binary", "n": n, "n_labelled": n, "realized": {metric: value}, **more}
    return {"columns": {}, "quality": [], "performance": perf}


@pytest.mark.parametrize(
    ("right", "n", "bound", "status"),
    [
        (9, 10, {"min": 0.8}, "error"),  # 0.9 passed on the point: interval 0.60-0.98
        (7, 10, {"min": 0.8}, "error"),  # 0.7 failed on the point: interval 0.40-0.89
        (2, 10, {"min": 0.8}, "fail"),  # interval 0.06-0.51: below the bound throughout
        (25, 25, {"min": 0.8}, "pass"),  # interval 0.87-1: above it throughout
        (20, 25, {"max": 0.5}, "fail"),
        (10, 25, {"min": 0.2, "max": 0.9}, "pass"),
        (790, 1000, {"min": 0.8}, "error"),  # many labels, and still too close to tell
        (760, 1000, {"min": 0.8}, "fail"),
    ],
)
def test_a_realized_accuracy_is_held_to_its_bound_by_its_wilson_interval(
    right: int, n: int, bound: dict[str, float], status: str
) -> None:
    """The new-user pass: `min accuracy` on fewer than 30 labels passed or failed on the
    point value with a note. Now the 95% interval (Wilson, checked against statsmodels)
    decides: beyond the bound throughout fails, within throughout passes, astride it is
    too few labels to decide (exit 3 by --on-insufficient)."""
    from statsmodels.stats.proportion import proportion_confint

    (check,) = evaluate(_perf("accuracy", right / n, n), ["performance"], {"accuracy": bound})
    assert check.status == status, check.message
    lo, hi = proportion_confint(right, n, alpha=0.05, method="wilson")
    assert f"95% interval {fmt(lo)} to {fmt(hi)} (Wilson, {n:,} labelled rows)" in check.message
    (warned,) = evaluate(_perf("accuracy", right / n, n), ["performance"], {"accuracy": bound},
                         on_insufficient="warn")  # fmt: skip
    assert warned.status == {"error": "warn"}.get(status, status)


def test_a_metric_without_an_interval_decides_nothing_on_few_labels() -> None:
    few = _perf("r2", 0.1, 12, task="regression")
    (check,) = evaluate(few, ["performance"], {"r2": {"min": 0.5}})
    assert check.status == "error"
    assert "no interval is known for r2, and below 30 labelled rows" in check.message
    (check,) = evaluate(_perf("r2", 0.1, 300, task="regression"), ["performance"],
                        {"r2": {"min": 0.5}})  # fmt: skip
    assert check.status == "fail" and "no interval known for r2" in check.message


def test_f1_is_held_to_its_bound_by_its_standard_error() -> None:
    from scipy.stats import norm

    from driftline.stats.performance.uncertainty import classification_errors

    cm = [[8, 2], [3, 7]]  # 20 labelled rows
    results = {"f1": 0.7368, "accuracy": 0.75, "classes": [0, 1], "positive_class": 1}
    rep = _perf("f1", 0.7368, 20, details={"confusion_matrix": cm, **results})
    rep["performance"]["realized"] = {"f1": 0.7368, "accuracy": 0.75}
    (check,) = evaluate(rep, ["performance"], {"f1": {"min": 0.7}})
    se = classification_errors({**results, "confusion_matrix": cm})["f1"]
    assert check.status == "error"
    z = float(norm.ppf(0.975))
    assert f"95% interval {fmt(0.7368 - z * se)} to {fmt(0.7368 + z * se)}" in check.message
    (check,) = evaluate(rep, ["performance"], {"f1": {"min": 0.2}})
    assert check.status == "pass" and "±1.96 standard errors, 20 labelled rows" in check.message


def _estimated(metric: str, value: float, lower: float | None, upper: float | None) -> Any:
    band = {"value": value, "lower": lower, "upper": upper}
    perf = {"task": "binary", "n_labelled": 0, "realized": {}, "estimated": {metric: band},
            "estimation": {"method": "cbpe", "n": 40, "confidence": 0.95}}  # fmt: skip
    return {"columns": {}, "quality": [], "performance": perf}


@pytest.mark.parametrize(
    ("band", "bound", "status"),
    [
        ((0.957, 0.925, 1.0), {"min": 0.95}, "error"),  # passed on the point value
        ((0.94, 0.90, 0.97), {"min": 0.95}, "error"),  # failed on the point value
        ((0.957, 0.925, 1.0), {"min": 0.9}, "pass"),
        ((0.80, 0.70, 0.89), {"min": 0.9}, "fail"),
        ((0.957, 0.925, 1.0), {"max": 0.9}, "fail"),
        ((0.957, 0.925, 1.0), {"min": 0.5, "max": 0.99}, "error"),
        ((0.957, None, None), {"min": 0.5}, "error"),  # no band: the value decides nothing
    ],
)
def test_an_estimated_metric_is_held_to_its_bound_by_its_band(
    band: tuple[float, float | None, float | None], bound: dict[str, float], status: str
) -> None:
    """CBPE/DLE estimates were gated on the point value although the report has their band;
    now the band decides like a realized metric's interval."""
    (check,) = evaluate(_estimated("accuracy", *band), ["performance"], {"accuracy": bound})
    assert check.status == status, check.message
    if band[1] is not None:
        assert check.message.startswith(
            f"estimated {fmt(band[0])}, 95% band {fmt(band[1])} to {fmt(band[2])} (CBPE, 40 rows)"
        )
    if status == "error":
        assert check.message.endswith(("too uncertain to decide", "decides no bound"))
    (warned,) = evaluate(_estimated("accuracy", *band), ["performance"], {"accuracy": bound},
                         on_insufficient="fail")  # fmt: skip
    assert warned.status == {"error": "fail"}.get(status, status)
