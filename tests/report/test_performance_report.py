"""The report's performance, segments and per-chunk performance sections (issue 4)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import driftline
from driftline import InputError
from driftline.errors import ConfigError
from driftline.report.chunks import chunked_report

ROLES = {"score": {"role": "score"}, "segment": {"role": "segment"}}


@pytest.fixture(scope="module")
def cancer() -> tuple[pd.DataFrame, pd.DataFrame]:
    """A model trained on part of breast_cancer; reference and a covariate-shifted current."""
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    rng = np.random.default_rng(7)
    idx = rng.permutation(len(y))
    train, ref_rows, pool = idx[:200], idx[200:380], idx[380:]
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    model.fit(X.iloc[train], y.iloc[train])

    def frame(rows: np.ndarray, name: str) -> pd.DataFrame:
        d = X.iloc[rows].reset_index(drop=True)
        p = model.predict_proba(X.iloc[rows])[:, 1]
        d["score"] = p
        d["prediction"] = (p >= 0.5).astype(int)
        d["target"] = y.iloc[rows].to_numpy()
        d["segment"] = np.where(d["mean radius"] > 15, "large", "small")
        d["prediction_id"] = [f"{name}{i}" for i in range(len(rows))]
        return d

    radius = X.iloc[pool]["mean radius"].to_numpy()
    w = np.exp(-(radius - radius.mean()) / radius.std())  # shift towards small tumours
    shifted = rng.choice(pool, 600, p=w / w.sum())
    return frame(ref_rows, "ref"), frame(shifted, "cur")


def test_estimated_and_realized_side_by_side_under_covariate_shift(
    cancer: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    ref, cur = cancer
    report = driftline.compare(ref, cur, ROLES, seed=1)
    assert report.data["columns"]["mean radius"]["drift"]["drifted"] is True
    perf = report.to_dict()["performance"]
    assert perf["task"] == "binary" and perf["n_labelled"] == len(cur)
    assert perf["estimation"]["method"] == "cbpe"
    for metric in ("roc_auc", "accuracy", "precision", "recall", "f1"):
        est = perf["estimated"][metric]
        assert est["lower"] <= est["value"] <= est["upper"]
        assert metric in perf["realized"]
        assert abs(est["value"] - perf["realized"][metric]) < 0.06, metric
    assert perf["realized"]["accuracy"] == pytest.approx(
        skm.accuracy_score(cur.target, cur.prediction), abs=1e-12
    )
    assert perf["realized"]["roc_auc"] == pytest.approx(
        skm.roc_auc_score(cur.target, cur.score), abs=1e-9
    )
    signals = perf["signals"]
    assert signals["prediction_drift"]["column"] == "prediction"
    assert set(signals["score_drift"]) == {"score"}
    assert signals["label_drift"]["column"] == "target"
    assert signals["confidence"]["reference"] is not None
    assert signals["out_of_bounds"]["score"]["status"] == "ok"


def test_without_labels_only_the_estimate(cancer: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    ref, cur = cancer
    unlabelled = cur.assign(target=pd.array([None] * len(cur), dtype="Int64"))
    perf = driftline.compare(ref, unlabelled, ROLES).to_dict()["performance"]
    assert perf["n_labelled"] == 0 and perf["realized"] == {}
    assert perf["estimated"]["roc_auc"]["value"] > 0.9
    assert perf["signals"]["label_drift"] is None
    assert any("no labelled rows" in w for w in perf["warnings"])


def test_a_few_labels_say_how_uncertain_their_accuracy_is(
    cancer: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path
) -> None:
    """10 labelled rows all right is "accuracy 1" and nothing else unless the report says
    how little that is: the warning gives the Wilson interval (checked against
    statsmodels), and `driftline report` prints the section and the warning."""
    from statsmodels.stats.proportion import proportion_confint
    from typer.testing import CliRunner

    from driftline.cli import app

    ref, cur = cancer
    few = cur[cur["prediction"] == cur["target"]].head(10)
    perf = driftline.compare(ref, few, ROLES).to_dict()["performance"]
    assert perf["n"] == 10 and perf["realized"]["accuracy"] == 1.0
    lo, hi = proportion_confint(10, 10, method="wilson")
    (warning,) = [w for w in perf["warnings"] if "labelled rows" in w]
    assert warning == (
        "only 10 labelled rows: too few for the realized metrics to be taken at face value "
        f"(accuracy 1: 95% interval {lo:.2f} to {hi:.2f}, Wilson)"
    )
    full = driftline.compare(ref, cur, ROLES).to_dict()["performance"]
    assert not any(w.startswith("only") for w in full["warnings"])  # 600 labelled rows
    ref.to_parquet(tmp_path / "ref.parquet")
    few.to_parquet(tmp_path / "cur.parquet")
    res = CliRunner().invoke(
        app,
        ["report", str(tmp_path / "ref.parquet"), str(tmp_path / "cur.parquet"),
         "--target", "target", "--prediction", "prediction", "--scores", "score",
         "-o", str(tmp_path / "r.html")],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    out = " ".join(res.output.split())
    assert "Prediction quality (binary, 10 of 10 current rows labelled):" in out
    assert "accuracy 1 (reference 0.9" in out
    assert "only 10 labelled rows" in out


def test_late_labels_joined_by_id(cancer: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    ref, cur = cancer
    rng = np.random.default_rng(3)
    labelled = rng.choice(len(cur), 250, replace=False)
    labels = pd.DataFrame(
        {
            "prediction_id": [*cur.prediction_id.iloc[labelled].tolist(), "ghost1", "ghost2"],
            "label": [*cur.target.iloc[labelled].tolist(), 1, 0],
        }
    )
    dup = pd.DataFrame({"prediction_id": [labels.prediction_id[0]], "label": [labels.label[0]]})
    labels = pd.concat([labels, dup], ignore_index=True)  # a duplicate: the last one wins
    predictions = cur.drop(columns=["target"])
    report = driftline.compare(
        ref, predictions, ROLES, labels=labels, id="prediction_id", label_column="label"
    )
    perf = report.to_dict()["performance"]
    stats = perf["labels"]
    assert stats["n_labelled"] == 250 and stats["coverage"] == pytest.approx(250 / len(cur))
    assert stats["n_orphan_labels"] == 2 and stats["n_duplicate_labels"] == 1
    assert perf["n_labelled"] == 250 and perf["excluded"]["unlabelled"] == len(cur) - 250
    sub = cur.iloc[labelled]
    assert perf["realized"]["accuracy"] == pytest.approx(
        skm.accuracy_score(sub.target, sub.prediction), abs=1e-12
    )
    assert perf["realized"]["roc_auc"] == pytest.approx(
        skm.roc_auc_score(sub.target, sub.score), abs=1e-9
    )
    assert "target" in report.to_dict()["columns"]  # the labels became the target column


def test_late_labels_bad_ids(cancer: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    ref, cur = cancer
    labels = pd.DataFrame({"prediction_id": ["cur1"], "label": [1]})
    with pytest.raises(InputError, match="'request_id'"):
        driftline.compare(ref, cur, ROLES, labels=labels, id="request_id")
    twice = pd.concat([cur, cur.iloc[:3]], ignore_index=True)
    with pytest.raises(InputError, match="'prediction_id' must be unique"):
        driftline.compare(ref, twice, ROLES, labels=labels, id="prediction_id")
    with pytest.raises(InputError, match="id column"):
        driftline.compare(ref, cur, ROLES, labels=labels)
    profile = driftline.profile(cur, ROLES)
    with pytest.raises(InputError, match="not a saved profile"):
        driftline.compare(ref, profile, ROLES, labels=labels, id="prediction_id")


def test_segments_match_sklearn_and_worst_is_found(rng: np.random.Generator) -> None:
    n = 4000
    seg = rng.choice(["north", "south", "east", "west"], n)
    y = rng.integers(0, 2, n)
    correct = rng.random(n) < np.where(seg == "east", 0.6, 0.9)  # east is worse
    pred = np.where(correct, y, 1 - y)
    cur = pd.DataFrame({"x": rng.normal(size=n), "target": y, "prediction": pred, "region": seg})
    ref = cur.sample(frac=0.5, random_state=1)
    schema = {"region": {"role": "segment"}}
    segments = driftline.compare(ref, cur, schema).to_dict()["segments"]
    by_value = segments["columns"]["region"]
    for value in ("north", "south", "east", "west"):
        m = seg == value
        assert by_value[value]["n"] == m.sum()
        assert by_value[value]["realized"]["accuracy"] == pytest.approx(
            skm.accuracy_score(y[m], pred[m]), abs=1e-12
        )
        assert by_value[value]["realized"]["f1"] == pytest.approx(
            skm.f1_score(y[m], pred[m]), abs=1e-12
        )
    worst = segments["worst"]
    assert worst and worst[0]["name"] == "region = east" and worst[0]["significant"]
    # the HTML report lists the significant worst slices, and only them
    html = driftline.compare(ref, cur, schema).to_html()
    table = html.split('data-testid="worst-slices"')[1].split("</table>")[0]
    assert "region = east" in table and "region = north" not in table
    assert 'href="#worst-slices"' in html


def test_a_model_equally_good_everywhere_has_no_worst_slice(rng: np.random.Generator) -> None:
    """Eight regions x two columns, no slice worse: the FDR control keeps the table empty."""
    n = 4000
    y = rng.integers(0, 2, n)
    pred = np.where(rng.random(n) < 0.85, y, 1 - y)
    cur = pd.DataFrame({
        "target": y, "prediction": pred, "region": rng.choice(list("abcdefgh"), n),
        "channel": rng.choice(["web", "app", "phone"], n),
    })  # fmt: skip
    schema = {"region": {"role": "segment"}, "channel": {"role": "segment"}}
    report = driftline.compare(cur.sample(frac=0.5, random_state=2), cur, schema)
    assert not [w for w in report.to_dict()["segments"]["worst"] if w["significant"]]
    table = report.to_html().split('data-testid="worst-slices"')[1].split("</table>")[0]
    assert "no slice is significantly worse than the whole" in table


def test_unseen_classes_are_excluded_and_reported(rng: np.random.Generator) -> None:
    n = 600
    ref = pd.DataFrame(
        {"target": rng.choice(["a", "b"], n), "prediction": rng.choice(["a", "b"], n)}
    )
    cur = ref.copy()
    cur.loc[:49, "target"] = "c"  # a class the reference never saw
    perf = driftline.compare(ref, cur).to_dict()["performance"]
    assert perf["excluded"]["unknown_class"] == 50
    assert perf["realized"]["accuracy"] == pytest.approx(
        skm.accuracy_score(cur.target[50:], cur.prediction[50:]), abs=1e-12
    )
    assert any("not seen in the reference" in w for w in perf["warnings"])


def test_confidence_collapse_and_out_of_bounds(rng: np.random.Generator) -> None:
    n = 2000
    p_ref = rng.beta(0.3, 0.3, n)  # confident
    p_cur = rng.beta(4, 4, n)  # hedging
    ref = pd.DataFrame({"score": p_ref, "prediction": (p_ref > 0.5).astype(int), "price": 0.0})
    cur = pd.DataFrame({"score": p_cur, "prediction": (p_cur > 0.5).astype(int), "price": 0.0})
    ref["target"], cur["target"] = (rng.random(n) < p_ref).astype(int), None
    cur["price"] = rng.normal(size=n)
    schema = {"score": {"role": "score"}}
    perf = driftline.compare(
        ref, cur, schema, valid_ranges={"price": (0, None)}, estimate=False
    ).to_dict()["performance"]
    conf = perf["signals"]["confidence"]
    assert conf["collapsed"] is True and conf["status"] == "fail" and conf["drop"] > 0.2
    oob = perf["signals"]["out_of_bounds"]["price"]
    assert oob["status"] == "fail" and oob["n_out"] == int((cur.price < 0).sum())
    with pytest.raises(ConfigError, match="'nope'"):
        driftline.compare(ref, cur, schema, valid_ranges={"nope": (0, 1)}, estimate=False)


def test_regression_with_dle(rng: np.random.Generator) -> None:
    n = 600
    x = rng.normal(size=n)
    y = 3 * x + rng.normal(0, 1 + np.abs(x), n)
    df = pd.DataFrame({"x": x, "prediction": 3 * x, "target": y})
    ref, cur = df.iloc[:300], df.iloc[300:]
    perf = driftline.compare(ref, cur, seed=0).to_dict()["performance"]
    assert perf["task"] == "regression"
    assert perf["realized"]["mae"] == pytest.approx(
        skm.mean_absolute_error(cur.target, cur.prediction), abs=1e-9
    )
    assert perf["estimation"]["method"] == "dle"
    est = perf["estimated"]["mae"]
    assert (
        est["lower"] <= perf["realized"]["mae"] * 1.3
        and est["upper"] >= perf["realized"]["mae"] * 0.7
    )


def test_per_chunk_performance(cancer: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    ref, cur = cancer
    report = chunked_report(ref, cur, 3, ROLES, data_driven=False).to_dict()
    chunks = report["chunks"]
    assert len(chunks) == 3
    assert (
        sum(c["performance"]["n_labelled"] for c in chunks) == report["performance"]["n_labelled"]
    )
    for c in chunks:
        part = cur.iloc[c["start"] : c["end"]]
        assert c["n"] == len(part)
        assert c["performance"]["realized"]["accuracy"] == pytest.approx(
            skm.accuracy_score(part.target, part.prediction), abs=1e-12
        )
        assert "roc_auc" in c["performance"]["estimated"]


def test_chunks_with_late_labels(cancer: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    ref, cur = cancer
    labels = cur[["prediction_id", "target"]].iloc[::2].rename(columns={"target": "label"})
    report = chunked_report(
        ref,
        cur.drop(columns=["target"]),
        2,
        ROLES,
        data_driven=False,
        labels=labels,
        id="prediction_id",
        estimate=False,
    ).to_dict()
    assert report["performance"]["labels"]["n_labelled"] == len(labels)
    assert sum(c["performance"]["n_labelled"] for c in report["chunks"]) == len(labels)


def test_late_labels_of_the_wrong_type(cancer: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    ref, cur = cancer
    labels = pd.DataFrame({"prediction_id": ["cur1", "cur2"], "label": ["yes", "no"]})
    with pytest.raises(InputError, match=r"target column 'target'.*strings"):
        driftline.compare(
            ref, cur.drop(columns=["target"]), ROLES, labels=labels, id="prediction_id"
        )


def test_saved_reference_profile_gives_the_same_section(
    tmp_path: Path, cancer: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    ref, cur = cancer
    path = driftline.profile(ref, ROLES, seed=1).save(tmp_path / "ref.profile")
    from_raw = driftline.compare(ref, cur, ROLES, seed=1).to_dict()["performance"]
    from_file = driftline.compare(path, cur, ROLES, seed=1).to_dict()["performance"]
    assert from_file["realized"] == from_raw["realized"]
    assert from_file["reference"] == from_raw["reference"]
    assert from_file["estimated"] == from_raw["estimated"]


def test_check_on_20_labels_cannot_decide_a_min_accuracy_its_interval_reaches(
    cancer: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path
) -> None:
    """The new-user pass: 600 rows of which 20 labelled, `accuracy: {min: 0.9}`, and the
    gate passed or failed on the point value. The 95% Wilson interval of 20 labels reaches
    0.9 from either side: exit 3 (cannot decide), with the interval in the message."""
    from statsmodels.stats.proportion import proportion_confint
    from typer.testing import CliRunner

    from driftline.cli import app

    ref, cur = cancer
    cur = cur.copy()
    cur["target"] = cur["target"].astype(float)
    cur.loc[cur.index[20:], "target"] = np.nan  # labels arrive later for the rest
    right = int((cur["prediction"] == cur["target"]).head(20).sum())
    assert 16 <= right <= 20  # a point value either side of 0.9 is possible on 20 rows
    lo, hi = proportion_confint(right, 20, method="wilson")
    assert lo < 0.9 < hi
    ref.to_parquet(tmp_path / "ref.parquet")
    cur.to_parquet(tmp_path / "cur.parquet")
    cfg = tmp_path / "c.yaml"
    cfg.write_text("check:\n  fail_on: [performance]\n  performance: {accuracy: {min: 0.9}}\n")
    args = ["check", str(tmp_path / "ref.parquet"), str(tmp_path / "cur.parquet"),
            "--target", "target", "--prediction", "prediction", "--scores", "score",
            "--config", str(cfg), "--json", str(tmp_path / "c.json")]  # fmt: skip
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 3, res.output
    assert res.output.startswith("INSUFFICIENT DATA  0 failed")
    import json

    (acc,) = [c for c in json.loads((tmp_path / "c.json").read_text())["checks"]
              if c["name"] == "accuracy"]  # fmt: skip
    assert acc["status"] == "error"
    assert (
        f"95% interval {lo:.4g} to {hi:.4g} (Wilson, 20 labelled rows) reaches min 0.9"
        in (acc["message"])
    )


def test_check_holds_an_estimated_metric_to_its_band(
    cancer: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path
) -> None:
    """40 unlabelled rows of breast_cancer: CBPE's accuracy band is several points wide, and
    `check` gated on its point value alone. A bound inside the band cannot be decided (exit
    3); a bound below the whole band passes, one above it fails."""
    import json

    from typer.testing import CliRunner

    from driftline.cli import app

    ref, cur = cancer
    cur = cur.head(40).drop(columns=["target"])  # labels arrive later
    ref.to_parquet(tmp_path / "ref.parquet")
    cur.to_parquet(tmp_path / "cur.parquet")
    roles = {"score": {"role": "score"}, "prediction": {"role": "prediction"}}
    band = driftline.compare(ref, cur, {**roles, "target": {"role": "target"}}, seed=0)
    acc = band.to_dict()["performance"]["estimated"]["accuracy"]
    value, lower, upper = acc["value"], acc["lower"], acc["upper"]
    assert lower < value - 0.01  # a band worth the name on 40 rows

    def check(bound: str) -> tuple[int, dict[str, Any]]:
        cfg = tmp_path / "c.yaml"
        cfg.write_text(f"check:\n  fail_on: [performance]\n  performance: {{accuracy: {bound}}}\n")
        args = ["check", str(tmp_path / "ref.parquet"), str(tmp_path / "cur.parquet"),
                "--target", "target", "--prediction", "prediction", "--scores", "score",
                "--config", str(cfg), "--json", str(tmp_path / "c.json")]  # fmt: skip
        res = CliRunner().invoke(app, args)
        checks = json.loads((tmp_path / "c.json").read_text())["checks"]
        (only,) = [c for c in checks if c["name"] == "accuracy"]
        return res.exit_code, only

    inside = round((value + lower) / 2, 4)  # the point value is above it: it passed before
    code, c = check(f"{{min: {inside}}}")
    assert code == 3 and c["status"] == "error", c
    assert c["message"].startswith(f"estimated {value:.4g}, 95% band {lower:.4g} to {upper:.4g}")
    assert c["message"].endswith(
        f"reaches min {inside:.4g}: the estimate is too uncertain to decide"
    )
    code, c = check(f"{{min: {round(lower - 0.01, 4)}}}")
    assert code == 0 and c["status"] == "pass", c
    code, c = check(f"{{max: {round(lower - 0.01, 4)}}}")
    assert code == 1 and c["status"] == "fail", c
