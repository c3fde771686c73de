"""FastAPI integration: route-template metrics, /metrics, request ids as prediction ids."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI, HTTPException
from prometheus_client import CollectorRegistry

from driftline.integrations.fastapi import instrument, middleware_of
from driftline.sdk import Monitor


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def monitor(registry: CollectorRegistry) -> Iterator[Monitor]:
    mon = Monitor("credit_risk", "v3", registry=registry, flush_interval=0.05)
    yield mon
    mon.close()


@pytest.fixture
def app(monitor: Monitor) -> FastAPI:
    app = FastAPI()

    @app.post("/predict/{customer_id}")
    def predict(customer_id: str, payload: dict[str, float]) -> dict[str, object]:
        with monitor.observe(payload, segment={"channel": "api"}) as obs:
            label = "approve" if payload.get("income", 0) > 1000 else "reject"
            obs.record(prediction=label)
        return {"label": label, "prediction_id": obs.prediction_id}

    @app.get("/fail")
    def fail() -> None:
        raise HTTPException(status_code=503, detail="down")

    instrument(app, monitor)
    return app


def client_for(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


def _value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


async def test_route_templates_not_raw_paths(app: FastAPI, registry: CollectorRegistry) -> None:
    async with client_for(app) as client:
        for customer in ("c-1", "c-2", "c-3"):
            response = await client.post(f"/predict/{customer}", json={"income": 5000})
            assert response.status_code == 200
        assert (await client.get("/fail")).status_code == 503
        assert (await client.get("/nowhere/at/all")).status_code == 404
        assert (await client.request("BREW", "/fail")).status_code == 405
        middleware = middleware_of(app)
        assert middleware is not None
        middleware.publish()
        handler = "/predict/{customer_id}"
        assert (
            _value(
                registry,
                "driftline_http_requests_total",
                handler=handler,
                method="POST",
                status="2xx",
            )
            == 3
        )
        assert (
            _value(
                registry,
                "driftline_http_requests_total",
                handler="/fail",
                method="GET",
                status="5xx",
            )
            == 1
        )
        assert (
            _value(
                registry,
                "driftline_http_requests_total",
                handler="unmatched",
                method="GET",
                status="4xx",
            )
            == 1
        )
        assert (
            _value(
                registry,
                "driftline_http_requests_total",
                handler="/fail",
                method="other",
                status="4xx",
            )
            == 1
        )
        assert (
            _value(
                registry,
                "driftline_http_request_duration_seconds_count",
                handler=handler,
                method="POST",
            )
            == 3
        )
        body = (await client.get("/metrics")).text
    assert "c-1" not in body and "/nowhere" not in body
    assert 'handler="/predict/{customer_id}"' in body


async def test_metrics_endpoint_serves_model_and_http_metrics(
    app: FastAPI, monitor: Monitor
) -> None:
    async with client_for(app) as client:
        await client.post("/predict/c-1", json={"income": 10})
        assert monitor.flush(5)
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'driftline_predictions_total{model="credit_risk",outcome="ok",version="v3"} 1.0' in text
    assert "driftline_http_requests_total" in text


async def test_request_ids_are_honoured_echoed_and_become_prediction_ids(
    app: FastAPI, monitor: Monitor
) -> None:
    async with client_for(app) as client:
        given = await client.post(
            "/predict/c-1", json={"income": 5000}, headers={"X-Request-ID": "req-42"}
        )
        made = await client.post("/predict/c-2", json={"income": 5000})
        bad = await client.post(
            "/predict/c-3", json={"income": 5000}, headers={"X-Request-ID": "bad id\twith spaces"}
        )
    assert given.headers["x-request-id"] == "req-42"
    assert given.json()["prediction_id"] == "req-42"
    assert made.headers["x-request-id"] == made.json()["prediction_id"]
    assert len(made.headers["x-request-id"]) == 32
    assert bad.headers["x-request-id"] != "bad id\twith spaces"
    assert monitor.flush(5)
    events = monitor.sink.events  # type: ignore[attr-defined]
    assert [e["prediction_id"] for e in events] == [
        "req-42",
        made.headers["x-request-id"],
        bad.headers["x-request-id"],
    ]
    assert events[0]["segment"] == {"channel": "api"}
