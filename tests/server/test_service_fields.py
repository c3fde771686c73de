"""Stages, error groups, resources, input checks and cost: from the SDK through the collector.

The events are made by a real Monitor (memory sink, the collector's manual clock, so
stage latencies are exact) and posted to the in-process collector as the HTTP sink
would; the window is then evaluated and its points read back.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson
import pytest
from prometheus_client import CollectorRegistry

from driftline._utils.llm import PriceTable
from driftline.sdk import Monitor
from driftline.sdk.contract import Contract
from driftline.server.alerting import alert_points
from driftline.server.versions_cli import _cost
from driftline.store.base import MetricQuery

from .conftest import T0, Env, prediction

RETRIEVER = f"{__name__}.RetrieverError"


class RetrieverError(Exception):
    pass


def _fail_retrieve() -> None:
    raise RetrieverError("index for user bob@example.com is gone")


def _fail_generate() -> None:
    raise TimeoutError("llm timed out")


def sdk_events(env: Env) -> list[dict[str, Any]]:
    clock = env.clock
    mon = Monitor(
        "m", "v1", sink="memory", registry=CollectorRegistry(), clock=clock, resource_interval=0
    )
    assert mon.flush(5)  # the first resource sample is the baseline
    mon.set_contract(
        Contract({"x": {"kind": "numeric", "min": 0, "max": 9, "required": True},
                  "c": {"kind": "categorical", "categories": ["a", "b", "c"]}})
    )  # fmt: skip
    for i in range(40):
        features = {"x": float(i % 10), "c": "abc"[i % 3]}
        mon.check(features)
        if i % 10 == 0:
            mon.check({"x": 50.0, "c": "z"})  # out of range and unseen
        try:
            with mon.observe(features) as obs:
                with obs.stage("retrieve", k=5):
                    clock.advance(0.010 if i < 39 else 0.300)  # one slow retrieval
                    if i in (3, 7):
                        _fail_retrieve()
                with obs.stage("generate") as st:
                    clock.advance(0.050)
                    st.record_usage(model="gpt-4o-mini", input_tokens=1000, output_tokens=200)
                    if i == 5:
                        _fail_generate()
                obs.record(prediction=i % 2)
        except (RetrieverError, TimeoutError):
            pass
    assert mon.flush(10)
    events = mon.sink.records("prediction")
    mon.close()
    return events


async def evaluated(env: Env, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    r = await env.client.post("/v1/events", json=events, headers=env.auth("ingest"))
    assert r.json()["accepted"] == len(events), r.json()
    env.clock.advance(400)
    env.collector.tick()
    return env.store.metric_points(MetricQuery(model="m", version="v1", window_size=300))


def by(points: list[dict[str, Any]], metric: str, **kw: Any) -> list[dict[str, Any]]:
    return [p for p in points if p["metric"] == metric and all(p[k] == v for k, v in kw.items())]


@pytest.fixture
def priced(env: Env) -> Env:
    prices = PriceTable.from_mapping(
        {"cpu_hour": 3600.0, "daily_budget": 100.0,
         "models": {"gpt-4o-mini": {"prompt_per_million": 150, "completion_per_million": 600}}}
    )  # fmt: skip
    ev = env.collector.evaluator
    ev.options = dataclasses.replace(ev.options, costs=prices)
    return env


async def test_stages_errors_checks_resources_and_cost_reach_the_window(priced: Env) -> None:
    env = priced
    points = await evaluated(env, sdk_events(env))
    all_traffic = [p for p in points if p["segment"] == "*"]
    # stages: per-stage percentiles; the one slow retrieval is the retriever's p99
    (p99,) = by(all_traffic, "stage_latency_seconds", column="retrieve", method="p99")
    (p50,) = by(all_traffic, "stage_latency_seconds", column="retrieve", method="p50")
    assert p50["value"] == pytest.approx(0.010, rel=1e-6)
    assert p99["value"] == pytest.approx(0.300, rel=1e-6) and p99["n"] == 40
    (gen,) = by(all_traffic, "stage_latency_seconds", column="generate", method="p50")
    assert gen["value"] == pytest.approx(0.050, rel=1e-6) and gen["n"] == 38  # 2 failed before it
    (err,) = by(all_traffic, "stage_error_ratio", column="retrieve")
    assert err["value"] == pytest.approx(2 / 40)
    # error groups: two places, grouped by type + stack; the message masked
    groups = {p["method"]: p for p in by(all_traffic, "error_group")}
    assert set(groups) == {RETRIEVER, "TimeoutError"}
    retr = groups[RETRIEVER]
    d = orjson.loads(retr["details"])
    assert retr["value"] == 2 and "<email>" in d["message"] and "bob" not in d["message"]
    assert d["first_seen"] < d["last_seen"]
    assert d["frames"][-1]["function"] == "_fail_retrieve"
    # input checks: 40 good + 4 bad calls
    (ratio,) = by(all_traffic, "input_violation_ratio")
    assert ratio["n"] == 44 and ratio["value"] == pytest.approx(4 / 44)
    kinds = {p["column"]: p["value"] for p in by(all_traffic, "input_violations")}
    assert kinds == {"out_of_range": 4, "unseen_category": 4}
    # resources: this process's CPU and memory
    (cpu,) = by(all_traffic, "resource_cpu_seconds")
    (rss,) = by(all_traffic, "resource_rss_bytes")
    assert cpu["value"] > 0 and rss["value"] > 10e6
    assert orjson.loads(rss["details"])["gpu_status"] == {"absent": cpu["n"]}
    # cost: 38 generate calls x (1000 in, 200 out) tokens + CPU at 1 per second
    (tokens,) = by(all_traffic, "cost", method="tokens")
    assert tokens["value"] == pytest.approx(38 * (0.15 + 0.2 * 0.6))
    (total,) = by(all_traffic, "cost", method="total")
    assert total["value"] == pytest.approx(tokens["value"] + cpu["value"])
    (per_1k,) = by(all_traffic, "cost_per_1k_predictions")
    assert per_1k["value"] == pytest.approx(total["value"] / 40 * 1000)
    (burn,) = by(all_traffic, "cost_burn_rate")
    assert burn["value"] == pytest.approx(total["value"] * 86400 / 300 / 100.0)
    # the alert engine sees per-stage quantiles and cost parts under their own names
    names = {(a.metric, a.column) for p in all_traffic for a in alert_points(p)}
    assert ("stage_latency_p99_seconds", "retrieve") in names
    assert ("cost_total", "") in names and ("resource_rss_bytes", "") in names
    text = (await env.client.get("/metrics", headers=env.auth("read"))).text
    assert (
        'driftline_window_stage_latency_seconds{model="m",quantile="p99",stage="retrieve"' in text
    )
    assert 'driftline_window_cost{currency="USD",model="m",part="total",version="v1"}' in text
    assert 'driftline_window_error_groups{model="m",version="v1"} 2.0' in text
    # the version comparison (issue 15) carries resource use and cost per 1k predictions
    ops = _operational(env)
    assert ops["cost_status"] == "ok" and ops["cost_currency"] == "USD"
    assert ops["cost"] == pytest.approx(total["value"])
    assert ops["cost_per_1k_predictions"] == pytest.approx(per_1k["value"])
    assert ops["cpu_seconds"] == pytest.approx(cpu["value"])
    assert ops["cpu_seconds_per_1k_predictions"] == pytest.approx(cpu["value"] / 40 * 1000)
    assert ops["rss_bytes_max"] == rss["value"] and ops["gpu_seconds"] is None
    assert _cost(ops) == f"{per_1k['value']:.4g} USD"


def _operational(env: Env) -> dict[str, Any]:
    from driftline.windows.versions import Rollouts

    rollouts = Rollouts(env.store, env.collector.evaluator.config)
    return rollouts.operational("m", "v1", int(T0) - 300, int(T0) + 900)


async def test_a_missing_price_is_reported_not_taken_as_zero(env: Env) -> None:
    ev = env.collector.evaluator
    prices = PriceTable.from_mapping(
        {"models": {"other-llm": {"prompt_per_million": 1, "completion_per_million": 1}}}
    )
    ev.options = dataclasses.replace(ev.options, costs=prices)
    points = await evaluated(env, sdk_events(env))
    (total,) = by(points, "cost", method="total", segment="*")
    d = orjson.loads(total["details"])
    assert total["status"] == "incomplete" and total["value"] == 0
    assert d["unpriced"]["tokens:gpt-4o-mini"] == 38 * 1200 and "cpu_seconds" in d["unpriced"]
    # in the version comparison: incomplete, a lower bound naming what has no price
    ops = _operational(env)
    assert ops["cost_status"] == "incomplete" and ops["cost"] == 0
    assert set(ops["cost_unpriced"]) == {"cpu_seconds", "tokens:gpt-4o-mini"}
    assert _cost(ops) == (">= 0 USD (incomplete: no price for cpu_seconds, tokens:gpt-4o-mini)")


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"stages": [{"name": "bad name", "latency_ms": 1}]}, "stages[0].name"),
        ({"stages": [{"name": "ok", "latency_ms": -1}]}, "stages[0].latency_ms"),
        ({"stages": [{"name": "ok", "latency_ms": 1, "parent": 0}]}, "stages[0].parent"),
        ({"stages": "retrieve"}, "stages"),
        ({"error": {"type": "E", "fingerprint": "not hex"}}, "error.fingerprint"),
        ({"resources": {"instance": "i", "interval_s": 1, "cpu_seconds": "x"}},
         "resources.cpu_seconds"),
        ({"checks": {"calls": 1, "violating": 2}}, "checks.violating"),
        ({"checks": {"calls": 1, "violating": 1, "violations": {"odd": 1}}},
         "checks.violations.odd"),
        ({"trace_id": "XYZ"}, "trace_id"),
    ],
    ids=["stage-name", "stage-latency", "stage-parent", "stages-not-list", "fingerprint",
         "cpu", "violating", "violation-kind", "trace-id"],
)  # fmt: skip
async def test_bad_service_fields_reject_the_event_naming_the_field(
    env: Env, extra: dict[str, Any], field: str
) -> None:
    events = [prediction(1, ts=T0, **extra), prediction(2, ts=T0)]
    r = await env.client.post("/v1/events", json=events, headers=env.auth("ingest"))
    body = r.json()
    assert body["accepted"] == 1
    assert body["rejected"][0]["field"] == field


def test_the_prices_section_reaches_cost_and_llm_signals() -> None:
    from driftline.errors import ConfigError
    from driftline.server.config import parse_serve_config

    cfg = parse_serve_config(
        {"prices": {"currency": "EUR", "cpu_hour": 0.04, "daily_budget": 50,
                    "models": {"small-llm": {"prompt_per_million": 0.15,
                                             "completion_per_million": 0.6}},
                    "services": {"credit_risk": {"cpu_hour": 0.05, "daily_budget": 20}}}}
    )  # fmt: skip
    options = cfg.settings(env={}).evaluator
    assert options.costs is not None and options.llm is not None
    assert options.llm.prices is options.costs
    assert options.costs.compute_prices("credit_risk") == (0.05, None)
    assert options.costs.compute_prices("other") == (0.04, None)
    assert options.costs.budget("credit_risk") == 20 and options.costs.budget("other") == 50
    with pytest.raises(ConfigError, match=r"prices\.services\.credit_risk\.cpu_hour: must be"):
        parse_serve_config({"prices": {"services": {"credit_risk": {"cpu_hour": -1}}}})
    with pytest.raises(ConfigError, match="unknown key 'budget'"):
        parse_serve_config({"prices": {"cpu_hour": 1, "budget": 3}})


async def test_the_contract_of_a_reference_is_served_for_check(env: Env) -> None:
    import numpy as np
    import pyarrow as pa

    import driftline
    from driftline.sdk.contract import Contract

    ref = pa.table({"x": np.arange(10, dtype=float), "c": ["a", "b"] * 5})
    data = driftline.profile(ref).to_bytes()
    r = await env.client.put("/v1/models/m/versions/v1/reference", content=data, headers=env.auth())
    assert r.status_code < 300, r.text
    r = await env.client.get("/v1/models/m/versions/v1/contract", headers=env.auth("read"))
    contract = Contract.from_dict(r.json())
    assert contract.features["x"] == {"kind": "numeric", "min": 0.0, "max": 9.0, "required": True}
    assert [v.kind for v in contract.check({"x": 12.0, "c": "z"})] == [
        "out_of_range",
        "unseen_category",
    ]
    r = await env.client.get("/v1/models/m/versions/v9/contract", headers=env.auth("read"))
    assert r.status_code == 404 and "no reference" in r.text
    r = await env.client.get("/v1/models/m/versions/v1/contract")
    assert r.status_code == 401
