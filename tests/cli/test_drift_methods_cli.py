"""`driftline report/check --method ks` on data with categorical columns; ID-like columns."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from typer.testing import CliRunner

from driftline.cli import app

runner = CliRunner()


def test_global_ks_applies_to_numeric_columns_and_the_report_says_who_got_what(
    files: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "r.json"
    html = tmp_path / "r.html"
    ref, cur = str(files["ref"]), str(files["cur"])
    res = runner.invoke(
        app, ["report", ref, cur, "--method", "ks", "-o", str(html), "--json", str(out)]
    )
    assert res.exit_code == 0, res.output
    assert "method ks on amount, age, sessions; the default rule on plan, country" in res.output
    rep = json.loads(out.read_text())
    assert rep["columns"]["amount"]["drift"]["method"] == "ks"
    plan = rep["columns"]["plan"]["drift"]
    assert plan["details"]["rule"] == "auto" and plan["drifted"] is True
    assert "does not apply to categorical" in plan["details"]["method_note"]
    assert "does not apply to categorical" in html.read_text()


def test_an_id_like_column_is_named_in_the_verdict_and_skipped_by_check(tmp_path: Path) -> None:
    x = np.random.default_rng(0).normal(size=3000)
    for name, prefix in (("ref", "a"), ("cur", "b")):
        pq.write_table(
            pa.table(
                {
                    "order_ref": [f"{prefix}{i:06d}" for i in range(3000)],
                    "x": x,
                }
            ),
            tmp_path / f"{name}.parquet",
        )
    res = runner.invoke(
        app, ["check", str(tmp_path / "ref.parquet"), str(tmp_path / "cur.parquet")]
    )
    assert res.exit_code == 0, res.output
    assert "skipped, ID-like (almost all values distinct): order_ref" in res.output
    ref, cur = str(tmp_path / "ref.parquet"), str(tmp_path / "cur.parquet")
    json_out, html_out = str(tmp_path / "r.json"), str(tmp_path / "r.html")
    res = runner.invoke(app, ["report", ref, cur, "--json", json_out, "-o", html_out])
    assert "1 ID-like (almost all values distinct), not tested: order_ref" in res.output
    rep = json.loads((tmp_path / "r.json").read_text())
    assert rep["dataset"]["id_like_columns"] == ["order_ref"]
    assert "ID-like" in (tmp_path / "r.html").read_text()
