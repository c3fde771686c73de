"""Versions in the collector: labels reach shadows, verdict points, the compare API, /metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from driftline.store import MetricQuery
from driftline.windows import ALL

from .conftest import T0, Env, prediction

N = 3000  # labelled requests: enough for a verdict on a 10-point accuracy gap


def _rollout(
    n: int, acc_b: float, *, shadow: bool, seed: int = 0, scores: bool = False
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Champion v1 right 90 % of the time; challenger v2 right ``acc_b`` (shadow: scoring
    the same requests, else on its own half of the traffic). Returns (events, labels)."""
    rng = np.random.default_rng(seed)
    events, labels = [], []
    for i in range(n):
        y = int(rng.integers(0, 2))
        ts = T0 + (i % 250)  # one base window
        served = "v1" if shadow or i % 2 == 0 else "v2"
        acc = 0.9 if served == "v1" else acc_b
        p = y if rng.random() < acc else 1 - y
        extra = (
            {"scores": {"1": 0.8 if p == 1 else 0.2, "0": 0.2 if p == 1 else 0.8}} if scores else {}
        )
        events.append(prediction(i, ts, version=served, prediction=p, **extra))
        if shadow:
            pb = y if rng.random() < acc_b else 1 - y
            extra_b = (
                {"scores": {"1": 0.7 if pb else 0.3, "0": 0.3 if pb else 0.7}} if scores else {}
            )
            events.append(
                prediction(
                    i,
                    ts,
                    event_id=f"s{i}",
                    version="v2",
                    shadow=True,
                    prediction=pb,
                    latency_ms=4.0,
                    **extra_b,
                )
            )
        labels.append(
            {
                "type": "label",
                "event_id": f"l{i}",
                "prediction_id": f"p{i}",
                "timestamp": ts + 1,
                "model": "m",
                "label": y,
            }
        )
    return events, labels


async def _ingest(env: Env, events: list[dict[str, Any]], labels: list[dict[str, Any]]) -> None:
    for kind, rows in (("events", events), ("labels", labels)):
        for i in range(0, len(rows), 1000):
            r = await env.client.post(
                f"/v1/{kind}", json=rows[i : i + 1000], headers=env.auth("ingest")
            )
            assert r.status_code == 200, r.text
    env.clock.advance(3600)
    env.collector.tick(force_flush=True)


def _points(env: Env, version: str, metric: str) -> list[dict[str, Any]]:
    q = MetricQuery(model="m", version=version, metric=metric, segment=ALL, window_size=300)
    return env.store.metric_points(q)


async def test_labels_reach_the_shadow_and_a_worse_shadow_is_called_worse(env: Env) -> None:
    events, labels = _rollout(N, 0.8, shadow=True)
    await _ingest(env, events, labels)
    acc = {v: _points(env, v, "performance.accuracy") for v in ("v1", "v2")}
    assert len(acc["v2"]) == 1, "the shadow got realized metrics from the champion's labels"
    assert abs(acc["v1"][0]["value"] - 0.9) < 0.03
    assert abs(acc["v2"][0]["value"] - 0.8) < 0.03
    cov = _points(env, "v2", "label_coverage_ratio")
    assert cov[0]["value"] == 1.0
    verdict = _points(env, "v2", "versus.verdict")
    assert [(p["status"], p["value"], p["column"]) for p in verdict] == [("worse", -1.0, "v1")]
    assert _points(env, "v1", "versus.verdict") == [], "the champion is not compared with itself"
    share = _points(env, "v2", "versus.share_scored")
    assert share[0]["value"] == 1.0

    r = await env.client.get(
        "/v1/models/m/versions/compare", params={"b": "v2"}, headers=env.auth("read")
    )
    assert r.status_code == 200, r.text
    c = r.json()
    assert (c["a"], c["b"], c["verdict"], c["paired"]) == ("v1", "v2", "worse", True)
    assert c["share_scored"] == 1.0
    assert c["mcnemar"]["p_value"] < 1e-6
    assert c["metrics"][0]["metric"] == "accuracy" and c["metrics"][0]["seq_high"] < 0
    ops = c["operational"]
    assert ops["v1"]["events"] == N and ops["v2"]["events"] == N
    assert ops["v2"]["latency_p50_seconds"] > ops["v1"]["latency_p50_seconds"]

    text = (await env.client.get("/metrics", headers=env.auth("read"))).text
    assert 'driftline_version_verdict{champion="v1",model="m",version="v2"} -1.0' in text
    assert 'driftline_version_share_scored{champion="v1",model="m",version="v2"} 1.0' in text


async def test_split_traffic_is_compared_unpaired_with_auc(env: Env) -> None:
    events, labels = _rollout(N, 0.9, shadow=False, scores=True, seed=3)
    await _ingest(env, events, labels)
    r = await env.client.get(
        "/v1/models/m/versions/compare", params={"a": "v1", "b": "v2"}, headers=env.auth("read")
    )
    c = r.json()
    assert c["paired"] is False and c["share_scored"] is None
    assert [m["metric"] for m in c["metrics"]] == ["accuracy", "auc"]
    assert c["verdict"] in ("undecided", "equivalent")
    if c["verdict"] == "undecided":
        assert c["n_needed"] > 0


async def test_versions_with_different_tasks_are_not_comparable(env: Env) -> None:
    events, labels = _rollout(400, 0.9, shadow=True)
    await _ingest(env, events, labels)
    for v, task in (("v1", "classification"), ("v2", "regression")):
        r = await env.client.put(
            f"/v1/models/m/versions/{v}/metadata", json={"task": task}, headers=env.auth("admin")
        )
        assert r.status_code == 200, r.text
    r = await env.client.get(
        "/v1/models/m/versions/compare", params={"a": "v1", "b": "v2"}, headers=env.auth("read")
    )
    c = r.json()
    assert c["verdict"] == "not_comparable"
    assert c["reason"] == "different tasks: v1 is classification, v2 is regression"
    r = await env.client.get(
        "/v1/models/m/versions/compare", params={"a": "v1", "b": "v9"}, headers=env.auth("read")
    )
    assert r.status_code == 404 and "no version 'v9'" in r.json()["detail"]


async def test_too_few_labels_never_get_a_verdict(env: Env) -> None:
    events, labels = _rollout(120, 0.2, shadow=True)
    await _ingest(env, events, labels)
    verdict = _points(env, "v2", "versus.verdict")
    assert [(p["status"], p["value"]) for p in verdict] == [("insufficient_data", None)]


async def test_the_comparison_options_come_from_driftline_yaml(env: Env, tmp_path: Path) -> None:
    """``collector.versions`` sets what a verdict needs: 120 labelled requests are too few
    at the default min_n (200), and enough at min_n 50 (`versions compare --config`)."""
    from driftline.server.versions_cli import _local

    events, labels = _rollout(120, 0.2, shadow=True)
    await _ingest(env, events, labels)
    url = f"sqlite:///{tmp_path}/c.db"
    config = tmp_path / "driftline.yaml"
    config.write_text("collector:\n  versions: {lookback: 3650d}\n")
    assert _local(url, "m", "v1", "v2", config)["verdict"] == "insufficient_data"
    config.write_text("collector:\n  versions: {lookback: 3650d, min_n: 50}\n")
    assert _local(url, "m", "v1", "v2", config)["verdict"] == "worse"


async def test_latency_of_a_range_is_the_merged_quantile_within_its_stated_bound(env: Env) -> None:
    """Two windows, one fast and busy, one slow and quiet: the range's quantiles come from
    the windows' merged log-linear histograms, so each is the quantile of all requests
    (rank ceil(q n)) within the stated relative error, inside its stated bucket; the
    events-weighted mean of the windows' p99 would be far off; the window range stays."""
    from driftline.windows import WindowConfig
    from driftline.windows.versions import Rollouts

    rng = np.random.default_rng(3)
    fast = rng.uniform(1, 5, 900)  # window 0: 900 requests, 1-5 ms
    slow = rng.uniform(200, 400, 100)  # window 1: 100 requests, 200-400 ms
    events = [prediction(i, T0 + i % 250, latency_ms=float(v)) for i, v in enumerate(fast)]
    events += [
        prediction(900 + i, T0 + 300 + i % 250, latency_ms=float(v)) for i, v in enumerate(slow)
    ]
    await _ingest(env, events, [])
    ops = Rollouts(env.store, WindowConfig()).operational("m", "v1", int(T0) - 300, int(T0) + 900)
    assert ops["events"] == 1000 and ops["latency_merged_events"] == 1000
    assert ops["latency_relative_error"] == 1 / 128
    every = np.concatenate([fast, slow]) / 1000
    for q, name in ((0.5, "p50"), (0.9, "p90"), (0.95, "p95"), (0.99, "p99")):
        exact = float(np.quantile(every, q, method="inverted_cdf"))
        merged = ops[f"latency_{name}_seconds"]
        lo, hi = ops[f"latency_{name}_bounds"]
        assert lo <= exact < hi, (name, exact, lo, hi)
        assert abs(merged - exact) <= exact / 128, (name, merged, exact)
        low, high = ops[f"latency_{name}_range"]
        assert low * 0.97 <= exact <= high * 1.03, (name, exact, low, high)
    # the weighted mean of the windows' p99 (0.9 * ~5 ms + 0.1 * ~400 ms) is far from it
    windows = {p["window_start"]: p["value"] for p in _points(env, "v1", "latency_seconds")
               if p["method"] == "p99"}  # fmt: skip
    weighted = 0.9 * windows[int(T0)] + 0.1 * windows[int(T0) + 300]
    true_p99 = float(np.quantile(every, 0.99, method="inverted_cdf"))
    assert abs(weighted - true_p99) > 0.1 * true_p99
    # no prices configured, no resource records: cost is "not configured", never 0
    assert ops["cost"] is None and ops["cost_status"] == "not_configured"
    assert ops["cpu_seconds"] is None and ops["cost_per_1k_predictions"] is None


def _close(x: Any, y: Any, where: str) -> None:
    if isinstance(x, dict):
        assert isinstance(y, dict) and x.keys() == y.keys(), where
        for k in x:
            _close(x[k], y[k], f"{where}.{k}")
    elif isinstance(x, list):
        assert isinstance(y, list) and len(x) == len(y), where
        for i, (a, b) in enumerate(zip(x, y, strict=True)):
            _close(a, b, f"{where}[{i}]")
    elif isinstance(x, float) and isinstance(y, float):
        assert abs(x - y) <= 1e-12 * max(1.0, abs(x)), (where, x, y)
    else:
        assert x == y, (where, x, y)


def _same(carried: dict[str, Any], full: dict[str, Any]) -> None:
    """Everything but the paired bootstraps, which are carried until the sample grows 10 %."""
    skip = {"bootstrap"}
    _close({k: v for k, v in full.items() if k not in skip},
           {k: v for k, v in carried.items() if k not in skip}, "")  # fmt: skip
    boot_full = {b["metric"]: b for b in full.get("bootstrap") or []}
    for b in carried.get("bootstrap") or []:
        assert b["n"] <= boot_full[b["metric"]]["n"] < b["n"] * 1.1 + 1
        if b["n"] == boot_full[b["metric"]]["n"]:
            _close(b, boot_full[b["metric"]], "bootstrap")


async def test_carried_windows_give_the_verdicts_of_reading_everything_again(env: Env) -> None:
    """The evaluator carries each closed window's labelled requests (issue 15): window by
    window, with a late batch of labels for an old window and a late event, every
    comparison equals the full re-read's, and only new or changed windows are read."""
    from driftline.windows.versions import Rollouts

    ev = env.collector.evaluator
    assert ev.rollouts is not None and ev.rollouts.carry
    carried = Rollouts(env.store, ev.config, ev.rollouts.options)
    rng = np.random.default_rng(5)
    per, late_window, total = 150, 2, 0
    held: list[dict[str, Any]] = []
    for w in range(8):
        events, labels = [], []
        for j in range(per):
            i = w * per + j
            ts, y = T0 + w * 300 + j % 250, int(rng.integers(0, 2))
            for version, acc, shadow in (("v1", 0.9, False), ("v2", 0.8, True)):
                p = y if rng.random() < acc else 1 - y
                s = float(np.clip(0.5 + (0.3 if p else -0.3) + rng.normal(0, 0.2), 0, 1))
                events.append(prediction(i, ts, event_id=f"{version}-{i}", version=version,
                                         shadow=shadow, prediction=p,
                                         scores={"1": s, "0": 1 - s}))  # fmt: skip
            labels.append({"type": "label", "event_id": f"l{i}", "prediction_id": f"p{i}",
                           "timestamp": ts + 1, "model": "m", "label": y})  # fmt: skip
        if w == late_window:
            held, labels = labels, []
        if w == 6:
            labels += held  # labels for window 2 arrive four windows late
            # and one late shadow event for window 1 (its label is there already)
            late = prediction(per + 7, T0 + 300 + 7, event_id="v2-late", version="v2",
                              shadow=True, prediction=0, scores={"1": 0.4, "0": 0.6})  # fmt: skip
            events.append(late)
        for kind, rows in (("events", events), ("labels", labels)):
            r = await env.client.post(f"/v1/{kind}", json=rows, headers=env.auth("ingest"))
            assert r.status_code == 200, r.text
        env.clock.advance(300)
        env.collector.tick(force_flush=True)
        end, now = T0 + (w + 1) * 300, env.clock.time() + 60
        before = carried.rows_read
        got = carried.compare("m", "v1", "v2", end=end, now=now)
        full = Rollouts(env.store, ev.config, ev.rollouts.options, carry=False).compare(
            "m", "v1", "v2", end=end, now=now
        )
        _same(got, full)
        # the champion's event counts are carried the same way
        lookback = ev.rollouts.options.lookback_seconds
        assert carried._traffic("m", end, now) == env.store.version_traffic(
            "m", end - lookback, end
        )
        assert carried.champion("m", end, now) == "v1"
        total += 0 if w == late_window else 2 * per
        read = carried.rows_read - before
        if w == 6:  # window 6, window 2 (late labels), v2's window 1 (a late event)
            assert read == 2 * per + 2 * per + (per + 1), read
        elif w > 0:
            assert read in (0, 2 * per), (w, read)  # the new window only
    assert got["n_a"] == full["n_a"] == 8 * per and got["paired"] is True
    assert got["verdict"] == full["verdict"]


async def test_label_sets_and_a_version_without_traffic_are_not_comparable(env: Env) -> None:
    """Issue 15's bad input, through the collector: versions whose metadata name different
    classes, and a registered version that never served, are "not comparable" with the
    reason, never a verdict."""
    events, labels = _rollout(400, 0.9, shadow=True)
    await _ingest(env, events, labels)
    for v, classes in (("v1", [0, 1]), ("v2", ["cat", "dog"])):
        r = await env.client.put(f"/v1/models/m/versions/{v}/metadata",
                                 json={"classes": classes}, headers=env.auth("admin"))  # fmt: skip
        assert r.status_code == 200, r.text

    async def compare(b: str) -> dict[str, Any]:
        r = await env.client.get("/v1/models/m/versions/compare", params={"a": "v1", "b": b},
                                 headers=env.auth("read"))  # fmt: skip
        assert r.status_code == 200, r.text
        return dict(r.json())

    c = await compare("v2")
    assert c["verdict"] == "not_comparable" and c["metrics"] == []
    assert c["reason"] == "different label sets: v1 has [0, 1], v2 has ['cat', 'dog']"
    # a version registered (metadata only) that served nothing
    r = await env.client.put("/v1/models/m/versions/v3/metadata", json={"owner": "ml"},
                             headers=env.auth("admin"))  # fmt: skip
    assert r.status_code == 200, r.text
    c = await compare("v3")
    assert (c["verdict"], c["n_b"]) == ("not_comparable", 0)
    assert c["reason"] == (
        "version B has no labelled requests yet (no traffic, or no label arrived)"
    )
    assert c["operational"]["v3"]["events"] == 0
    assert c["operational"]["v3"]["latency_p99_seconds"] is None
    assert c["operational"]["v3"]["cost_status"] == "not_configured"


def test_scores_kept_as_columns_read_as_the_events_gave_them() -> None:
    """The carried windows keep valid scores as float columns (~100 bytes a request
    instead of ~320): every mix of windows reads as the raw scores would."""
    from itertools import permutations

    from driftline.windows.versions import _compact, _merge_scores, _scores

    windows: list[list[Any]] = [
        [{"1": 0.2, "0": 0.8}, {"0": 0.4, "1": 0.6}],  # dicts, keys in any order
        [0.3, 0.9],  # plain numbers
        [{"1": 0.5, "0": 0.5}, {"1": 1, "0": 0}],
        [{"1": True, "0": 0.0}, {"1": 0.1, "0": 0.9}],  # a bool: not a score
        [{"1": 0.7}, {"1": 0.2}],  # another key set
        [],
    ]
    for k in (1, 2, 3):
        for parts in permutations(windows, k):
            raw = [s for p in parts for s in p]
            merged = _merge_scores([_compact(list(p)) for p in parts])
            for positive in (1, "0", None):
                for sel in (None, list(range(len(raw)))[::-1]):
                    want, got = _scores(raw, positive, sel), _scores(merged, positive, sel)
                    if want is None:
                        assert got is None, (parts, positive)
                    else:
                        assert np.asarray(got, dtype=float).tolist() == want, (parts, positive)


async def test_the_compare_page_says_which_runtime_it_waits_for(env: Env) -> None:
    """Two versions served through the SDK, neither registered: each "training vs serving"
    said "Not known yet: the training side comes from driftline register, the serving
    side from the SDK", which left the reader to guess which was missing (found in the
    live demo, whose serving sides were known and compared)."""
    events, labels = _rollout(N, 0.9, shadow=False, scores=True, seed=3)
    await _ingest(env, events, labels)
    serving = [
        {
            "type": "runtime", "event_id": f"rt-{v}", "timestamp": T0, "model": "m",
            "version": v, "role": "serving",
            "runtime": {"python": "3.11.4", "platform": "Linux", "packages": {"numpy": "2.1.0"}},
        }
        for v in ("v1", "v2")
    ]  # fmt: skip
    r = await env.client.post("/v1/runtime", json=serving, headers=env.auth("ingest"))
    assert r.status_code == 200 and r.json()["accepted"] == 2, r.text
    page = await env.client.get("/ui/models/m/compare", params={"a": "v1", "b": "v2"},
                                headers=env.auth("read"))  # fmt: skip
    assert page.status_code == 200
    text = " ".join(page.text.split())
    assert "Not known yet: v2 has no training runtime (the training side comes from" in text
    assert "Not known yet: v1 has no training runtime" in text
    assert "Same Python and packages." in text  # v1 vs v2 (serving): both known


async def test_the_compare_page_names_the_versions_without_a_serving_runtime(env: Env) -> None:
    events, labels = _rollout(N, 0.9, shadow=False, scores=True, seed=3)
    await _ingest(env, events, labels)
    page = await env.client.get("/ui/models/m/compare", params={"a": "v1", "b": "v2"},
                                headers=env.auth("read"))  # fmt: skip
    assert page.status_code == 200, page.text[-500:]
    text = " ".join(page.text.split())
    assert "Not known yet: no serving runtime of v1 or v2 (the SDK sends it" in text
    assert "v2 has no training and no serving runtime" in text
