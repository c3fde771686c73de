"""Outlier scores in the SDK: the same numbers as the collector's, fetched and sent end to end.

The SDK scores with the collector's model document (driftline/_utils/outlier_wire.py,
numpy only) on its shipper thread; the collector takes the scores (after a spot check)
instead of scoring the events again.
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pytest
from prometheus_client import CollectorRegistry

import driftline
from driftline._utils.outlier_wire import WireModel, decode_array, encode_array
from driftline.errors import InputError
from driftline.sdk import Monitor, SDKConfigError
from driftline.sdk.clock import ManualClock
from driftline.sdk.outliers import OutlierScoring, httpx_get
from driftline.server import Settings, create_app
from driftline.server import review as review_queue
from driftline.server.auth import create_key
from driftline.stats.outliers import OutlierModel
from driftline.store import MetricQuery, open_store
from driftline.windows import schema_to_json
from driftline.windows.columns import EventBlock
from support import serving


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    z = rng.multivariate_normal([0, 0], [[1, 0.8], [0.8, 1]], size=n)
    df = pd.DataFrame(
        {
            "a": z[:, 0],
            "b": z[:, 1] * 10 + 50,
            "n": rng.integers(0, 100, n),
            "k": rng.choice(["x", "y", "z"], n, p=[0.6, 0.3, 0.1]),
            "flag": rng.random(n) < 0.3,
        }
    )
    df.loc[::17, "a"] = np.nan
    return df


@pytest.fixture(scope="module")
def reference() -> driftline.DatasetProfile:
    return driftline.profile(_frame(4000, 1), seed=0)


def _odd_rows(n: int, seed: int) -> list[dict[str, Any]]:
    """Feature mappings as services send them, with every oddity the collector sees."""
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    for i in range(n):
        f: dict[str, Any] = {
            "a": float(rng.normal() * 2),
            "b": float(rng.normal() * 10 + 50),
            "n": int(rng.integers(0, 150)),
            "k": str(rng.choice(["x", "y", "z", "never-seen"])),
            "flag": bool(rng.random() < 0.5),
            "extra": "not a model column",
        }
        if i % 7 == 0:
            f["a"] = None  # missing
        if i % 11 == 0:
            del f["k"]  # absent
        if i % 13 == 0:
            f["b"] = "oops"  # text where a number belongs
        if i % 17 == 0:
            f["n"] = "42"  # a number as text
        if i % 19 == 0:
            f["flag"] = "yes"  # not a boolean
        if i % 23 == 0:
            f["k"] = 3  # a number where a category belongs
        if i % 29 == 0:
            f["a"] = True  # a boolean where a number belongs
        rows.append(f)
    return rows


def _wire(model: OutlierModel, ref: driftline.DatasetProfile) -> WireModel:
    kinds = {c.name: c.kind.value for c in ref.schema}
    doc = model.wire({c: kinds[c] for c in model.columns})
    return WireModel(json.loads(json.dumps(doc)))  # through JSON, as the SDK gets it


@pytest.mark.parametrize("method", ["mahalanobis", "isolation_forest"])
def test_the_sdk_scores_as_the_collector_does(
    reference: driftline.DatasetProfile, method: str
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # MinCovDet on integer columns
        model = OutlierModel(method).fit(reference)
    wire = _wire(model, reference)
    assert wire.tag == model.wire()["tag"] and wire.threshold == model.threshold
    rows = _odd_rows(600, 2)
    clean = [{k: v for k, v in r.items()} for r in _frame(300, 3).to_dict("records")]
    for batch in (rows, clean, rows[:1], rows[13:14]):  # text in a batch, or none
        events = [{"features": f} for f in batch]
        collector = model.score(EventBlock.of(reference.schema, events).table)
        sdk = wire.score_rows(batch)
        np.testing.assert_allclose(sdk, collector, rtol=1e-9, atol=1e-12)
    # the flags agree: the same events are outliers on both sides
    events = [{"features": f} for f in rows]
    flags = model.score(EventBlock.of(reference.schema, events).table) > model.threshold
    assert ((wire.score_rows(rows) > wire.threshold) == flags).all() and flags.any()


def test_a_bad_document_is_refused_naming_what_is_wrong(
    reference: driftline.DatasetProfile,
) -> None:
    model = OutlierModel("isolation_forest").fit(reference)
    good = json.loads(json.dumps(model.wire()))
    WireModel(good)

    def broken(change: Any) -> dict[str, Any]:
        doc = json.loads(json.dumps(good))
        change(doc)
        return doc

    cases = [
        (lambda d: d.update(format=2), "format 2"),
        (lambda d: d.update(method="pickle"), "method 'pickle'"),
        (lambda d: d["numeric"]["mean"].update(dtype="|O"), "numeric.mean is not an array"),
        (lambda d: d["numeric"]["mean"].update(data="!!"), "numeric.mean.data is not base64"),
        (lambda d: d["numeric"]["std"].update(shape=[99]), "numeric.std holds"),
        (lambda d: d.update(threshold="inf"), "threshold must be a finite number"),
        (_child_out_of_range, "not valid trees"),
        (lambda d: d["categorical"][0].update(levels=["x"]), "must end with 'other'"),
    ]
    for change, message in cases:
        with pytest.raises(InputError, match=message):
            WireModel(broken(change))


def _child_out_of_range(doc: dict[str, Any]) -> None:
    forest = doc["isolation_forest"]
    left = decode_array(forest["left"], "left").copy()
    left[0] = 10**6  # the root's left child: a node that does not exist
    forest["left"] = encode_array(left)


# -- end to end: a collector over HTTP, a Monitor with score_outliers=True -------------------


@pytest.fixture
def collector(tmp_path: Any) -> Iterator[tuple[str, dict[str, str], Any, Any]]:
    clock = ManualClock(time.time())
    store = open_store(f"sqlite:///{tmp_path / 'c.db'}")
    keys = {
        "ingest,read": create_key(store, clock, name="sdk", scopes=("ingest", "read"))[0],
        "ingest": create_key(store, clock, name="ingest-only", scopes=("ingest",))[0],
    }
    app = create_app(Settings(), store, clock, background=False, dashboard=False)
    rng = np.random.default_rng(6)
    z = rng.multivariate_normal([0, 0], [[1, 0.8], [0.8, 1]], size=3000)
    ref = driftline.profile(pa.table({"a": z[:, 0], "b": z[:, 1]}), seed=0)
    store.ensure_version("m", "v1", clock.time())
    store.put_reference("m", "v1", ref.to_bytes(), ref.n_rows, clock.time())
    store.replace_version_schema("m", "v1", schema_to_json(ref.schema))
    # fitted now: on a busy machine the first fit can outlast the SDK's 5 s timeout
    # (the SDK would then retry in 30 s, scoring nothing meanwhile)
    assert app.state.collector.windows.outlier_wire("m", "v1") is not None
    try:
        with serving(app) as served:
            yield served.url, keys, app.state.collector, clock
    finally:
        store.close()


def _send(mon: Monitor, n: int, n_odd: int) -> None:
    rng = np.random.default_rng(7)
    for i in range(n):
        a, b = rng.multivariate_normal([0, 0], [[1, 0.8], [0.8, 1]])
        if i < n_odd:
            a, b = 2.5 + 0.1 * i, -2.5  # against the correlation
        with mon.observe({"a": float(a), "b": float(b)}, prediction_id=f"p{i}") as obs:
            obs.record(prediction=1)
    assert mon.flush(20)


def _prescores(c: Any) -> dict[str, float]:
    return {
        s.labels["result"]: s.value
        for m in c.metrics.outlier_prescores.collect()
        for s in m.samples
        if s.name.endswith("_total")
    }


def test_a_monitor_scores_its_events_and_the_collector_takes_the_scores(
    collector: tuple[str, dict[str, str], Any, Any],
) -> None:
    url, keys, c, clock = collector
    registry = CollectorRegistry()
    mon = Monitor(
        "m", "v1", sink=url, api_key=keys["ingest,read"], registry=registry,
        score_outliers=True,
    )  # fmt: skip
    try:
        _send(mon, 300, 5)
        stats = mon.stats()["outliers"]
    finally:
        mon.close()
    counted = registry.get_sample_value(
        "driftline_sdk_outlier_scores_total", {"model": "m", "result": "scored"}
    )
    assert counted == 300
    tag = c.windows.outlier_wire("m", "v1")["tag"]
    assert stats["scored"] == 300 and stats["models"] == {"v1": tag}
    assert _prescores(c) == {"accepted": 300.0}
    clock.advance(400)
    c.tick()
    # the 5-minute windows (the hour's closes too when the test runs near the hour's end);
    # the SDK stamps events with the real time, so they can straddle two windows
    points = c.store.metric_points(MetricQuery(metric="outlier_share", window_size=300, limit=10))
    assert sum(p["n"] for p in points) == 300
    items = review_queue.queue(c.store, "m", 300, 0, clock.time())
    assert {i["prediction_id"] for i in items[:5]} == {f"p{i}" for i in range(5)}
    stored = {
        i["event_id"]: orjson.loads(c.store.event_payloads("m", [i["event_id"]])[i["event_id"]])
        for i in items
    }
    # each stored event holds the SDK's score, which is the collector's own
    model = c.windows.scorer("m", "v1")
    for i in items:
        e = stored[i["event_id"]]
        assert e["outlier"] == {"score": i["score"], "model": tag}
        own = model.score(pa.table({"a": [e["features"]["a"]], "b": [e["features"]["b"]]}))
        assert i["score"] == pytest.approx(float(own[0]), rel=1e-9)


def test_without_the_read_scope_events_go_unscored_and_the_collector_scores_them(
    collector: tuple[str, dict[str, str], Any, Any], caplog: pytest.LogCaptureFixture
) -> None:
    url, keys, c, clock = collector
    mon = Monitor(
        "m", "v1", sink=url, api_key=keys["ingest"], registry=CollectorRegistry(),
        score_outliers=True,
    )  # fmt: skip
    with caplog.at_level(logging.WARNING, "driftline.sdk"):
        try:
            _send(mon, 100, 3)
            stats = mon.stats()["outliers"]
        finally:
            mon.close()
    assert stats["unscored"] == 100 and stats["fetch_http_403"] == 1
    assert "needs the read scope" in caplog.text
    assert _prescores(c) == {}
    clock.advance(400)
    c.tick()
    points = c.store.metric_points(MetricQuery(metric="outlier_share", window_size=300, limit=10))
    assert sum(p["n"] for p in points) == 100  # scored in the collector (in one or two windows)


def test_the_model_is_revalidated_with_its_etag_and_replaced_when_the_reference_changes(
    collector: tuple[str, dict[str, str], Any, Any],
) -> None:
    url, keys, c, _ = collector
    clock = ManualClock(0.0)
    scoring = OutlierScoring(
        url, "m", api_key=keys["ingest,read"], clock=clock, refresh=60, timeout=60
    )
    first = scoring.current("v1")
    assert first is not None and scoring.counts["fetched"] == 1, scoring.counts
    # through the httpx client an HTTPSink was given (gzip decoded by httpx): the same model
    with httpx.Client() as client:
        other = OutlierScoring(
            url, "m", api_key=keys["ingest,read"], clock=clock, timeout=60,
            fetch=httpx_get(client),
        )  # fmt: skip
        via_httpx = other.current("v1")
    assert via_httpx is not None and via_httpx.tag == first.tag
    assert scoring.current("v1") is first  # not due: no request
    clock.advance(61)
    assert scoring.current("v1") is first and scoring.counts["fetch_current"] == 1  # 304
    rng = np.random.default_rng(8)
    ref = driftline.profile(pa.table({"a": rng.normal(size=2000), "b": rng.normal(size=2000)}))
    c.store.put_reference("m", "v1", ref.to_bytes(), ref.n_rows, c.clock.time())
    clock.advance(61)
    second = scoring.current("v1")
    assert second is not None and second.tag != first.tag and scoring.counts["fetched"] == 2
    assert scoring.current("v2") is None and scoring.counts["fetch_http_404"] == 1


def test_score_outliers_needs_a_collector_sink() -> None:
    with pytest.raises(SDKConfigError, match="needs a collector sink"):
        Monitor("m", "v1", sink="memory", registry=CollectorRegistry(), score_outliers=True)


def test_importing_the_sdk_does_not_import_the_scorer() -> None:
    import subprocess
    import sys

    code = (
        "import sys, driftline.sdk; "
        "print('driftline._utils.outlier_wire' in sys.modules, 'driftline.sdk.outliers' in "
        "sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
