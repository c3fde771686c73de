"""`driftline profile | report | check | demo` through the real Typer app and entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from driftline.cli import app

from .conftest import SHIFTED

runner = CliRunner()
DRIFTLINE = Path(sys.executable).with_name("driftline")


def run(*args: object) -> tuple[int, str, str]:
    res = runner.invoke(app, [str(a) for a in args])
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise res.exception
    return res.exit_code, res.stdout, res.stderr


def test_check_fails_with_exit_1_and_junit_lists_each_check(
    files: dict[str, Path], tmp_path: Path
) -> None:
    junit = tmp_path / "out.xml"
    code, out, _ = run("check", files["ref"], files["cur"], "--junit", junit, "--seed", 1)
    assert code == 1
    assert "FAIL" in out and "Failed checks" in out
    root = ET.parse(junit).getroot()
    drift = root.find("testsuite[@name='driftline.drift']")
    assert drift is not None
    failed = {c.get("name") for c in drift.iter("testcase") if c.find("failure") is not None}
    assert {n for n in failed if not n.startswith("multivariate: ")} == SHIFTED
    assert "multivariate: domain_classifier" in failed  # the shifted columns show jointly too
    skipped = {c.get("name") for c in drift.iter("testcase") if c.find("skipped") is not None}
    assert skipped == {"user_id", "ts"}  # id and timestamp: no drift verdict
    assert int(root.get("failures", "0")) == sum(
        int(s.get("failures", "0")) for s in root.iter("testsuite")
    )
    assert root.find("testsuite[@name='driftline.quality']") is not None


def test_check_passes_with_exit_0_on_data_without_drift(files: dict[str, Path]) -> None:
    code, out, _ = run("check", files["ref"], files["same"], "--fail-on", "drift,quality")
    assert code == 0, out
    assert out.startswith("PASS")


def test_fail_on_picks_the_suites_that_decide(files: dict[str, Path], tmp_path: Path) -> None:
    junit = tmp_path / "q.xml"
    code, _, _ = run("check", files["ref"], files["cur"], "--fail-on", "quality", "--junit", junit)
    assert code == 1  # the 1 sd shift of amount also puts values beyond the reference's p99
    suites = {s.get("name") for s in ET.parse(junit).getroot().iter("testsuite")}
    assert suites == {"driftline.quality"}


def test_config_file_sets_fail_on_and_thresholds(files: dict[str, Path], tmp_path: Path) -> None:
    cfg = tmp_path / "driftline.yaml"
    cfg.write_text(
        "check:\n  fail_on: [drift]\n  drift:\n    thresholds: {auto: 5.0}\n"
        "    multivariate: false\n"
    )
    code, out, _ = run("check", files["ref"], files["cur"], "--config", cfg)
    assert code == 0, out  # no column moves 5 standard deviations
    assert "multivariate" not in out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("drift:\n  alpah: 0.1\n", ["'drift.alpah'", "allowed", "alpha"]),
        ("drift:\n  alpha: 1.5\n", ["'drift.alpha'", "1.5", "less than 1"]),
        ("drift:\n  method: psy\n", ["'drift.method'", "'psy'", "allowed: auto"]),
        ("fail_on: [drfit]\n", ["'fail_on.0'", "'drfit'", "performance"]),
        ("quality:\n  missing: 0.1\n", ["'quality'", "unknown quality threshold", "allowed"]),
        ("drift: [1, 2\n", ["not valid YAML"]),
    ],
    ids=["unknown-key", "bad-alpha", "bad-method", "bad-fail-on", "bad-quality", "bad-yaml"],
)
def test_bad_config_names_key_value_and_allowed(
    files: dict[str, Path], tmp_path: Path, text: str, expected: list[str]
) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(text)
    code, _, err = run("check", files["ref"], files["cur"], "--config", cfg)
    assert code == 2
    assert str(cfg) in err
    for part in expected:
        assert part in err


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["report", "--chunk-by", "fortnight"], ["--chunk-by", "'fortnight'", "day, week, month"]),
        (["report", "--chunk-by", "1"], ["--chunk-by", "'1'", "from 2 to"]),
        (["report", "--method", "psy"], ["--method", "'psy'", "jensen_shannon"]),
        (["report", "--alpha", "2"], ["--alpha", "2", "between 0 and 1"]),
        (["check", "--fail-on", "drfit"], ["--fail-on", "'drfit'", "drift, quality, performance"]),
        (["report", "--target", "nope"], ["--target", "'nope'", "not in", "amount"]),
        (["report", "--labels", "{ref}"], ["--labels needs --id"]),
        (["report", "--timestamp", "plan"], ["--timestamp", "'plan'", "role timestamp"]),
        (["report", "--target", "plan", "--segment", "plan"], ["--segment", "'plan'", "target"]),
    ],
    ids=[
        "chunk-by-word",
        "chunk-by-1",
        "method",
        "alpha",
        "fail-on",
        "missing-column",
        "labels-without-id",
        "timestamp-not-datetime",
        "two-roles",
    ],
)
def test_bad_option_names_option_value_and_allowed(
    files: dict[str, Path], tmp_path: Path, args: list[str], expected: list[str]
) -> None:
    cmd, *rest = args
    rest = [a.format(ref=files["ref"]) for a in rest]
    code, out, err = run(
        cmd,
        files["ref"],
        files["cur"],
        *rest,
        "-o" if cmd == "report" else "--json",
        tmp_path / "x",
    )
    assert code == 2, out
    text = " ".join(err.split())  # Rich may wrap the usage error box
    for part in expected:
        assert part in text


def test_missing_and_unreadable_files_name_the_file(files: dict[str, Path], tmp_path: Path) -> None:
    missing = tmp_path / "nope.parquet"
    code, _, err = run("report", files["ref"], missing)
    assert code == 2
    assert "CURRENT" in err and "nope.parquet" in err and "no such file" in err
    corrupt = tmp_path / "corrupt.parquet"
    corrupt.write_bytes(b"not parquet at all")
    code, _, err = run("check", corrupt, files["cur"])
    assert code == 2
    assert "corrupt.parquet" in err and "Parquet" in err
    code, _, err = run("check", files["ref"], tmp_path)
    assert code == 2 and "directory" in err


def test_unwritable_output_is_an_input_error(files: dict[str, Path], tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, _, err = run("report", files["ref"], files["cur"], "-o", blocker / "report.html")
    assert code == 2
    assert "--output" in err and "cannot write" in err


def test_profile_then_report_against_the_saved_profile(
    files: dict[str, Path], tmp_path: Path
) -> None:
    prof = tmp_path / "ref.profile"
    code, out, _ = run("profile", files["ref"], "-o", prof, "--target", "label", "--seed", 3)
    assert code == 0, out
    assert "4,000 rows x 9 columns" in out
    js = tmp_path / "r.json"
    code, _, _ = run("report", prof, files["cur_csv"], "-o", tmp_path / "r.html", "--json", js)
    assert code == 0
    data = json.loads(js.read_text())
    assert set(data["dataset"]["drifted_columns"]) == SHIFTED
    assert data["columns"]["label"]["role"] == "target"
    assert data["inputs"]["reference"] == str(prof)


def test_late_labels_give_the_report_a_performance_section(
    files: dict[str, Path], tmp_path: Path
) -> None:
    js = tmp_path / "r.json"
    roles = ["--target", "label", "--prediction", "pred", "--id", "user_id"]
    code, _, err = run(
        "report", files["ref"], files["cur_unlabelled"], *roles, "--labels", files["labels"],
        "-o", tmp_path / "r.html", "--json", js,
    )  # fmt: skip
    assert code == 0, err
    data = json.loads(js.read_text())
    assert data["performance"]["n_labelled"] == 3000
    assert 0.4 < data["performance"]["realized"]["accuracy"] < 0.8  # pred is a coin flip
    assert data["inputs"]["labels"] == {
        "path": str(files["labels"]),
        "id": "user_id",
        "label_column": "label",
    }
    code, _, err = run(
        "report", files["ref"], files["cur_unlabelled"], *roles, "--labels", files["labels"],
        "--label-column", "y",
    )  # fmt: skip
    assert code == 2 and "--label-column" in err and "'y'" in err


def test_report_chunked_by_week_and_by_count(files: dict[str, Path], tmp_path: Path) -> None:
    js = tmp_path / "r.json"
    args = [files["ref"], files["cur"], "-o", tmp_path / "r.html", "--json", js]
    assert run("report", *args, "--chunk-by", "week")[0] == 0
    data = json.loads(js.read_text())
    assert [c["start"] for c in data["chunks"]] == ["2025-03-03", "2025-03-10", "2025-03-17"]
    assert sum(c["n"] for c in data["chunks"]) == 4000
    assert data["chunking"]["timestamp"] == "ts"
    assert data["chunking"]["thresholds"].startswith("data-driven")
    for chunk in data["chunks"]:
        assert set(chunk["dataset"]["drifted_columns"]) == SHIFTED
    assert run("report", *args, "--chunk-by", "4")[0] == 0
    data = json.loads(js.read_text())
    assert [(c["start"], c["end"]) for c in data["chunks"]] == [
        (0, 1000),
        (1000, 2000),
        (2000, 3000),
        (3000, 4000),
    ]


def test_entry_point_exit_codes_and_no_progress_when_piped(
    files: dict[str, Path], tmp_path: Path
) -> None:
    env = {**os.environ, "TERM": "xterm-256color"}
    res = subprocess.run(
        [DRIFTLINE, "check", files["ref"], files["cur"], "--junit", tmp_path / "j.xml"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert res.returncode == 1
    assert "\x1b[" not in res.stdout + res.stderr  # no colour codes, no progress bar
    assert "reading" not in res.stderr
    assert "FAIL" in res.stdout


def test_demo_writes_reports(tmp_path: Path) -> None:
    code, out, _ = run("demo", "--output-dir", tmp_path)
    assert code == 0, out
    data = json.loads((tmp_path / "report.json").read_text())
    assert {"income", "credit_score", "channel"} <= set(data["dataset"]["drifted_columns"])
    assert len(data["chunks"]) == 4
    html = (tmp_path / "report.html").read_text()
    assert "Drift detected" in html
    assert "Week by week" in out


def test_subsystem_commands_are_registered() -> None:
    from typer.testing import CliRunner

    from driftline.cli import app

    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("serve", "migrate", "keys", "alerts", "export"):
        assert command in result.output, command
    drift = CliRunner().invoke(app, ["alerts", "test", "--scenario", "drift"])
    assert drift.exit_code == 0, drift.output
    assert "FIRING" in drift.output and "drift" in drift.output


def test_report_prints_and_writes_the_multivariate_section(
    files: dict[str, Path], tmp_path: Path
) -> None:
    js, html = tmp_path / "r.json", tmp_path / "r.html"
    code, out, _ = run("report", files["ref"], files["cur"], "-o", html, "--json", js)
    assert code == 0, out
    assert "Multivariate drift (joint sample of 4,000 reference and 4,000 current rows)" in out
    assert "domain_classifier: drift" in out and "separating best: amount" in out
    data = json.loads(js.read_text())
    assert data["multivariate"]["methods"]["domain_classifier"]["drifted"] is True
    page = html.read_text()
    assert 'id="multivariate-table"' in page and 'data-method="correlation"' in page
