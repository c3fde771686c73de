"""One contract, run over every registered drift method: built-ins and installed plug-ins.

Like river's check suite over all its estimators: a method that joins the
registry (a new built-in module or a ``driftline.drift_methods`` entry point)
is checked here with no test of its own needed for the contract.
"""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest

import driftline
from driftline.stats.drift import DriftResult
from driftline.stats.drift.registry import DRIFT_METHODS, DriftMethod, family_of, inputs_for

METHODS = list(DRIFT_METHODS)
RESULT_KEYS = {
    "method", "statistic", "p_value", "threshold", "drifted", "n_reference", "n_current",
    "computed", "details",
}  # fmt: skip


def _columns(family: str, shift: bool) -> tuple[object, object]:
    rng = np.random.default_rng(7)
    if family == "numeric":
        ref = rng.normal(10.0, 2.0, 3000)
        cur = ref.copy() if not shift else rng.normal(16.0, 6.0, 3000)
    elif family == "embedding":  # 16-dim vectors; the shift turns the mean and scales
        ref = rng.normal(0.0, 1.0, (3000, 16)) + 2.0 * np.eye(16)[0]
        cur = (
            ref.copy()
            if not shift
            else 1.5 * (rng.normal(0.0, 1.0, (3000, 16)) + 3.0 * np.eye(16)[1])
        )
    else:
        cats = np.array(["a", "b", "c", "d"])
        ref = rng.choice(cats, 3000, p=[0.4, 0.3, 0.2, 0.1])
        cur = ref.copy() if not shift else rng.choice(cats, 3000, p=[0.05, 0.1, 0.25, 0.6])
    schema = {"x": {"kind": family}}
    r = driftline.profile({"x": ref}, schema=schema, seed=1).columns["x"]
    c = driftline.profile({"x": cur}, schema=schema, seed=2).columns["x"]
    return r, c


def _cases() -> list[tuple[DriftMethod, str]]:
    return [(m, fam) for m in METHODS for fam in sorted(m.kinds)]


CASES = _cases()
IDS = [f"{m.name}-{fam}" for m, fam in CASES]


def test_the_registry_holds_the_builtins_and_the_example_plugin() -> None:
    names = DRIFT_METHODS.names()
    assert {"psi", "jensen_shannon", "wasserstein", "mean_shift"} <= set(names)
    assert "energy" in names, "the example plug-in (examples/) is installed by `make`"
    assert not DRIFT_METHODS.is_builtin("energy")
    assert "driftline-plugin-example" in DRIFT_METHODS.origin("energy")


@pytest.mark.parametrize(("method", "family"), CASES, ids=IDS)
def test_identical_inputs_do_not_drift(method: DriftMethod, family: str) -> None:
    ref, cur = _columns(family, shift=False)
    inputs = inputs_for(ref, cur)  # type: ignore[arg-type]
    assert family_of(ref) == family  # type: ignore[arg-type]
    res = method.compute(inputs, method.threshold(0.05))
    assert res.drifted is False, res
    if method.is_test:
        assert res.p_value is not None and res.p_value >= 0.05
    else:  # sketch-based values (quantiles) carry the sketch's rank error, well below
        assert res.statistic <= 0.5 * method.threshold(0.05), res


@pytest.mark.parametrize(("method", "family"), CASES, ids=IDS)
def test_a_large_change_drifts_and_the_threshold_decides(method: DriftMethod, family: str) -> None:
    ref, cur = _columns(family, shift=True)
    inputs = inputs_for(ref, cur)  # type: ignore[arg-type]
    res = method.compute(inputs, method.threshold(0.05))
    assert res.drifted is True, res
    # the threshold is the one given, and the verdict is the documented comparison
    for threshold in (0.01, 0.2, 1e6) if not method.is_test else (1e-300, 0.05, 0.5):
        r = method.compute(inputs, threshold)
        assert r.threshold == threshold
        if method.is_test:
            assert r.drifted == (r.p_value is not None and r.p_value < threshold)
        else:
            assert r.drifted == (r.statistic >= threshold)


@pytest.mark.parametrize(("method", "family"), CASES, ids=IDS)
def test_results_have_the_report_shape_and_round_trip(method: DriftMethod, family: str) -> None:
    ref, cur = _columns(family, shift=True)
    res = method.compute(inputs_for(ref, cur), method.threshold(0.05))  # type: ignore[arg-type]
    assert isinstance(res, DriftResult)
    assert res.method == method.name
    assert res.is_test == method.is_test
    assert res.n_reference > 0 and res.n_current > 0
    assert math.isfinite(res.statistic)
    data = res.to_dict()
    assert set(data) == RESULT_KEYS
    assert json.loads(json.dumps(data, allow_nan=False)) == data
    assert DriftResult(**data).to_dict() == data


@pytest.mark.parametrize("method", METHODS, ids=[m.name for m in METHODS])
def test_every_method_is_declared_completely(method: DriftMethod) -> None:
    assert method.description, f"{method.name}: say what it measures (docs tables read it)"
    assert method.kinds
    if not method.is_test:
        assert method.default_threshold is not None and method.default_threshold > 0


def test_the_docs_table_lists_every_builtin_method_as_registered() -> None:
    from pathlib import Path

    page = (Path(__file__).resolve().parents[2] / "docs" / "drift.md").read_text()
    rows = {}
    for line in page.splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
        if line.startswith("| `") and len(cells) == 4:
            rows[cells[0].strip("`")] = cells
    builtins = [m for m in METHODS if DRIFT_METHODS.is_builtin(m.name)]
    assert {m.name for m in builtins} == set(rows), "docs/drift.md's method table"
    for m in builtins:
        _, kinds, _, threshold = rows[m.name]
        listed = {k for k in ("numeric", "categorical", "embedding") if k in kinds}
        assert listed == set(m.kinds), m.name
        assert threshold == ("alpha" if m.is_test else f"{m.default_threshold:g}"), m.name
