"""Runtime captures in the collector: kept per version and role, diffed, alerting, bad input."""

from __future__ import annotations

from typing import Any

from driftline.store import MetricQuery
from driftline.windows import ALL

from .conftest import T0, Env, prediction


def _record(role: str, packages: dict[str, str], **kw: Any) -> dict[str, Any]:
    r = {
        "type": "runtime",
        "event_id": f"rt-{role}",
        "timestamp": T0,
        "model": "m",
        "version": "v1",
        "role": role,
        "runtime": {"python": "3.11.4", "platform": "Linux", "packages": packages},
        "metadata": {"git_commit": "abc", "features": ["x", "c"]},
    }
    r.update(kw)
    return r


async def test_training_and_serving_are_kept_and_diffed(env: Env) -> None:
    train = _record("training", {"numpy": "1.26.4", "scikit-learn": "1.4.2", "pandas": "2.2.0"})
    serve = _record(
        "serving",
        {"numpy": "2.1.0", "scikit-learn": "1.5.0", "polars": "1.0.0"},
        metadata={"git_commit": "abc", "features": ["x"]},
    )
    r = await env.client.post("/v1/runtime", json=[train, serve], headers=env.auth("ingest"))
    assert r.status_code == 200 and r.json()["accepted"] == 2, r.text
    r = await env.client.get("/v1/models/m/versions/v1/environment", headers=env.auth("read"))
    d = r.json()["diff"]
    assert d["packages"]["major"] == ["numpy"]
    assert d["packages"]["changed"]["scikit-learn"]["change"] == "minor"
    assert d["packages"]["added"] == {"polars": "1.0.0"}
    assert d["packages"]["removed"] == {"pandas": "2.2.0"}
    assert d["features"] == {"added": [], "removed": ["c"]}

    # user metadata set later keeps the captures
    r = await env.client.put(
        "/v1/models/m/versions/v1/metadata", json={"owner": "ml-team"}, headers=env.auth("admin")
    )
    assert r.status_code == 200
    assert r.json()["meta"]["runtime"]["training"]["runtime"]["packages"]["numpy"] == "1.26.4"

    # the evaluator writes the major-difference count into each window of the version
    events = [prediction(i, T0 + i) for i in range(20)]
    await env.client.post("/v1/events", json=events, headers=env.auth("ingest"))
    env.clock.advance(3600)
    env.collector.tick(force_flush=True)
    q = MetricQuery(model="m", version="v1", metric="environment.major_differences", segment=ALL)
    points = env.store.metric_points(q)
    assert [(p["value"], p["status"]) for p in points if p["window_size"] == 300] == [(1.0, "fail")]


async def test_odd_package_names_and_bad_metadata_are_rejected_by_field(env: Env) -> None:
    bad = [
        _record("serving", {"numpy": "1.0", "not a name!": "1.0"}, event_id="b1"),
        _record("serving", {"numpy": 2}, event_id="b2"),
        _record("serving", {"numpy": "1.0"}, event_id="b3", metadata=["not", "an", "object"]),
        _record("builder", {"numpy": "1.0"}, event_id="b4"),
    ]
    r = await env.client.post("/v1/runtime", json=bad, headers=env.auth("ingest"))
    assert r.status_code == 422
    rejected = {x["event_id"]: (x["field"], x["error"]) for x in r.json()["rejected"]}
    assert rejected["b1"][0] == "runtime.packages" and "'not a name!'" in rejected["b1"][1]
    assert rejected["b2"] == (
        "runtime.packages",
        "version of package 'numpy' must be a string of 1 to 128 characters",
    )
    assert rejected["b3"] == ("metadata", "metadata must be a JSON object")
    assert rejected["b4"][0] == "role"
