"""Worst slices in the collector (issue 16): each closed window with labels is searched for
slices significantly worse than the rest; the point, /metrics, the model page and the
``slice_worse`` preset show them."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson

from driftline.server.alerting import alert_points
from driftline.server.config import SlicesSection

from .conftest import T0, Env, prediction


async def _serve(env: Env, error: dict[str, float], n: int = 1200) -> dict[str, Any]:
    """One window of predictions from three sites and two plans, each labelled; a site's
    predictions are wrong with the given probability."""
    rng = np.random.default_rng(3)
    sites = ("north", "south", "east")
    events, labels = [], []
    for i in range(n):
        site = sites[i % 3]
        y = int(rng.random() < 0.5)
        wrong = rng.random() < error.get(site, 0.1)
        events.append(
            prediction(
                i, ts=T0 + 1 + i * 0.2, segment={"site": site},
                features={"x": float(rng.normal()), "plan": "free" if i % 2 else "paid"},
                prediction=1 - y if wrong else y,
            )
        )  # fmt: skip
        labels.append({"event_id": f"l{i}", "prediction_id": f"p{i}", "timestamp": T0 + 2,
                       "model": "m", "label": y})  # fmt: skip
    for at in range(0, n, 1000):  # at most 1,000 records a request
        r = await env.client.post(
            "/v1/events", json=events[at : at + 1000], headers=env.auth("ingest")
        )
        assert r.status_code == 200, r.text[:400]
        r = await env.client.post(
            "/v1/labels", json=labels[at : at + 1000], headers=env.auth("ingest")
        )
        assert r.status_code == 200, r.text[:400]
    env.clock.advance(400)
    env.collector.tick()
    got = await env.client.get(
        "/v1/metrics",
        params={"model": "m", "window_size": 300, "metric": "slices.significant"},
        headers=env.auth("read"),
    )
    (point,) = got.json()
    return dict(point)


async def test_a_worse_site_is_found_exported_shown_and_alertable(env: Env) -> None:
    p = await _serve(env, {"north": 0.3})
    details = p["details"] if isinstance(p["details"], dict) else orjson.loads(p["details"])
    assert p["value"] >= 1 and p["status"] == "fail" and p["n"] == 1200
    worst = details["slices"][0]
    assert worst["name"].startswith("site = north"), details["slices"]
    assert worst["value"] > 0.25 and worst["q_value"] <= 0.05
    # segment keys first, then string features, then numbers; one and two columns at a time
    assert details["columns"] == ["site", "plan", "x"] and details["tested"] > 20
    assert details["metric"] == "error_rate"

    text = (await env.client.get("/metrics", headers=env.auth("read"))).text
    assert f'driftline_slices_significant{{model="m",version="v1"}} {float(p["value"])}' in text
    assert 'driftline_slice_loss_gap{model="m",slice="site = north",version="v1"}' in text

    page = await env.client.get(
        "/ui/models/m", params={"version": "v1", "range": "1h"}, headers=env.auth("read")
    )
    assert 'data-signal="slices.significant"' in page.text
    assert 'data-slice="site = north"' in page.text

    engine_points = alert_points(p)
    assert [(x.metric, x.value) for x in engine_points] == [("slices.significant", p["value"])]


async def test_equal_sites_report_no_slice_and_too_few_labels_say_so(env: Env) -> None:
    p = await _serve(env, {})
    details = p["details"] if isinstance(p["details"], dict) else orjson.loads(p["details"])
    assert p["value"] == 0 and p["status"] == "ok" and details["slices"] == []
    page = await env.client.get(
        "/ui/models/m", params={"version": "v1", "range": "1h"}, headers=env.auth("read")
    )
    assert "0 of" in page.text and 'data-signal="slices.significant"' in page.text


async def test_a_window_with_few_labels_gives_the_reason(env: Env) -> None:
    p = await _serve(env, {}, n=40)
    details = orjson.loads(p["details"]) if isinstance(p["details"], str) else p["details"]
    assert p["value"] is None and p["status"] == "insufficient_data"
    assert "40 labelled predictions" in details["reason"]


def test_the_slices_section_is_checked_like_the_options() -> None:
    import pytest
    from pydantic import ValidationError

    assert SlicesSection().to_options() is not None
    assert SlicesSection(enabled=False).to_options() is None
    with pytest.raises(ValidationError, match="min_support=1"):
        SlicesSection(min_support=1)
