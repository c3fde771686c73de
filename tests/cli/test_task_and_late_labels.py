"""A 0/1 target is a classifier's; unlabelled batches are estimated; no option is dropped silently.

The data looks like NannyML's car loan: the target ``repaid`` stored as 0.0/1.0
floats (or 0/1 integers), one score column ``p`` = P(repaid) and a 0/1
prediction ``pred``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import driftline
from driftline.cli import app

runner = CliRunner()


def run(*args: object) -> tuple[int, str, str]:
    res = runner.invoke(app, [str(a) for a in args])
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise res.exception
    return res.exit_code, res.stdout, res.stderr


def loans(n: int, seed: int, *, as_int: bool = False) -> pa.Table:
    rng = np.random.default_rng(seed)
    income = rng.lognormal(10, 0.4, n)
    debt = rng.normal(0.3, 0.1, n)
    p = 1 / (1 + np.exp(-(2.0 * (np.log(income) - 10) / 0.4 - 4 * (debt - 0.3))))
    repaid = (rng.random(n) < p).astype(np.int64 if as_int else np.float64)
    return pa.table(
        {
            "income": income,
            "debt": debt,
            "p": p,
            "pred": (p > 0.5).astype(np.int64),
            "repaid": repaid,
        }
    )


@pytest.fixture(scope="module")
def loan_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("loans")
    ref, cur = loans(6000, 1), loans(3000, 2)
    out = {
        "ref": d / "ref.parquet",
        "cur": d / "cur.parquet",
        "ref_int": d / "ref_int.parquet",
        "cur_int": d / "cur_int.parquet",
        "unlabelled": d / "unlabelled.parquet",
        "empty_target": d / "empty_target.parquet",
    }
    pq.write_table(ref, out["ref"])
    pq.write_table(cur, out["cur"])
    pq.write_table(loans(6000, 1, as_int=True), out["ref_int"])
    pq.write_table(loans(3000, 2, as_int=True), out["cur_int"])
    pq.write_table(cur.drop_columns(["repaid"]), out["unlabelled"])
    nulls = pa.nulls(cur.num_rows, pa.float64())
    pq.write_table(cur.set_column(4, "repaid", nulls), out["empty_target"])
    return out


def report_json(tmp_path: Path, *args: object) -> tuple[dict[str, Any], str]:
    js = tmp_path / "r.json"
    code, _, err = run("report", *args, "-o", tmp_path / "r.html", "--json", js)
    assert code == 0, err
    return json.loads(js.read_text()), err


@pytest.mark.parametrize("kind", ["float", "int"])
def test_a_0_1_target_with_scores_is_a_classifier(
    loan_files: dict[str, Path], tmp_path: Path, kind: str
) -> None:
    ref, cur = (
        (loan_files["ref"], loan_files["cur"])
        if kind == "float"
        else (loan_files["ref_int"], loan_files["cur_int"])
    )
    data, _ = report_json(tmp_path, ref, cur, "--target", "repaid", "--scores", "p")
    perf = data["performance"]
    assert perf["task"] == "binary"
    assert "roc_auc" in perf["realized"] and "mae" not in perf["realized"]
    assert perf["scores"] == ["p"]  # not dropped
    assert perf["estimation"]["method"] == "cbpe"
    assert perf["estimated"]["roc_auc"]["value"] == pytest.approx(
        perf["realized"]["roc_auc"], abs=0.03
    )
    assert data["columns"]["repaid"]["kind"] == "categorical"


def test_a_0_1_target_with_a_prediction_only_is_a_classifier(
    loan_files: dict[str, Path], tmp_path: Path
) -> None:
    args = (loan_files["ref"], loan_files["cur"], "--target", "repaid", "--prediction", "pred")
    data, _ = report_json(tmp_path, *args)
    assert data["performance"]["task"] == "binary"
    assert "accuracy" in data["performance"]["realized"]


def test_task_regression_overrides_and_scores_with_it_are_refused(
    loan_files: dict[str, Path], tmp_path: Path
) -> None:
    args = (loan_files["ref"], loan_files["cur"], "--target", "repaid", "--prediction", "pred")
    data, _ = report_json(tmp_path, *args, "--task", "regression")
    assert data["performance"]["task"] == "regression" and "mae" in data["performance"]["realized"]
    code, _, err = run(*["report", *args, "--scores", "p", "--task", "regression"])
    assert code == 2
    assert "regression takes no score columns" in err and "--scores" in err


def test_options_without_effect_are_said(loan_files: dict[str, Path], tmp_path: Path) -> None:
    code, _, err = run("report", loan_files["ref"], loan_files["cur"], "--task", "binary")
    assert code == 2 and "--task" in err and "--target" in err
    no_pred = tmp_path / "no_pred.parquet"  # ("pred" is taken as the prediction by its name)
    pq.write_table(pq.read_table(loan_files["cur"]).drop_columns(["pred"]), no_pred)
    _, err = report_json(tmp_path, no_pred, no_pred, "--target", "repaid")
    assert "note: --target without --prediction or --scores" in err


@pytest.mark.parametrize("current", ["unlabelled", "empty_target"])
def test_an_unlabelled_batch_is_estimated_and_passes_check(
    loan_files: dict[str, Path], tmp_path: Path, current: str
) -> None:
    """Late labels: a saved binary reference, a batch without (or with an empty) target."""
    ref = tmp_path / "ref.profile"
    code, _, err = run(
        "profile", loan_files["ref"], "-o", ref, "--target", "repaid", "--scores", "p"
    )
    assert code == 0, err
    data, _ = report_json(tmp_path, ref, loan_files[current])
    perf = data["performance"]
    assert perf["task"] == "binary" and perf["n_labelled"] == 0  # not regression
    assert perf["estimation"]["method"] == "cbpe" and "roc_auc" in perf["estimated"]
    missing = next(q for q in data["quality"] if q["check"] == "missing_columns")
    assert missing["status"] == "ok"
    cfg = tmp_path / "c.yaml"
    cfg.write_text("check:\n  performance:\n    roc_auc: {min: 0.6}\n")
    code, out, _ = run("check", ref, loan_files[current], "--config", cfg)
    assert code == 0, out
    assert out.startswith("PASS")


def test_the_cli_target_option_may_name_a_column_the_batch_lacks(
    loan_files: dict[str, Path], tmp_path: Path
) -> None:
    args = ("--target", "repaid", "--scores", "p")
    data, _ = report_json(tmp_path, loan_files["ref"], loan_files["unlabelled"], *args)
    assert data["performance"]["estimated"]["accuracy"]["value"] > 0.5
    code, _, err = run("report", loan_files["ref"], loan_files["unlabelled"], "--target", "nope")
    assert code == 2 and "'nope'" in err  # a target in neither file is still an error


def test_python_api_infers_and_overrides_the_task(loan_files: dict[str, Path]) -> None:
    ref, cur = pq.read_table(loan_files["ref"]), pq.read_table(loan_files["cur"])
    roles = {"repaid": {"role": "target"}, "p": {"role": "score"}, "pred": {"role": "prediction"}}
    assert driftline.compare(ref, cur, roles).to_dict()["performance"]["task"] == "binary"
    no_scores = {"repaid": {"role": "target"}, "pred": {"role": "prediction"}}
    rep = driftline.compare(ref, cur, no_scores, task="regression").to_dict()
    assert rep["performance"]["task"] == "regression"
    prof = driftline.profile(ref, {"repaid": {"role": "target"}, "pred": {"role": "prediction"}})
    assert prof.performance is not None and prof.performance.spec.task == "classification"
