"""A text column counts once in the dataset verdict (docs/drift.md, "Text and image columns
count once"), on real data: the one-line descriptions of Debian's science and games packages
(tests/data/debian_descriptions.npz) beside eight of breast_cancer's measurements.

Before, each of the text column's seven descriptors counted as a column: a shift of the text
alone read "3 of 16 columns drifted", and the text's unchanged descriptors made the other
columns' correction stricter (16 tests instead of 9 columns)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests

import driftline
from driftline.report.gate import evaluate


def run(*args: object) -> tuple[int, str]:
    from typer.testing import CliRunner

    from driftline.cli import app

    res = CliRunner().invoke(app, [str(a) for a in args])
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise res.exception
    return res.exit_code, res.stdout


FIXTURE = Path(__file__).resolve().parents[1] / "data" / "debian_descriptions.npz"
SCHEMA = {"description": {"kind": "text"}}
N = 284  # rows a side: breast_cancer's 569 halved


def _texts(section: str, seed: int) -> np.ndarray:
    data = np.load(FIXTURE)
    texts = data["texts"][data["sections"] == section]
    return texts[np.random.default_rng(seed).permutation(texts.size)]


def _sides(
    ref_texts: np.ndarray, cur_texts: np.ndarray, texture_shift: float = 0.0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Random halves of breast_cancer's first 8 columns (no drift unless ``texture_shift``, in
    reference standard deviations), with a text column."""
    from sklearn.datasets import load_breast_cancer

    features = load_breast_cancer(as_frame=True).frame.iloc[:, :8]
    perm = np.random.default_rng(0).permutation(len(features))
    ref = features.iloc[perm[:N]].reset_index(drop=True)
    cur = features.iloc[perm[N : 2 * N]].reset_index(drop=True)
    cur["mean texture"] += texture_shift * ref["mean texture"].std()
    ref["description"] = list(ref_texts[:N])
    cur["description"] = list(cur_texts[:N])
    return ref, cur


@pytest.fixture(scope="module")
def topic_shift() -> driftline.Report:
    """Science package descriptions against games ones: only the text column drifts."""
    ref, cur = _sides(_texts("science", 0), _texts("games", 0))
    return driftline.compare(ref, cur, SCHEMA, multivariate=False)


def test_a_text_column_that_drifted_is_one_of_nine_columns(topic_shift: driftline.Report) -> None:
    d = topic_shift.to_dict()
    ds = d["dataset"]
    assert ds["verdict"] == "drift"
    assert ds["drifted_columns"] == ["description"]
    assert ds["n_columns"] == 9 and ds["n_tested"] == 9  # 8 measurements + 1 text column
    # its own values (characters) and its 7 descriptors are tests of that one column
    assert ds["n_tests"] == 8 + 1 + len(d["columns"]["description"]["descriptors"])
    assert d["columns"]["description"]["drift"]["drifted"] is True  # characters
    drifted = ds["drifted_descriptors"].get("description", [])
    assert all(d["columns"][n]["descriptor_of"] == "description" for n in drifted)
    assert topic_shift.summary().startswith("DRIFT: 1 of 9 columns drifted (description")
    # the descriptors stay in the report, each with its own result
    assert all(n in d["columns"] for n in d["columns"]["description"]["descriptors"])


def test_the_html_summary_and_drift_table_count_it_once(topic_shift: driftline.Report) -> None:
    html = topic_shift.to_html()
    assert "1<small> / 9</small>" in html
    rows = [r.split('"', 1)[0] for r in html.split('<tr data-column="')[1:]]
    at = rows.index("description")
    kids = topic_shift.to_dict()["columns"]["description"]["descriptors"]
    assert set(rows[at + 1 : at + 1 + len(kids)]) == set(kids)  # listed under their column


def test_check_has_one_drift_check_per_column_sent(topic_shift: driftline.Report) -> None:
    checks = [c for c in evaluate(topic_shift.to_dict(), ["drift"]) if c.suite == "drift"]
    columns = [c for c in checks if not c.name.startswith("multivariate")]
    assert len(columns) == 9
    failed = [c for c in columns if c.failed]
    assert [c.name for c in failed] == ["description"]
    drifted = topic_shift.to_dict()["dataset"]["drifted_descriptors"].get("description", [])
    assert all(n in failed[0].message for n in drifted), failed[0].message
    assert failed[0].message.startswith("wasserstein"), failed[0].message  # its characters
    # a member's p-value is adjusted within the column's family, and says so
    assert "within its column" in failed[0].message, failed[0].message
    assert "Benjamini-Hochberg" not in failed[0].message, failed[0].message
    plain = [c for c in columns if not c.failed and "p=" in c.message]
    assert plain and all("after Benjamini-Hochberg" in c.message for c in plain), plain


def test_the_cli_says_one_of_nine(tmp_path: Path) -> None:
    ref, cur = _sides(_texts("science", 0), _texts("games", 0))
    ref.to_parquet(tmp_path / "ref.parquet")
    cur.to_parquet(tmp_path / "cur.parquet")
    (tmp_path / "schema.yaml").write_text("description: {kind: text}\n")
    paths = [
        tmp_path / "ref.parquet",
        tmp_path / "cur.parquet",
        "--schema",
        tmp_path / "schema.yaml",
    ]
    code, out = run("report", *paths, "-o", tmp_path / "r.html", "--json", tmp_path / "r.json")
    assert code == 0, out
    assert "1 of 9 columns drifted" in out, out
    assert "\ndrifted: description" in out, out  # named on the verdict's line
    assert json.loads((tmp_path / "r.json").read_text())["dataset"]["n_columns"] == 9
    code, out = run("check", *paths, "--fail-on", "drift")
    assert code == 1 and "description" in out, out


def test_unchanged_descriptors_do_not_make_other_columns_harder_to_flag() -> None:
    """A 0.24-sd shift of one measurement, two halves of the same texts: its KS p-value is
    0.004, 0.036 after Benjamini-Hochberg over the 9 columns; counting the text's 8 tests as
    columns made it 0.063 over 16, and the shift went unreported."""
    ref, cur = _sides(_texts("science", 0)[:N], _texts("science", 0)[N:], texture_shift=0.24)
    d = driftline.compare(ref, cur, SCHEMA, multivariate=False).to_dict()
    texture = d["columns"]["mean texture"]["drift"]
    assert 0.05 / 16 < texture["p_value"] < 0.05 / 9  # the case the old counting lost
    assert d["dataset"]["drifted_columns"] == ["mean texture"]
    assert texture["details"]["p_value_adjusted"] < 0.05


def _family_rule(columns: dict[str, Any], alpha: float) -> dict[str, tuple[float, bool]]:
    """Benjamini and Bogomolov's procedure from the raw p-values, with statsmodels' BH: each
    member's adjusted p-value and whether its test is significant."""
    families: dict[str, list[str]] = {}
    for name, col in columns.items():
        if col["drift"]["p_value"] is not None and col["drift"]["drifted"] is not None:
            families.setdefault(col.get("descriptor_of", name), []).append(name)
    within: dict[str, float] = {}
    for members in families.values():
        p = [columns[n]["drift"]["p_value"] for n in members]
        within.update(zip(members, multipletests(p, method="fdr_bh")[1], strict=True))
    simes = [min(within[n] for n in members) for members in families.values()]
    across = dict(zip(families, multipletests(simes, method="fdr_bh")[1], strict=True))
    r = sum(q < alpha for q in across.values())
    out = {}
    for fam, members in families.items():
        for n in members:
            adj = across[fam] if len(members) == 1 else min(1.0, within[n] * len(families) / r)
            out[n] = (adj, bool(across[fam] < alpha and adj < alpha))
    return out


def test_the_text_column_s_tests_follow_benjamini_bogomolov(topic_shift: driftline.Report) -> None:
    columns = topic_shift.to_dict()["columns"]
    want = _family_rule(columns, alpha=0.05)
    for name, (adj, significant) in want.items():
        drift = columns[name]["drift"]
        assert drift["details"]["p_value_adjusted"] == pytest.approx(adj, rel=1e-9), name
        effect = drift["statistic"] >= drift["threshold"]
        assert drift["drifted"] is (significant and effect), name


def test_two_halves_of_the_same_texts_and_measurements_do_not_drift() -> None:
    texts = _texts("science", 1)
    ref, cur = _sides(texts[:N], texts[N:])
    ds = driftline.compare(ref, cur, SCHEMA, multivariate=False).to_dict()["dataset"]
    assert ds["verdict"] == "no_drift", ds["drifted_columns"]
    assert ds["n_columns"] == 9


def test_a_chunk_tests_the_text_column_with_its_descriptors() -> None:
    """Chunks compared the text column by its characters alone: hyphens for spaces in the
    second chunk (as many characters, one word) went unseen there, while the whole
    report flagged them."""
    from driftline.report.chunks import chunked_report

    texts = _texts("science", 2)
    rng = np.random.default_rng(2)
    ref = pd.DataFrame({"description": texts[:600], "x": rng.normal(size=600)})
    later = [t.replace(" ", "-") for t in texts[1000:1400]]
    cur = pd.DataFrame({"description": [*texts[600:1000], *later], "x": rng.normal(size=800)})
    report = chunked_report(ref, cur, 2, SCHEMA, seed=0, multivariate=False).to_dict()
    first, second = (c["dataset"] for c in report["chunks"])
    assert first["verdict"] == "no_drift" and first["n_columns"] == 2
    assert second["drifted_columns"] == ["description"] and second["n_columns"] == 2
    assert "description.words" in second["drifted_descriptors"]["description"]
    # as the whole report: columns tested and tests run (a descriptor's among them)
    whole = report["dataset"]
    assert (second["n_tested"], second["n_tests"]) == (whole["n_tested"], whole["n_tests"])
    assert second["n_tests"] > second["n_tested"] == 2
    assert report["chunks"][1]["columns"]["description"]["drift"]["drifted"] is False  # chars
    assert report["dataset"]["drifted_columns"] == ["description"]  # the whole agrees
    assert "1<small> / 2</small>" in driftline.Report(report).to_html()


@pytest.mark.parametrize("text_first", [True, False], ids=["text-first", "column-first"])
def test_a_column_named_like_a_descriptor_is_a_column_of_its_own(text_first: bool) -> None:
    """A numeric column sent as ``description.words`` beside the text column ``description``
    took the place of the text's words descriptor (or the descriptor took its place, by column
    order): the report said "1 of 1 columns drifted (description (words))" for two columns
    sent, and the user's column was counted inside the text column."""
    texts = _texts("science", 3)
    words = np.arange(200, dtype=float)
    sides = [
        {"description": list(texts[:200]), "description.words": words},
        {"description": list(texts[200:400]), "description.words": words + 100},
    ]
    if not text_first:
        sides = [dict(reversed(side.items())) for side in sides]
    report = driftline.compare(*sides, SCHEMA, multivariate=False)
    d = report.to_dict()
    ds = d["dataset"]
    assert ds["n_columns"] == 2
    assert ds["drifted_columns"] == ["description.words"] and ds["drifted_descriptors"] == {}
    assert "descriptor_of" not in d["columns"]["description.words"]
    assert "description.words" not in d["columns"]["description"]["descriptors"]
    assert d["columns"]["description.words"]["kind"] == "numeric"
    assert report.summary().startswith("DRIFT: 1 of 2 columns drifted (description.words);")


def test_check_counts_only_the_descriptors_that_had_a_verdict() -> None:
    """A text column of empty strings has no letters: 4 of its 7 descriptors (non-letter and
    script shares) are not compared. Its check said "its 7 descriptors did not drift"."""
    texts = _texts("science", 4)
    sides = [
        {"description": list(texts[:200]), "notes": [""] * 200},
        {"description": list(texts[200:400]), "notes": [""] * 200},
    ]
    schema = {**SCHEMA, "notes": {"kind": "text"}}
    report = driftline.compare(*sides, schema, multivariate=False).to_dict()
    kids = report["columns"]["notes"]["descriptors"]
    no_verdict = [k for k in kids if report["columns"][k]["drift"]["drifted"] is None]
    assert len(kids) == 7 and len(no_verdict) == 4
    assert set(no_verdict) <= set(report["dataset"]["insufficient_columns"])
    (notes,) = [c for c in evaluate(report, ["drift"]) if c.name == "notes"]
    assert notes.status == "pass"
    assert notes.message.endswith("its 3 descriptors did not drift (4 more without a verdict)")


def test_the_console_table_counts_what_it_left_out(topic_shift: driftline.Report) -> None:
    """The drift table's caption named every row left out a column (descriptors included)."""
    from driftline.report.console import drift_table, ordered_columns

    d = topic_shift.to_dict()
    rows = ordered_columns(d)
    assert len(rows) == 9 + 7  # 8 measurements, the text column and its 7 descriptors
    for limit in (2, 10):
        caption = str(drift_table(d, limit=limit).caption)
        left = dict((what, int(n)) for n, what in re.findall(r"(\d+) more (\w+)", caption))
        assert sum(left.values()) == len(rows) - limit, caption
        shown = {name for name, _ in rows[:limit]}
        # the descriptors left out are those of columns, not columns
        hidden = [c for name, c in rows[limit:] if name not in shown]
        members = sum(1 for c in hidden if c.get("descriptor_of"))
        assert left.get("descriptors", 0) == members, caption
