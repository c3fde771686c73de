"""A new user's first hour with the command line: each test is the command and what it prints.

Run through the installed ``driftline`` entry point, as a person types it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

DRIFTLINE = str(Path(sys.executable).with_name("driftline"))


def run_cli(*args: object, cwd: Path | None = None, columns: int = 120) -> tuple[int, str, str]:
    env = {**os.environ, "COLUMNS": str(columns), "NO_COLOR": "1", "TERM": "dumb"}
    done = subprocess.run(
        [DRIFTLINE, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env=env,
    )
    return done.returncode, done.stdout, done.stderr


@pytest.fixture(scope="module")
def cities(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same 2,000 rows as UTF-8 and as Latin-1 (Köln, Zürich), CSV and JSON lines."""
    d = tmp_path_factory.mktemp("encodings")
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "age": rng.integers(18, 90, 2000),
            "city": rng.choice(["Köln", "Zürich", "Paris"], 2000),
        }
    )
    out = {
        "utf8": d / "ref.csv",
        "latin1": d / "latin1.csv",
        "jsonl": d / "latin1.jsonl",
    }
    df.to_csv(out["utf8"], index=False)
    df.to_csv(out["latin1"], index=False, encoding="latin-1")
    out["jsonl"].write_bytes(
        df.head(50).to_json(orient="records", lines=True, force_ascii=False).encode("latin-1")
    )
    return out


def _first_bad_line(path: Path, encoding: str = "utf-8") -> int:
    for i, line in enumerate(path.read_bytes().split(b"\n"), start=1):
        try:
            line.decode(encoding)
        except UnicodeDecodeError:
            return i
    raise AssertionError("every line decodes")


def test_check_on_a_latin1_csv_is_bad_input_exit_2_naming_file_line_and_bytes(
    cities: dict[str, Path],
) -> None:
    code, out, err = run_cli("check", cities["utf8"], cities["latin1"])
    assert code == 2  # bad input, not "a check failed" (1): CI must not report drift
    lines = err.strip().splitlines()
    assert len(lines) == 1, err  # one line, no traceback
    line = _first_bad_line(cities["latin1"])
    assert f"cannot read {cities['latin1']}: line {line} is not valid utf-8" in err
    assert "0xf6" in err or "0xfc" in err  # the ö of Köln or the ü of Zürich
    assert "--encoding" in err
    assert "Traceback" not in err + out


def test_profile_on_a_latin1_csv_says_the_same_and_encoding_reads_it(
    cities: dict[str, Path], tmp_path: Path
) -> None:
    code, _, err = run_cli("profile", cities["latin1"], "-o", tmp_path / "p.profile")
    assert code == 2 and "is not valid utf-8" in err and "Traceback" not in err
    code, out, err = run_cli(
        "profile", cities["latin1"], "-o", tmp_path / "p.profile", "--encoding", "latin-1"
    )
    assert code == 0, err
    assert out.startswith("profiled 2,000 rows x 2 columns")
    import driftline

    prof = driftline.DatasetProfile.load(tmp_path / "p.profile")
    assert set(prof["city"].categories.counts()) == {"Köln", "Zürich", "Paris"}


def test_check_with_encoding_compares_the_decoded_values(cities: dict[str, Path]) -> None:
    # the reference in UTF-8 is profiled first, the current in Latin-1 with --encoding
    import driftline as dl

    ref = dl.profile(str(cities["utf8"]))
    ref_path = cities["utf8"].with_suffix(".profile")
    ref.save(ref_path)
    code, out, err = run_cli("check", ref_path, cities["latin1"], "--encoding", "latin-1")
    assert code == 0, out + err  # same rows: no drift, no unseen categories
    assert out.startswith("PASS")


def test_a_latin1_json_lines_file_is_refused_not_read_as_replacement_characters(
    cities: dict[str, Path], tmp_path: Path
) -> None:
    code, _, err = run_cli("profile", cities["jsonl"], "-o", tmp_path / "j.profile")
    assert code == 2
    line = _first_bad_line(cities["jsonl"])
    assert f"line {line} is not valid utf-8" in err
    code, _, err = run_cli(
        "profile", cities["jsonl"], "-o", tmp_path / "j.profile", "--encoding", "latin-1"
    )
    assert code == 0, err


def test_an_unknown_encoding_is_a_usage_error_naming_the_option(cities: dict[str, Path]) -> None:
    code, _, err = run_cli("check", cities["utf8"], cities["latin1"], "--encoding", "latin-9x")
    assert code == 2
    assert "--encoding" in err and "latin-9x" in err


def test_label_column_defaults_to_the_target_column_of_the_labels_file(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    n = 3000
    ids = [f"p{i}" for i in range(n)]
    x = rng.normal(0, 1, n)
    churned = (x + rng.normal(0, 0.5, n) > 0).astype(int)
    pd.DataFrame({"id": ids, "x": x, "churned": churned, "pred": (x > 0).astype(int)}).to_csv(
        tmp_path / "ref.csv", index=False
    )
    pd.DataFrame({"id": ids, "x": x, "pred": (x > 0).astype(int)}).to_csv(
        tmp_path / "cur.csv", index=False
    )
    pd.DataFrame({"id": ids[:2000], "churned": churned[:2000]}).to_csv(
        tmp_path / "labels.csv", index=False
    )
    args = ("ref.csv", "cur.csv", "--target", "churned", "--prediction", "pred", "--id", "id")
    code, _, err = run_cli(
        "report", *args, "--labels", "labels.csv", "--json", "r.json", cwd=tmp_path
    )
    assert code == 0, err
    import json

    report = json.loads((tmp_path / "r.json").read_text())
    assert report["inputs"]["labels"]["label_column"] == "churned"
    assert report["performance"]["labels"]["n_labelled"] == 2000
    # a labels file with neither the target nor a "label" column: the option is named
    pd.DataFrame({"id": ids, "y": churned}).to_csv(tmp_path / "other.csv", index=False)
    code, _, err = run_cli("report", *args, "--labels", "other.csv", cwd=tmp_path)
    assert code == 2
    assert "--label-column" in err and "'churned'" in err


def test_export_prometheus_rules_to_a_yml_name_writes_that_file(tmp_path: Path) -> None:
    code, out, err = run_cli("export", "prometheus-rules", "-o", "rules.yml", cwd=tmp_path)
    assert code == 0, err
    assert (tmp_path / "rules.yml").is_file()  # a file, not a directory named rules.yml
    assert (tmp_path / "rules.test.yml").is_file()
    assert f"wrote {Path('rules.yml')}" in out
    assert "groups:" in (tmp_path / "rules.yml").read_text()
    assert "rule_files:\n- rules.yml" in (tmp_path / "rules.test.yml").read_text()


def _commands() -> list[list[str]]:
    import typer

    from driftline.cli import app

    root = typer.main.get_command(app)
    out: list[list[str]] = []

    def walk(cmd: Any, path: list[str]) -> None:
        out.append(path)
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, [*path, name])

    walk(root, [])
    return out


@pytest.mark.parametrize("command", _commands(), ids=lambda c: " ".join(c) or "driftline")
def test_help_at_80_columns_shows_every_option_name_whole(command: list[str]) -> None:
    from typer.testing import CliRunner

    from driftline.cli import app

    res = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "80", "TERM": "dumb"})
    assert res.exit_code == 0, res.output
    assert "…" not in res.output, res.output  # a truncated option name
    assert max(len(line) for line in res.output.splitlines()) <= 80
    names = set(re.findall(r"(--[a-z][a-z0-9-]+)", res.output))
    import typer

    cmd = typer.main.get_command(app)
    for part in command:
        cmd = cmd.commands[part]  # type: ignore[attr-defined]
    for param in cmd.params:
        if getattr(param, "hidden", False):  # internal (serve --listen-fd for its workers)
            continue
        for opt in [*param.opts, *param.secondary_opts]:
            if opt.startswith("--"):
                assert opt in names, f"{opt} missing from the help of {' '.join(command)}"


def test_an_all_null_categorical_column_is_100_percent_missing_not_a_type_change(
    tmp_path: Path,
) -> None:
    rng = np.random.default_rng(5)
    pd.DataFrame({"x": rng.normal(0, 1, 1000), "plan": rng.choice(["a", "b"], 1000)}).to_csv(
        tmp_path / "ref.csv", index=False
    )
    pd.DataFrame({"x": rng.normal(0, 1, 500), "plan": [None] * 500}).to_csv(
        tmp_path / "cur.csv", index=False
    )
    code, out, err = run_cli(
        "check", "ref.csv", "cur.csv", "--fail-on", "quality", "--json", "r.json", cwd=tmp_path
    )
    assert code == 1, err
    assert "plan: missing_ratio" in out
    assert "type_changes" not in out
    import json

    report = json.loads((tmp_path / "r.json").read_text())
    assert report["columns"]["plan"]["kind"] == "categorical"
    assert report["schema"]["current"]["plan"]["kind"] == "categorical"
    missing = next(q for q in report["columns"]["plan"]["quality"] if q["check"] == "missing_ratio")
    assert missing["value"] == 1.0 and missing["status"] == "fail"


@pytest.mark.parametrize(
    ("name", "sep", "says"),
    [
        ("semi.csv", ";", "holding semicolons"),
        ("bars.csv", "|", "holding vertical bars"),
        ("tabs.csv", "\t", "holding tabs"),
        ("commas.tsv", ",", "holding commas"),
    ],
)
def test_a_csv_separated_otherwise_is_bad_input_not_one_text_column(
    tmp_path: Path, name: str, sep: str, says: str
) -> None:
    # a spreadsheet in a locale with a decimal comma writes ';': read with ',', the file was
    # one text column; profile said "profiled 228 rows x 1 columns" and exited 0
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"mean radius": rng.normal(14, 3, 200), "target": rng.integers(0, 2, 200)})
    path = tmp_path / name
    df.to_csv(path, index=False, sep=sep)
    code, out, err = run_cli("profile", path, "-o", tmp_path / "p.profile")
    assert code == 2, (out, err)
    assert f"cannot read {path} as CSV: its header is one column" in err and says in err
    assert not (tmp_path / "p.profile").exists()


def test_a_tiny_reference_says_once_why_its_checks_cannot_decide(tmp_path: Path) -> None:
    """A 10-row reference makes each column's range and category checks insufficient: the
    table repeated the same reason in 66 rows (over 200 lines); it says it once, naming
    how many and the first few, and the JSON keeps each check."""
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True).frame
    data.head(10).to_csv(tmp_path / "ref.csv", index=False)
    data.iloc[300:528].to_csv(tmp_path / "cur.csv", index=False)
    code, out, err = run_cli("check", tmp_path / "ref.csv", tmp_path / "cur.csv",
                             "--json", tmp_path / "c.json")  # fmt: skip
    assert code == 3, err
    checks = json.loads((tmp_path / "c.json").read_text())["checks"]
    why = "reference too small: 10 values, a check against it needs 30 (quality min_reference)"
    n = sum(c["status"] == "error" and c["message"].endswith(why) for c in checks)
    assert n > 50
    assert re.search(rf"quality\s+│\s+{n} checks \(mean radius: out_of_range,", out), out
    assert "(--json and --junit list each)" in out
    assert len(out.splitlines()) < 30, out
