"""Reference upload: a 0.0/1.0 target named with ?target= is a classifier's, and gets estimates."""

from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .conftest import Env, prediction


def loans(rng: np.random.Generator, n: int) -> tuple[pa.Table, np.ndarray]:
    x = rng.normal(size=n)
    p = 1 / (1 + np.exp(-2 * x))
    repaid = (rng.random(n) < p).astype(np.float64)  # how NannyML's car loan stores it
    return pa.table({"x": x, "p": p, "repaid": repaid}), p


def parquet(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


async def test_float_0_1_target_with_one_score_gets_cbpe_estimates(
    env: Env, rng: np.random.Generator
) -> None:
    table, _ = loans(rng, 2000)
    r = await env.client.put(
        "/v1/models/m/versions/v1/reference",
        content=parquet(table),
        params={"target": "repaid", "scores": "p"},
        headers=env.auth(),
    )
    assert r.status_code == 200, r.text
    assert r.json()["columns"]["repaid"] == {"kind": "categorical", "role": "target"}
    xs = rng.normal(size=200)
    ps = 1 / (1 + np.exp(-2 * xs))
    events = [
        prediction(
            i, features={"x": float(xs[i])}, prediction=int(ps[i] > 0.5), scores=float(ps[i])
        )
        for i in range(200)
    ]
    accepted = await env.client.post("/v1/events", json=events, headers=env.auth("ingest"))
    assert accepted.json()["accepted"] == 200
    env.clock.advance(400)
    env.collector.tick()
    series = await env.client.get(
        "/v1/metrics",
        params={"metric": "estimated.roc_auc", "window_size": 300, "segment": "*"},
        headers=env.auth("read"),
    )
    (point,) = series.json()
    assert point["method"] == "cbpe" and 0.7 < point["value"] < 0.95


async def test_task_parameter_overrides_and_is_checked(env: Env, rng: np.random.Generator) -> None:
    table, p = loans(rng, 500)
    table = table.append_column("pred", pa.array((p > 0.5).astype(np.float64)))
    body = parquet(table)
    url = "/v1/models/m/versions/v2/reference"
    roles = {"target": "repaid", "prediction": "pred"}
    r = await env.client.put(url, content=body, params=roles, headers=env.auth())
    assert r.json()["columns"]["repaid"]["kind"] == "categorical"  # 0/1: classes
    r = await env.client.put(
        url, content=body, params={**roles, "task": "regression"}, headers=env.auth()
    )
    assert r.status_code == 200 and r.json()["columns"]["repaid"]["kind"] == "numeric"
    r = await env.client.put(
        url, content=body, params={**roles, "task": "ordinal"}, headers=env.auth()
    )
    assert r.status_code == 422 and "task" in r.text and "regression" in r.text
    r = await env.client.put(url, content=body, params={"task": "binary"}, headers=env.auth())
    assert r.status_code == 422 and "target" in r.text  # nothing to apply it to: said
    r = await env.client.put(
        url,
        content=body,
        params={"target": "repaid", "scores": "p", "task": "regression"},
        headers=env.auth(),
    )
    assert r.status_code == 422 and "score" in r.text


async def test_a_pandas_row_index_in_an_uploaded_reference_is_not_a_column(
    env: Env, rng: np.random.Generator
) -> None:
    """A filtered DataFrame saved with to_parquet carries `__index_level_0__`; the upload
    profiles the data columns only, as `driftline profile` does."""
    import pandas as pd

    frame = pd.DataFrame({"x": rng.normal(size=400), "y": rng.normal(size=400)})
    buf = io.BytesIO()
    frame[rng.random(400) < 0.5].to_parquet(buf)
    assert "__index_level_0__" in pq.read_schema(io.BytesIO(buf.getvalue())).names
    r = await env.client.put(
        "/v1/models/m/versions/v1/reference", content=buf.getvalue(), headers=env.auth()
    )
    assert r.status_code == 200, r.text
    assert sorted(r.json()["columns"]) == ["x", "y"]
