"""Window keys, live window profiles, crash recovery and replica independence."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from driftline.errors import ConfigError
from driftline.schema import Kind
from driftline.sdk.clock import ManualClock
from driftline.server.ingest import Limits, validate
from driftline.store import MetricQuery, Store, open_store
from driftline.windows import (
    ALL,
    Evaluator,
    LiveWindows,
    WindowConfig,
    WindowStats,
    infer_schema,
    unpack_segments,
    window_start,
)
from driftline.windows.columns import EventBlock

T0 = 1_700_000_100.0  # inside the 5-minute window starting at 1_700_000_100 - 100


def make_events(n: int, rng: np.random.Generator, *, t0: float = T0, start: int = 0) -> list[dict]:
    raw = [
        {
            "event_id": f"e{start + i}",
            "timestamp": t0 + (i % 240),
            "model": "m",
            "version": "v1",
            "features": {"x": float(rng.normal()), "c": str(rng.choice(["a", "b", "c"]))},
            "prediction": int(i % 2),
            "segment": {"region": "eu" if i % 3 else "us"},
            "latency_ms": 2.0 + i % 7,
            "status": "error" if i % 50 == 0 else "ok",
        }
        for i in range(n)
    ]
    batch = validate("prediction", raw, Limits(t0 + 1e6, 86400, 2000))
    assert not batch.rejected
    return batch.accepted


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return open_store(f"sqlite:///{tmp_path}/w.db")


CFG = WindowConfig(sizes=(300, 3600), grace_seconds=30, segment_keys=("region",))


def test_window_start_is_the_floor_of_event_time() -> None:
    assert window_start(1_700_000_299.9, 300) == 1_700_000_100
    assert window_start(1_700_000_100.0, 300) == 1_700_000_100
    assert CFG.keys_of("m", "v", 1_700_000_100)[1].window_start == 1_699_999_200


@pytest.mark.parametrize(
    "kwargs",
    [{"sizes": (300, 450)}, {"sizes": ()}, {"sizes": (0,)}, {"grace_seconds": -1}],
    ids=["not-multiple", "empty", "zero", "negative-grace"],
)
def test_bad_window_config_names_the_field(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="window"):
        WindowConfig(**kwargs)


def test_infer_schema_from_first_events() -> None:
    schema = infer_schema([{"features": {"x": 1.5, "c": "a", "b": True, "v": [1, 2]}}])
    assert {s.name: s.kind for s in schema} == {
        "x": Kind.NUMERIC,
        "c": Kind.CATEGORICAL,
        "b": Kind.BOOLEAN,
        "v": Kind.EMBEDDING,
    }


def test_window_stats_merge_equals_one_pass_and_round_trips(rng: np.random.Generator) -> None:
    events = make_events(600, rng)
    schema = infer_schema(events)
    whole = WindowStats(schema)
    parts = [WindowStats(schema, seed=i) for i in range(3)]
    whole.update(events[:250]).update(events[250:])
    for i in range(3):
        parts[i].update(events[i::3])
    merged = parts[0].merge(parts[1]).merge(WindowStats.from_bytes(parts[2].to_bytes()))
    whole.fold()
    assert merged.n_events == whole.n_events == 600
    assert merged.n_errors == whole.n_errors == 12
    assert merged.profile["c"].categories.counts() == whole.profile["c"].categories.counts()
    assert merged.profile["x"].moments.mean == pytest.approx(whole.profile["x"].moments.mean)


def test_a_block_taken_whole_folds_as_the_block_and_a_part_as_its_rows(
    rng: np.random.Generator,
) -> None:
    events = make_events(300, rng)
    events[7]["features"]["surprise"] = 1.0  # an unknown feature, counted per row
    schema = infer_schema(events[8:])

    def folded(*blocks: EventBlock) -> bytes:
        stats = WindowStats(schema, seed=4)
        for b in blocks:
            stats.update(b)
        return stats.to_bytes()

    block = EventBlock.of(schema, events)
    as_sent = folded(block)
    block.review = [(9.0, "e3")]
    whole = block.take(range(300))  # a segment every event is in
    part = block.take([i for i in range(300) if i != 5])
    assert whole.review is None and part.review is None  # all traffic keeps the candidates
    assert folded(whole) == as_sent
    assert folded(part) == folded(EventBlock.of(schema, events[:5] + events[6:]))
    assert WindowStats.from_bytes(as_sent).unknown == {"surprise": 1}


def test_missing_unknown_and_mistyped_features_are_counted_not_fatal(
    rng: np.random.Generator,
) -> None:
    schema = infer_schema(make_events(5, rng))
    st = WindowStats(schema, max_unknown=1)
    st.update([{"features": {"x": "oops", "new1": 1, "new2": 2}, "status": "ok"}])
    st.update([{"features": {}, "status": "ok"}])
    st.fold()
    assert st.unknown == {"new1": 1}
    assert st.profile["x"].type_errors == 1
    assert st.profile["c"].missing == 2


def test_window_memory_does_not_grow_with_events(rng: np.random.Generator) -> None:
    schema = infer_schema(make_events(5, rng))
    sizes = []
    for n in (2_000, 40_000):
        st = WindowStats(schema, reservoir_size=500)
        xs = rng.normal(size=n)
        events = [{"features": {"x": float(xs[i]), "c": "abc"[i % 3]}} for i in range(n)]
        for i in range(0, n, 500):
            st.update(events[i : i + 500])
            if st.buffered >= 4096:
                st.fold()
        sizes.append(len(st.to_bytes()))
    assert sizes[1] < 1.3 * sizes[0]


def evaluate_all(store: Store, clock: ManualClock) -> dict[tuple, Any]:
    clock.advance(7200)
    ev = Evaluator(store, CFG, clock)
    while ev.run():
        pass
    points = store.metric_points(MetricQuery(limit=10_000))
    keys = ("segment", "window_size", "window_start", "metric", "column", "method")
    return {tuple(p[k] for k in keys): p["value"] for p in points}


def test_events_of_a_crashed_replica_are_recovered_exactly_once(
    store: Store, rng: np.random.Generator
) -> None:
    clock = ManualClock(T0)
    events = make_events(900, rng)
    a = LiveWindows(store, CFG, clock, replica="a")
    a.ingest(events[:300])
    a.flush(force=True)  # a checkpoint covers the first 300
    a.ingest(events[300:600])  # ... then the process dies: no flush
    b = LiveWindows(store, CFG, clock, replica="b")
    b.ingest(events[500:900])  # 100 duplicates of a's events, 300 new
    b.flush(force=True)
    points = evaluate_all(store, clock)
    start = window_start(T0, 300)
    assert points[(ALL, 300, start, "events", "", "")] == 900
    eu = sum(1 for e in events if e["segment"]["region"] == "eu")
    assert points[("region=eu", 300, start, "events", "", "")] == eu
    assert points[(ALL, 3600, window_start(T0, 3600), "events", "", "")] == 900


def test_evaluation_does_not_depend_on_which_replica_got_which_event(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    events = make_events(1200, rng)
    results = []
    for n_replicas in (1, 3):
        store = open_store(f"sqlite:///{tmp_path}/r{n_replicas}.db")
        clock = ManualClock(T0)
        replicas = [LiveWindows(store, CFG, clock, replica=f"r{i}") for i in range(n_replicas)]
        for j in range(0, len(events), 100):
            replicas[(j // 100) % n_replicas].ingest(events[j : j + 100])
            if j == 600:
                replicas[0].flush(force=True)
        for r in replicas:
            r.flush(force=True)
        results.append(evaluate_all(store, clock))
        store.close()
    one, three = results
    assert one.keys() == three.keys()
    for k, v in one.items():
        assert three[k] == pytest.approx(v, rel=1e-9, abs=1e-12), k


def test_partial_blob_holds_every_segment(store: Store, rng: np.random.Generator) -> None:
    clock = ManualClock(T0)
    lw = LiveWindows(store, CFG, clock)
    lw.ingest(make_events(30, rng))
    lw.flush(force=True)
    (part,) = store.partials("m", "v1", 0, 2**40)
    assert set(unpack_segments(part.profile)) == {ALL, "region=eu", "region=us"}
    assert part.n_events == 30 and part.covered_seq == 1


def test_segment_values_are_bounded_per_key(store: Store, rng: np.random.Generator) -> None:
    cfg = WindowConfig(sizes=(300,), segment_keys=("user",), max_segments=3)
    lw = LiveWindows(store, cfg, ManualClock(T0))
    events = make_events(10, rng)
    for i, e in enumerate(events):
        e["segment"] = {"user": f"u{i}"}
    lw.ingest(events)
    lw.flush(force=True)
    (part,) = store.partials("m", "v1", 0, 2**40)
    segs = unpack_segments(part.profile)
    assert set(segs) == {ALL, "user=u0", "user=u1", "user=u2", "user=__other__"}
    assert segs["user=__other__"].n_events == 7


def test_latency_points_keep_every_statistic(store: Store, rng: np.random.Generator) -> None:
    clock = ManualClock(T0)
    lw = LiveWindows(store, CFG, clock)
    events = make_events(400, rng)
    lw.ingest(events)
    lw.flush(force=True)
    points = evaluate_all(store, clock)
    start = window_start(T0, 300)
    lat = {m: points[(ALL, 300, start, "latency_seconds", "", m)] for m in ("p50", "p95", "p99")}
    lat["mean"] = points[(ALL, 300, start, "latency_seconds", "", "mean")]
    ms = np.array([e["latency_ms"] for e in events]) / 1000.0
    assert lat["mean"] == pytest.approx(ms.mean())
    assert lat["p50"] == pytest.approx(np.quantile(ms, 0.5), abs=0.0011)
    assert lat["p50"] < lat["p99"]
    assert lat["p99"] == pytest.approx(ms.max(), abs=0.0011)


@pytest.mark.parametrize(
    "scores",
    [
        pytest.param(lambda p: [1 - p, p], id="list-of-two"),
        pytest.param(lambda p: p, id="number"),
        pytest.param(lambda p: {"score": p}, id="by-column"),
    ],
)
def test_unlabelled_windows_get_cbpe_estimates(
    store: Store, rng: np.random.Generator, scores: Any
) -> None:
    import pyarrow as pa

    import driftline
    from driftline.windows import schema_to_json

    x = rng.normal(size=3000)
    p = 1 / (1 + np.exp(-2 * x))
    y = (rng.random(3000) < p).astype(int)
    roles = {"score": {"role": "score"}, "y": {"role": "target"}}
    table = pa.table({"x": x, "score": p, "prediction": (p > 0.5).astype(int), "y": y})
    ref = driftline.profile(table, schema=roles, seed=0)
    store.put_reference("m", "v1", ref.to_bytes(), ref.n_rows, T0)
    store.replace_version_schema("m", "v1", schema_to_json(ref.schema))
    xs = rng.normal(size=600)
    ps = 1 / (1 + np.exp(-2 * xs))
    raw = [
        {
            "event_id": f"e{i}",
            "timestamp": T0 + i % 200,
            "model": "m",
            "version": "v1",
            "features": {"x": float(xs[i])},
            "prediction": int(ps[i] > 0.5),
            "scores": scores(float(ps[i])),
        }
        for i in range(600)
    ]
    clock = ManualClock(T0)
    lw = LiveWindows(store, CFG, clock)
    lw.ingest(validate("prediction", raw, Limits(T0 + 1e6, 86400, 2000)).accepted)
    lw.flush(force=True)
    evaluate_all(store, clock)
    q = MetricQuery(metric="estimated.accuracy", window_size=300, segment=ALL)
    (point,) = store.metric_points(q)
    # calibrated scores: the expected accuracy is the mean top-class probability
    assert point["method"] == "cbpe"
    assert point["value"] == pytest.approx(np.maximum(ps, 1 - ps).mean(), abs=1e-9)
    assert point["n"] == 600
    names = {p["metric"] for p in store.metric_points(MetricQuery(method="cbpe", limit=100))}
    assert {"estimated.roc_auc", "estimated.f1"} <= names
    # the window's target column is always empty (labels come on their own): no points
    assert not store.metric_points(MetricQuery(column="y"))


class _AckLost:
    """A store whose third insert commits and then fails, as a lost connection would."""

    def __init__(self, store: Store) -> None:
        import itertools

        self._store = store
        self._calls = itertools.count(1)  # thread-safe in CPython

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def insert_events(self, rows: Any) -> set[str]:
        call = next(self._calls)
        new = self._store.insert_events(rows)
        if call == 3:
            raise ConnectionError("connection lost after commit")
        return new


def test_concurrent_batches_and_a_lost_ack_count_every_event_once(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    import threading

    events = make_events(2400, rng)
    results = []
    for mode in ("one thread", "eight threads, a lost ack"):
        store = open_store(f"sqlite:///{tmp_path}/{len(results)}.db")
        clock = ManualClock(T0)
        if mode == "one thread":
            lw = LiveWindows(store, CFG, clock)
            for j in range(0, len(events), 100):
                lw.ingest(events[j : j + 100])
        else:
            lw = LiveWindows(_AckLost(store), CFG, clock)  # type: ignore[arg-type]
            batches = [events[j : j + 100] for j in range(0, len(events), 100)]
            errors = []

            def send(lw: LiveWindows, part: list[list[dict]], errors: list[Exception]) -> None:
                for b in part:
                    try:
                        lw.ingest(b)
                    except ConnectionError as exc:
                        errors.append(exc)
                        lw.ingest(b)  # the client retries: duplicates are ignored

            threads = [
                threading.Thread(target=send, args=(lw, batches[i::8], errors)) for i in range(8)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert len(errors) == 1
        lw.flush(force=True)
        results.append(evaluate_all(store, clock))
        store.close()
    one, many = results
    start = window_start(T0, 300)
    assert one[(ALL, 300, start, "events", "", "")] == 2400
    exact = ("events", "error_ratio", "label_coverage_ratio", "missing_ratio")
    for k, v in one.items():
        if k[3] in exact:
            assert many[k] == pytest.approx(v, rel=1e-12), k
