"""Live classification quality from scores, and label drift, per window (issue 16).

A real model (logistic regression on scikit-learn's breast cancer and wine
data) serves through the collector; labels arrive; the window's ROC AUC, PR
AUC, log loss, Brier score and calibration error equal scikit-learn's on the
same rows, and the labels' distribution is compared with the reference's.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    log_loss,
    roc_auc_score,
)
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from driftline.windows.labelled import performance_results

from .conftest import T0, Env, prediction


def ece(y: np.ndarray, proba: np.ndarray, bins: int = 15) -> float:
    """Expected calibration error by its definition: top-class confidence in 15 equal bins."""
    conf = proba.max(axis=1)
    correct = proba.argmax(axis=1) == y
    idx = np.minimum((conf * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            total += abs(correct[m].sum() - conf[m].sum())
    return total / len(y)


def _fit(data: Any) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    x_train, x_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.4, random_state=0, stratify=data.target
    )
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=2000))
    model.fit(x_train, y_train)
    return model, x_train, y_train, x_test, y_test


def test_binary_score_metrics_equal_scikit_learn() -> None:
    model, _, _, x, y = _fit(load_breast_cancer())
    proba = model.predict_proba(x)
    rows = [
        (int(t), int(p.argmax()), {"0": float(p[0]), "1": float(p[1])})
        for t, p in zip(y, proba, strict=True)
    ]
    r = performance_results(rows, "classification")
    assert r is not None and r["n_scored"] == len(y)
    assert r["roc_auc"] == pytest.approx(roc_auc_score(y, proba[:, 1]), abs=1e-12)
    assert r["pr_auc"] == pytest.approx(average_precision_score(y, proba[:, 1]), abs=1e-12)
    assert r["log_loss"] == pytest.approx(log_loss(y, proba), abs=1e-9)
    assert r["brier"] == pytest.approx(brier_score_loss(y, proba[:, 1]), abs=1e-12)
    assert r["ece"] == pytest.approx(ece(y, proba), abs=1e-12)
    # the same scores as one number (P of the positive class) give the same answer
    plain = [(t, p, s["1"]) for t, p, s in rows]
    assert performance_results(plain, "classification")["roc_auc"] == r["roc_auc"]  # type: ignore[index]


def test_unreadable_scores_are_left_out_and_counted() -> None:
    rows: list[tuple[Any, Any, Any]] = [(i % 2, i % 2, 0.9 if i % 2 else 0.1) for i in range(40)]
    rows += [(1, 1, "high"), (0, 0, {"0": 2.0, "1": -1.0})]
    r = performance_results(rows, "classification")
    assert r is not None and r["n"] == 42 and r["n_scored"] == 40
    assert r["excluded"]["nan_score"] == 2


def _parquet(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


async def _serve(env: Env, data: Any, model_name: str, *, flip: float = 0.0) -> dict[str, Any]:
    """Reference upload, predictions with scores in one window, labels; the window's points."""
    model, x_train, y_train, x, y = _fit(data)
    names = [f"f{i}" for i in range(x.shape[1])]
    classes = [int(c) for c in model.classes_]
    ref = {n: x_train[:, i] for i, n in enumerate(names)}
    ref["target"] = y_train.astype(np.int64)
    r = await env.client.put(
        f"/v1/models/{model_name}/versions/v1/reference",
        content=_parquet(pa.table(ref)),
        params={"target": "target"},
        headers=env.auth(),
    )
    assert r.status_code == 200, r.text
    proba = model.predict_proba(x)
    events = [
        prediction(
            i,
            ts=T0 + 1 + i * 0.1,
            model=model_name,
            features={n: float(x[i, j]) for j, n in enumerate(names)},
            prediction=classes[int(proba[i].argmax())],
            scores={str(c): float(proba[i, k]) for k, c in enumerate(classes)},
        )
        for i in range(len(y))
    ]
    r = await env.client.post("/v1/events", json=events, headers=env.auth("ingest"))
    assert r.json()["accepted"] == len(y), r.text
    rng = np.random.default_rng(1)
    labels = np.where(rng.random(len(y)) < flip, classes[0], y)
    body = [
        {"event_id": f"l{i}", "prediction_id": f"p{i}", "timestamp": T0 + 2, "model": model_name,
         "label": int(labels[i])}
        for i in range(len(y))
    ]  # fmt: skip
    r = await env.client.post("/v1/labels", json=body, headers=env.auth("ingest"))
    assert r.status_code == 200, r.text
    env.clock.advance(400)
    env.collector.tick()
    got = await env.client.get(
        "/v1/metrics",
        params={"model": model_name, "window_size": 300, "segment": "*", "limit": 10000},
        headers=env.auth("read"),
    )
    points = {(p["metric"], p["column"]): p for p in got.json()}
    return {"points": points, "proba": proba, "y": labels, "train": y_train}


async def test_collector_writes_score_metrics_equal_to_scikit_learn(env: Env) -> None:
    got = await _serve(env, load_breast_cancer(), "cancer")
    p, proba, y = got["points"], got["proba"], got["y"]
    value = {
        m: p[(f"performance.{m}", "")]["value"]
        for m in ("roc_auc", "pr_auc", "log_loss", "brier", "ece")
    }
    assert value["roc_auc"] == pytest.approx(roc_auc_score(y, proba[:, 1]), abs=1e-9)
    assert value["pr_auc"] == pytest.approx(average_precision_score(y, proba[:, 1]), abs=1e-9)
    assert value["log_loss"] == pytest.approx(log_loss(y, proba), abs=1e-6)
    assert value["brier"] == pytest.approx(brier_score_loss(y, proba[:, 1]), abs=1e-9)
    assert value["ece"] == pytest.approx(ece(y, proba), abs=1e-9)
    assert p[("performance.roc_auc", "")]["n"] == len(y)
    drift = p[("label_drift", "target")]
    assert drift["status"] == "ok" and drift["n"] == len(y)
    page = await env.client.get(
        "/ui/models/cancer", params={"version": "v1", "range": "1h"}, headers=env.auth("read")
    )
    assert page.status_code == 200, page.text[:300]
    assert 'id="chart-scores"' in page.text and 'id="chart-calibration"' in page.text
    assert 'data-signal="label_drift"' in page.text


async def test_multiclass_scores_and_label_drift_on_wine(env: Env) -> None:
    got = await _serve(env, load_wine(), "wine", flip=0.6)
    p, proba, y = got["points"], got["proba"], got["y"]
    assert p[("performance.roc_auc", "")]["value"] == pytest.approx(
        roc_auc_score(y, proba, multi_class="ovr", average="macro"), abs=1e-9
    )
    assert p[("performance.log_loss", "")]["value"] == pytest.approx(
        log_loss(y, proba, labels=[0, 1, 2]), abs=1e-6
    )
    # 60 % of the labels turned into class 0: the label distribution moved
    drift = p[("label_drift", "target")]
    assert drift["status"] == "drift", drift
    metrics = await env.client.get("/metrics", headers=env.auth("read"))
    text = metrics.text
    assert 'driftline_label_drift_detected{column="target",model="wine",version="v1"} 1.0' in text
    assert 'driftline_performance{metric="roc_auc",model="wine",version="v1"}' in text
