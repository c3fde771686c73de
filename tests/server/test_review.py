"""The review queue API: the most anomalous events of a window, verdicts, access checks."""

from __future__ import annotations

import numpy as np
import orjson
import pyarrow as pa

import driftline
from driftline.server.auth import create_key
from driftline.store import MetricQuery
from driftline.windows import schema_to_json

from .conftest import T0, Env, prediction


def _seed(env: Env) -> list[str]:
    """A version with a reference and one window with five odd events among 300; returns
    the odd events' ids."""
    rng = np.random.default_rng(4)
    ref = driftline.profile(pa.table({"a": rng.normal(size=3000), "b": rng.normal(size=3000)}))
    env.store.ensure_version("m", "v1", T0)
    env.store.put_reference("m", "v1", ref.to_bytes(), ref.n_rows, T0)
    env.store.replace_version_schema("m", "v1", schema_to_json(ref.schema))
    events = []
    for i in range(300):
        a, b = (8.0 + i, -8.0) if i < 5 else (float(rng.normal()), float(rng.normal()))
        events.append(
            prediction(i, T0 + i * 0.5, model="m", version="v1", features={"a": a, "b": b})
        )
    env.collector.ingest("prediction", events)
    env.clock.advance(400)
    env.collector.tick()
    return [f"e{i}" for i in range(5)]


async def test_the_queue_lists_the_odd_events_and_a_verdict_goes_in_as_feedback(
    env: Env,
) -> None:
    odd = _seed(env)
    (point,) = env.store.metric_points(
        MetricQuery(metric="review.candidates", window_size=300, limit=10)
    )
    assert point["value"] <= 20
    r = await env.client.get("/v1/models/m/review", headers=env.auth("read"))
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    # the five odd events first (highest scores, the largest last), with what the store holds
    assert [i["event_id"] for i in items[:5]] == odd[::-1]
    assert items[0]["event"]["features"] == {"a": 12.0, "b": -8.0}
    assert items[0]["verdict"] is None and not items[0]["purged"]
    # a read key may look but not judge
    body = {"verdict": "attack", "label": 0, "note": "replayed probe"}
    r = await env.client.post("/v1/models/m/review/e4", json=body, headers=env.auth("read"))
    assert r.status_code == 403
    r = await env.client.post("/v1/models/m/review/e4", json=body, headers=env.auth("ingest"))
    assert r.status_code == 200, r.text
    assert r.json()["feedback"]["accepted"] == 1 and r.json()["label"]["accepted"] == 1
    # it is an ordinary feedback record (kind review) and label of the prediction
    (fb,) = env.store.feedback_for("m", ["p4"], "review")
    assert orjson.loads(fb["value"])["verdict"] == "attack"
    assert orjson.loads(fb["value"])["reviewer"] == "ingest"
    r = await env.client.get("/v1/models/m/review", headers=env.auth("read"))
    judged = {i["event_id"]: i["verdict"] for i in r.json()["items"]}
    assert judged["e4"]["verdict"] == "attack" and judged["e3"] is None
    # a second opinion is kept too; the queue shows the latest
    r = await env.client.post(
        "/v1/models/m/review/e4", json={"verdict": "fine"}, headers=env.auth("ingest")
    )
    assert r.status_code == 200
    r = await env.client.get("/v1/models/m/review", headers=env.auth("read"))
    assert {i["event_id"]: i["verdict"] for i in r.json()["items"]}["e4"]["verdict"] == "fine"


async def test_bad_verdicts_unknown_events_and_other_projects_are_refused(env: Env) -> None:
    _seed(env)
    h = env.auth("ingest")
    r = await env.client.post("/v1/models/m/review/e1", json={"verdict": "meh"}, headers=h)
    assert r.status_code == 422 and "allowed: fine, bad_input, attack" in r.text
    r = await env.client.post("/v1/models/m/review/nope", json={"verdict": "fine"}, headers=h)
    assert r.status_code == 404 and "no stored event 'nope'" in r.text
    r = await env.client.post(
        "/v1/models/m/review/e1", json={"verdict": "fine", "extra": 1}, headers=h
    )
    assert r.status_code == 422
    other, _ = create_key(env.store, env.clock, name="o", scopes=("ingest",), project="other")
    r = await env.client.get("/v1/models/m/review", headers={"Authorization": f"Bearer {other}"})
    assert r.status_code == 403
    r = await env.client.post(
        "/v1/models/m/review/e1",
        json={"verdict": "fine"},
        headers={"Authorization": f"Bearer {other}"},
    )
    assert r.status_code == 403
    assert not env.store.feedback_for("m", ["p1"], "review")
    r = await env.client.get("/v1/models/m/review")
    assert r.status_code == 401


async def test_a_batch_with_already_stored_events_keeps_its_new_events_candidates(
    env: Env,
) -> None:
    """A retried batch (some events stored before) still queues its new odd events."""
    rng = np.random.default_rng(5)
    ref = driftline.profile(pa.table({"a": rng.normal(size=3000), "b": rng.normal(size=3000)}))
    env.store.ensure_version("m", "v1", T0)
    env.store.put_reference("m", "v1", ref.to_bytes(), ref.n_rows, T0)
    env.store.replace_version_schema("m", "v1", schema_to_json(ref.schema))

    def event(i: int, a: float, b: float) -> dict[str, object]:
        return prediction(i, T0 + i * 0.5, model="m", version="v1", features={"a": a, "b": b})

    first = [event(i, float(rng.normal()), float(rng.normal())) for i in range(100)]
    env.collector.ingest("prediction", first)
    odd = [event(100 + i, 9.0 + i, -9.0) for i in range(3)]
    result = env.collector.ingest("prediction", first[:50] + odd)
    assert (result.accepted, result.duplicates) == (3, 50)
    env.clock.advance(400)
    env.collector.tick()
    r = await env.client.get("/v1/models/m/review", headers=env.auth("read"))
    assert [i["event_id"] for i in r.json()["items"][:3]] == ["e102", "e101", "e100"]
