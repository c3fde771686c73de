"""Collector ingest throughput with and without per-event outlier scoring (issue 18).

    python benchmarks/outlier_ingest.py [--events 100000] [--batch 500] [--features 20]
                                        [--repeat 3]

The batches of benchmarks/ingest.py (15 numeric + 5 categorical features at
20) go through the in-process collector on SQLite (decode, validate, insert,
live windows), for a version with a reference profile, with
``windows.outliers`` none, ``mahalanobis`` (the default) and
``isolation_forest``, and with the events scored by the SDK beforehand
(``SDK-scored``: the collector spot-checks 2 per batch and takes the rest;
the SDK's scoring is done before the clock starts); runs alternate, and the
median of ``--repeat`` runs is reported with its cost relative to no scoring.
The outlier model is fitted before the clock starts (once per reference, on
the first batch).

Two figures per run: events per wall-clock second, and events per CPU second
of this process (``time.process_time``; the ingest runs in this one thread).
On a shared, loaded machine the wall figure swings by 2-3x between runs; the
CPU figure is what scoring costs and is the one to compare.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import orjson
import pyarrow as pa

import driftline
from driftline.sdk.clock import SystemClock
from driftline.server.collector import Collector, tune_gc
from driftline.server.ingest import decode_body
from driftline.server.settings import Settings
from driftline.store import open_store
from driftline.windows import WindowConfig, schema_to_json
from ingest import make_bodies

MODES: dict[str, str | None] = {
    "none": None,
    "mahalanobis": "mahalanobis",
    "isolation_forest": "isolation_forest",
    # the events come scored by the SDK (Monitor(score_outliers=True)): the collector
    # checks 2 scores per batch and takes the rest (windows/prescored.py)
    "mahalanobis, SDK-scored": "mahalanobis",
    "isolation_forest, SDK-scored": "isolation_forest",
}


def prescored(bodies: list[bytes], ref: driftline.DatasetProfile, method: str) -> list[bytes]:
    """``bodies`` with each event's outlier score, as the SDK sends them (untimed)."""
    import json
    import warnings

    from driftline._utils.outlier_wire import WireModel
    from driftline.stats.outliers import OutlierModel

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fitted = OutlierModel(method).fit(ref)
    kinds = {c.name: c.kind.value for c in ref.schema}
    wire = WireModel(json.loads(json.dumps(fitted.wire({c: kinds[c] for c in fitted.columns}))))
    out = []
    for body in bodies:
        events = orjson.loads(body)
        scores = wire.score_rows([e["features"] for e in events]).tolist()
        for e, score in zip(events, scores, strict=True):
            e["outlier"] = {"score": score, "model": wire.tag}
        out.append(orjson.dumps(events))
    return out


def reference_of(bodies: list[bytes]) -> driftline.DatasetProfile:
    rows = [e["features"] for body in bodies for e in orjson.loads(body)]
    return driftline.profile(pa.Table.from_pylist(rows), seed=0)


def run(
    mode: str, bodies: list[bytes], ref: driftline.DatasetProfile, tmp: Path
) -> tuple[float, float]:
    store = open_store(f"sqlite:///{tmp / (mode + str(time.monotonic_ns()))}.db")
    store.ensure_version("bench", "v1", time.time())
    store.put_reference("bench", "v1", ref.to_bytes(), ref.n_rows, time.time())
    store.replace_version_schema("bench", "v1", schema_to_json(ref.schema))
    settings = Settings(windows=WindowConfig(outliers=MODES[mode]))
    c = Collector(settings, store, SystemClock())
    c.ingest("prediction", decode_body(bodies[0], None, "application/json", 1 << 30))  # warm
    tune_gc()
    t0 = time.perf_counter()
    c0 = time.process_time()
    n = 0
    for body in bodies[1:]:
        n += c.ingest("prediction", decode_body(body, None, "application/json", 1 << 30)).accepted
    c.windows.flush(force=True)
    elapsed = time.perf_counter() - t0
    cpu = time.process_time() - c0
    store.close()
    return n / elapsed, n / cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--features", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    bodies = make_bodies(args.events, args.batch, args.features, seed=1)
    ref = reference_of(make_bodies(20_000, 1000, args.features, seed=2))
    scored = {
        mode: prescored(bodies, ref, method)
        for mode, method in MODES.items()
        if method and mode.endswith("SDK-scored")
    }
    rates: dict[str, list[tuple[float, float]]] = {m: [] for m in MODES}
    with tempfile.TemporaryDirectory() as d:
        for _ in range(args.repeat):
            for mode in MODES:
                rates[mode].append(run(mode, scored.get(mode, bodies), ref, Path(d)))
    print(f"{args.events:,} events in batches of {args.batch}, {args.features} features, SQLite")
    for i, what in enumerate(("events per wall-clock second", "events per CPU second")):
        base = statistics.median(r[i] for r in rates["none"])
        print(f"\n| outliers | {what} (median) | runs | cost vs none |")
        print("|---|---|---|---|")
        for mode, r in rates.items():
            med = statistics.median(x[i] for x in r)
            runs = ", ".join(f"{x[i]:,.0f}" for x in r)
            print(f"| {mode} | {med:,.0f} | {runs} | {1 - med / base:+.1%} |")


if __name__ == "__main__":
    main()
