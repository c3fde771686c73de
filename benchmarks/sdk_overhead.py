"""SDK overhead benchmark (issue 5): what instrumenting a model service costs.

    .venv/bin/python benchmarks/sdk_overhead.py            # everything, peers included
    .venv/bin/python benchmarks/sdk_overhead.py --quick    # fewer iterations
    .venv/bin/python benchmarks/sdk_overhead.py --only throughput --repeat 5   # the shipper
    .venv/bin/python benchmarks/sdk_overhead.py --no-peers # driftline only

Measured side by side in one run:

1. In-process, per observed prediction: a bare call; prometheus_client alone
   (labelled Counter + Histogram, with ``.labels()`` per call and pre-bound);
   an OpenTelemetry SDK span (in the peers venv); driftline ``observe()`` with
   metrics and event capture on and the shipper running against a real HTTP
   receiver. Each call is timed on its own; "added" is median(variant) -
   median(bare).
2. FastAPI: the same endpoint bare, with prometheus-fastapi-instrumentator (in
   the peers venv, same fastapi/starlette versions) and with driftline's
   middleware (alone, and with ``observe()`` inside the endpoint). Requests are
   driven straight through the ASGI interface, no sockets, one at a time.
3. Shipper throughput on one core: observations encoded (metrics tallied,
   privacy policy applied), batched (the default 1000), gzipped and POSTed to
   a receiver in another process, as a backlog drained at once and in steady
   state. The benchmark's thread, and so the shipper thread it starts, is
   pinned to one CPU (``os.sched_setaffinity``), the receiver to another;
   reported per second of the shipper thread's own CPU time
   (``time.thread_time``) and per wall second.
4. Tail latency of a simulated service (a 200 us model) with no monitoring,
   with the collector up, and with the collector down (connection refused).

The comparison tools never become project dependencies: they are installed by
this script into ``benchmarks/.venv-sdkpeers``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PEERS_VENV = HERE / ".venv-sdkpeers"
PEER_PACKAGES = ["opentelemetry-sdk", "prometheus-fastapi-instrumentator"]


# -- timing helpers -------------------------------------------------------------
def per_call_ns(fn: Callable[[], Any], n: int, warmup: int = 2000) -> list[int]:
    """Wall time of each of ``n`` calls, in nanoseconds (GC off while timing)."""
    return timed_calls(fn, n, warmup)[0]


def timed_calls(fn: Callable[[], Any], n: int, warmup: int = 2000) -> tuple[list[int], float]:
    """:func:`per_call_ns`, and the calling thread's CPU seconds over the ``n`` timed calls
    (``time.thread_time``; the per-call timing's own cost included)."""
    for _ in range(warmup):
        fn()
    clock = time.perf_counter_ns
    out = [0] * n
    gc.collect()
    gc.disable()
    try:
        cpu0 = time.thread_time()
        for i in range(n):
            t0 = clock()
            fn()
            out[i] = clock() - t0
        cpu = time.thread_time() - cpu0
    finally:
        gc.enable()
    return out, cpu


def summary(samples_ns: list[int]) -> dict[str, float]:
    s = sorted(samples_ns)
    n = len(s)
    return {
        "median_us": statistics.median(s) / 1000,
        "p99_us": s[min(n - 1, int(n * 0.99))] / 1000,
        "p999_us": s[min(n - 1, int(n * 0.999))] / 1000,
        "mean_us": sum(s) / n / 1000,
    }


def interleaved(
    variants: dict[str, Callable[[], Any]],
    n: int,
    rounds: int,
    settle: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Run the variants in alternating rounds so machine noise hits all alike.

    ``settle`` (untimed) runs after each variant's round: e.g. a flush, so that the
    background work a variant queued is not left to run during the next variant's round.

    Besides the per-call wall times, ``cpu_us`` is the calling thread's CPU time
    (``time.thread_time``) per timed call, the timing's own cost included (the same for
    every variant, so it cancels in a difference): a mean, and unlike the wall time it
    leaves out the time the thread waited for a core or for the GIL."""
    samples: dict[str, list[int]] = {k: [] for k in variants}
    cpu: dict[str, float] = dict.fromkeys(variants, 0.0)
    calls = dict.fromkeys(variants, 0)
    for _ in range(rounds):
        for name, fn in variants.items():
            wall, seconds = timed_calls(fn, n // rounds, warmup=500)
            samples[name].extend(wall)
            cpu[name] += seconds
            calls[name] += n // rounds
            if settle is not None:
                settle()
    return {k: {**summary(v), "cpu_us": 1e6 * cpu[k] / calls[k]} for k, v in samples.items()}


# -- a receiver in another process --------------------------------------------
RECEIVER = textwrap.dedent(
    """
    import sys
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def log_message(self, *a):
            pass
        def do_GET(self):  # /v1/models/{m}/versions/{v}/outlier-model from argv[1]/{v}.json
            import os
            parts = self.path.split("/")
            path = os.path.join(sys.argv[1], parts[-2] + ".json") if len(sys.argv) > 1 else ""
            body = open(path, "rb").read() if path and os.path.exists(path) else b""
            self.send_response(200 if body else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), H)
    print(server.server_address[1], flush=True)
    server.serve_forever()
    """
)


def start_receiver(models: Path | None = None) -> tuple[subprocess.Popen[str], str]:
    """A receiver that answers every POST 202 (and, with ``models``, serves the outlier
    model ``{models}/{version}.json`` on GET)."""
    argv = [sys.executable, "-c", RECEIVER, *([str(models)] if models else [])]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    return proc, f"http://127.0.0.1:{port}"


def closed_port_url() -> str:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


FEATURES = {"age": 41, "income": 52_000.0, "region": "eu", "tenure": 3, "prev_score": 0.42}
SCORES = {"approve": 0.8, "reject": 0.2}


def model(features: dict[str, Any]) -> str:
    return "approve"


# -- 1. in-process ----------------------------------------------------------------
def bench_prometheus_alone(n: int, rounds: int) -> dict[str, Any]:
    from prometheus_client import CollectorRegistry, Counter, Histogram

    reg = CollectorRegistry()
    c = Counter("req", "r", ["model", "version", "outcome"], registry=reg)
    h = Histogram("lat", "l", ["model", "version"], registry=reg)
    cb, hb = c.labels("m", "v", "ok"), h.labels("m", "v")
    clock = time.perf_counter

    def labelled() -> None:
        t0 = clock()
        model(FEATURES)
        h.labels("m", "v").observe(clock() - t0)
        c.labels("m", "v", "ok").inc()

    def prebound() -> None:
        t0 = clock()
        model(FEATURES)
        hb.observe(clock() - t0)
        cb.inc()

    def bare() -> None:
        model(FEATURES)

    return interleaved(
        {"bare": bare, "prometheus labelled": labelled, "prometheus pre-bound": prebound},
        n,
        rounds,
    )


def bench_otel(n: int, rounds: int) -> dict[str, Any]:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class Null(SpanExporter):  # export nowhere: measure the span itself
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Null()))
    tracer = provider.get_tracer("bench")

    def span() -> None:
        with tracer.start_as_current_span("predict") as s:
            s.set_attribute("model", "m")
            model(FEATURES)

    def bare() -> None:
        model(FEATURES)

    try:
        return interleaved({"bare": bare, "opentelemetry span": span}, n, rounds)
    finally:
        provider.shutdown()


def bench_driftline(n: int, rounds: int, url: str) -> dict[str, Any]:
    from prometheus_client import CollectorRegistry

    from driftline.sdk import Monitor

    mon = Monitor("credit_risk", "v3", sink=url, registry=CollectorRegistry())

    def observed() -> None:
        with mon.observe(FEATURES) as obs:
            obs.record(prediction=model(FEATURES), scores=SCORES)

    def bare() -> None:
        model(FEATURES)

    try:
        result = interleaved({"bare": bare, "driftline observe": observed}, n, rounds)
        mon.flush(30)
        result["stats"] = mon.stats()
        return result
    finally:
        mon.close()


def bench_stages(n: int, rounds: int, url: str) -> dict[str, Any]:
    """observe() alone, with two stages, and mon.check() of 20 features (issue 17).

    The resource sampler runs every 10 ms on the shipper thread (its default is 10 s),
    so its cost is inside the measurement whatever it is. The shipper ships during each
    variant's round (it wakes every 1000 events); what is left is flushed, untimed, before
    the next variant runs, so no variant (the bare call included) pays for another's events.
    ``sum(range(1000))`` runs in the same rounds as a yardstick of the machine's speed.
    """
    from prometheus_client import CollectorRegistry

    from driftline.sdk import Contract, Monitor

    names = [f"f{i:02d}" for i in range(20)]
    spec: dict[str, dict[str, Any]] = {}
    features: dict[str, Any] = {}
    for i, name in enumerate(names):
        if i % 4 == 3:
            spec[name] = {"kind": "categorical", "categories": ["a", "b", "c"], "required": True}
            features[name] = "b"
        else:
            spec[name] = {"kind": "numeric", "min": 0.0, "max": 100.0, "required": True}
            features[name] = float(i)
    contract = Contract(spec)
    mon = Monitor(
        "credit_risk", "v3", sink=url, registry=CollectorRegistry(), resource_interval=0.01,
        contract=contract,
    )  # fmt: skip

    def observed() -> None:
        with mon.observe(FEATURES) as obs:
            obs.record(prediction=model(FEATURES), scores=SCORES)

    def staged() -> None:
        with mon.observe(FEATURES) as obs:
            with obs.stage("retrieve"):
                pass
            with obs.stage("predict"):
                label = model(FEATURES)
            obs.record(prediction=label, scores=SCORES)

    def checked() -> None:
        mon.check(features)

    traced_mon: Any = None
    try:  # the otel extra on: spans to a null exporter, metrics kept in the SDK
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import (
            BatchSpanProcessor,
            SpanExporter,
            SpanExportResult,
        )

        class Null(SpanExporter):
            def export(self, spans: Any) -> SpanExportResult:
                return SpanExportResult.SUCCESS

        tp = TracerProvider()
        tp.add_span_processor(BatchSpanProcessor(Null()))
        traced_mon = Monitor("traced", "v1", sink=url, registry=CollectorRegistry())
        traced_mon.enable_otel(tracer_provider=tp, meter_provider=MeterProvider())
    except ImportError:
        pass

    def traced() -> None:
        with traced_mon.observe(FEATURES) as obs:
            with obs.stage("retrieve"):
                pass
            with obs.stage("predict"):
                label = model(FEATURES)
            obs.record(prediction=label, scores=SCORES)

    def bare() -> None:
        model(FEATURES)

    def yardstick() -> None:  # this machine's Python speed, in the same rounds
        sum(range(1000))

    try:
        variants = {"bare": bare, "observe": observed, "observe + 2 stages": staged,
                    "check 20 features": checked, "yardstick": yardstick}  # fmt: skip
        if traced_mon is not None:
            variants["observe + 2 stages, otel on"] = traced

        def settle() -> None:  # what a variant queued is shipped before the next one runs
            for m in (mon, traced_mon):
                if m is not None:
                    m.flush(30)

        result = interleaved(variants, n, rounds, settle)
        assert mon.check(features) == ()
        mon.flush(30)
        result["stats"] = mon.stats()
        return result
    finally:
        mon.close()
        if traced_mon is not None:
            traced_mon.close()


def bench_outliers(n: int, rounds: int) -> dict[str, Any]:
    """observe() of 20 features with the SDK scoring outliers on its shipper thread
    (``score_outliers=True``; issue 18) and without: per-call latency, and the shipper
    thread's CPU per event. Each variant has its own Monitor; after each variant's round
    its queue is flushed (untimed), so every round's timing includes its own shipper's
    work and no other's. The models are the collector's (fitted on a 5,000-row reference
    of the same 20 features), served by the receiver as the collector serves them."""
    import tempfile
    import warnings

    import numpy as np
    import pandas as pd
    from prometheus_client import CollectorRegistry

    import driftline
    from driftline.sdk import Monitor
    from driftline.stats.outliers import OutlierModel

    rng = np.random.default_rng(0)
    names = [f"f{i:02d}" for i in range(20)]
    ref = pd.DataFrame(
        {
            name: rng.choice(["a", "b", "c"], 5000) if i % 4 == 3 else rng.normal(50, 10, 5000)
            for i, name in enumerate(names)
        }
    )
    profile = driftline.profile(ref, seed=0)
    features = [
        {k: (v if isinstance(v, str) else float(v)) for k, v in row.items()}
        for row in ref.sample(1000, random_state=1).to_dict("records")
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for method in ("mahalanobis", "isolation_forest"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                fitted = OutlierModel(method).fit(profile)
            Path(tmp, f"{method}.json").write_text(json.dumps(fitted.wire()))
        receiver, url = start_receiver(Path(tmp))
        monitors = {
            "observe, scoring off": Monitor("m", "off", sink=url, registry=CollectorRegistry()),
            "observe, SDK scores (mahalanobis)": Monitor(
                "m", "mahalanobis", sink=url, registry=CollectorRegistry(), score_outliers=True
            ),
            "observe, SDK scores (isolation_forest)": Monitor(
                "m", "isolation_forest", sink=url, registry=CollectorRegistry(),
                score_outliers=True,
            ),
        }  # fmt: skip
        try:
            samples: dict[str, list[int]] = {k: [] for k in monitors}
            for _ in range(rounds):
                for name, mon in monitors.items():
                    i = 0

                    def observed(mon: Monitor = mon) -> None:
                        nonlocal i
                        i += 1
                        f = features[i % 1000]
                        with mon.observe(f) as obs:
                            obs.record(prediction=model(f))

                    samples[name].extend(per_call_ns(observed, n // rounds, warmup=200))
                    mon.flush(60)
            out: dict[str, Any] = {k: summary(v) for k, v in samples.items()}
            for name, mon in monitors.items():
                processed = max(mon.shipper.processed, 1)
                out[name]["shipper_cpu_us_per_event"] = 1e6 * mon.shipper.cpu_seconds / processed
                out[name]["outliers"] = mon.stats().get("outliers")
            return out
        finally:
            for mon in monitors.values():
                mon.close()
            receiver.terminate()
            receiver.wait()


# -- 2. FastAPI ---------------------------------------------------------------------
def make_app(kind: str, url: str | None = None) -> tuple[Any, Callable[[], None]]:
    from fastapi import FastAPI

    app = FastAPI()
    cleanup: Callable[[], None] = lambda: None  # noqa: E731
    mon: Any = None
    if kind.startswith("driftline"):
        from prometheus_client import CollectorRegistry

        from driftline.integrations.fastapi import instrument
        from driftline.sdk import Monitor

        mon = Monitor("credit_risk", "v3", sink=url or "memory", registry=CollectorRegistry())
        instrument(app, mon)
        cleanup = mon.close
    elif kind == "instrumentator":
        from prometheus_fastapi_instrumentator import Instrumentator

        Instrumentator().instrument(app).expose(app)
    with_model = kind == "driftline+observe"

    @app.get("/predict/{item}")
    async def predict(item: int) -> dict[str, str]:
        if with_model:
            with mon.observe(FEATURES) as obs:
                label = model(FEATURES)
                obs.record(prediction=label, scores=SCORES)
        else:
            label = model(FEATURES)
        return {"label": label}

    return app, cleanup


def asgi_driver(app: Any) -> Callable[[], Any]:
    """One GET /predict/7 through the ASGI interface, no network."""
    scope_base = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/predict/7",
        "raw_path": b"/predict/7",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"bench"), (b"user-agent", b"bench")],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 80),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            assert message["status"] == 200, message

    async def one() -> None:
        await app(dict(scope_base), receive, send)

    return one


def bench_fastapi(kinds: list[str], n: int, rounds: int, url: str | None) -> dict[str, Any]:
    apps = {k: make_app(k, url) for k in kinds}
    loop = asyncio.new_event_loop()
    drivers = {k: asgi_driver(app) for k, (app, _) in apps.items()}
    variants = {k: (lambda d=d: loop.run_until_complete(d())) for k, d in drivers.items()}
    try:
        return interleaved(variants, n, rounds)
    finally:
        for _, cleanup in apps.values():
            cleanup()
        loop.close()


# -- 3. shipper throughput ------------------------------------------------------------
def one_core() -> tuple[int, int | None]:
    """The CPU to pin the shipper to, and another one for the receiver (None on 1 CPU)."""
    cpus = sorted(os.sched_getaffinity(0))
    return cpus[0], (cpus[1] if len(cpus) > 1 else None)


def throughput_cases() -> list[tuple[str, Any, bool, bool]]:
    """(name, privacy policy, use orjson, use isal) for each throughput case."""
    from driftline.sdk import PrivacyPolicy

    # Rules for fields these events do not have: the policy keeps everything there is.
    keep_most = PrivacyPolicy({"email": "drop", "password": "drop", "ssn": "drop"})
    redact = PrivacyPolicy({"prediction_id": "hash", "note": "mask"}, hash_key="k")
    return [
        ("no policy, orjson, gzip by isal", None, True, True),
        ("no policy, orjson, gzip by zlib", None, True, False),
        ("policy naming absent fields (keeps all), orjson, isal", keep_most, True, True),
        ("policy: hash id + mask a phone number in text, orjson, isal", redact, True, True),
        ("no policy, standard-library json, zlib (no optional packages)", None, False, False),
    ]


def ship(n: int, url: str, policy: Any, mode: str) -> dict[str, float]:
    """Ship ``n`` observations; the shipper thread's CPU time and the wall time.

    ``backlog``: queue all n first (the shipper held back), then time the drain;
    the events' data is long out of the CPU caches, the worst case. ``steady``:
    the shipper runs as in a service, woken every ``batch_size`` events while the
    loop keeps observing; the wall time then includes the observing loop, which
    shares the core.
    """
    from prometheus_client import CollectorRegistry

    from driftline.sdk import Monitor

    mon = Monitor(
        "credit_risk", "v3", sink=url, registry=CollectorRegistry(), privacy=policy,
        queue_size=n + 10, flush_interval=3600,  # the default batch_size (1000)
    )  # fmt: skip
    if mode == "backlog":
        # Hold the shipper back until the whole backlog is queued (normally it wakes
        # at every batch_size events).
        mon._wake_at = n + 1
    cpu0 = mon.shipper.cpu_seconds
    t0 = time.perf_counter()
    for i in range(n):
        features = dict(FEATURES, note="call me at 020 7946 0958", i=i)  # a new dict each time
        with mon.observe(features, segment={"region": "eu"}) as obs:
            obs.record(prediction="approve", scores=dict(SCORES))
    if mode == "backlog":
        t0 = time.perf_counter()
    assert mon.flush(300)
    wall = time.perf_counter() - t0
    time.sleep(0.2)  # let the thread store its CPU time after the cycle
    cpu = mon.shipper.cpu_seconds - cpu0
    stats = mon.stats()
    mon.close()
    assert stats["sent"] == n and not stats["dropped"], stats
    return {"cpu_s": cpu, "wall_s": wall}


def bench_throughput(
    n: int, url: str, receiver_pid: int | None = None, repeat: int = 5
) -> dict[str, Any]:
    """Shipper throughput on one core: per CPU-second of its thread, and per wall second.

    The benchmark's main thread (and so the shipper thread it starts) is pinned to
    one CPU with ``os.sched_setaffinity``; the receiver process to another one.
    """
    from driftline.sdk import events
    from driftline.sdk import http_sink as collector

    cpu, other = one_core()
    if receiver_pid is not None and other is not None:
        os.sched_setaffinity(receiver_pid, {other})
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})  # threads started from now on inherit it
    results: dict[str, Any] = {"_pinning": {"shipper_cpu": cpu, "receiver_cpu": other}}
    orjson_module, isal_module = events._orjson, collector._isal_zlib
    cases = [
        case
        for case in throughput_cases()
        if (orjson_module is not None or not case[2]) and (isal_module is not None or not case[3])
    ]
    modes = ("backlog", "steady")
    runs: dict[tuple[str, str], list[dict[str, float]]] = {
        (case[0], mode): [] for case in cases for mode in modes
    }
    try:
        for _ in range(repeat):  # cases interleaved, so a busy spell hits them all alike
            for name, policy, use_orjson, use_isal in cases:
                events._orjson = orjson_module if use_orjson else None
                collector._isal_zlib = isal_module if use_isal else None
                size = n if policy is None or name.startswith("policy naming") else n // 5
                for mode in modes:
                    runs[name, mode].append({"events": size, **ship(size, url, policy, mode)})
        for (name, mode), done in runs.items():
            per_cpu = sorted(r["events"] / r["cpu_s"] for r in done)
            per_wall = sorted(r["events"] / r["wall_s"] for r in done)
            results[f"{name} [{mode}]"] = {
                "events": int(done[0]["events"]),
                "runs": len(done),
                "events_per_cpu_second": statistics.median(per_cpu),
                "events_per_cpu_second_min": per_cpu[0],
                "events_per_cpu_second_max": per_cpu[-1],
                "events_per_wall_second": statistics.median(per_wall),
                "events_per_wall_second_min": per_wall[0],
                "us_per_event_cpu": 1e6 / statistics.median(per_cpu),
            }
    finally:
        events._orjson, collector._isal_zlib = orjson_module, isal_module
        os.sched_setaffinity(0, before)
    return results


# -- 4. tail latency with the collector down --------------------------------------------
def spin(us: float) -> None:
    end = time.perf_counter() + us / 1e6
    while time.perf_counter() < end:
        pass


def bench_tail(n: int, up_url: str, rounds: int) -> dict[str, Any]:
    """A service loop per condition, in alternating rounds so machine noise hits all alike."""
    from prometheus_client import CollectorRegistry

    from driftline.sdk import Monitor

    def service(mon: Monitor | None, count: int) -> list[int]:
        out = []
        clock = time.perf_counter_ns
        for _ in range(count):
            t0 = clock()
            if mon is None:
                spin(200)
            else:
                with mon.observe(FEATURES) as obs:
                    spin(200)
                    obs.record(prediction="approve", scores=SCORES)
            out.append(clock() - t0)
            spin(100)  # idle time between requests, as in a real service
        return out

    down_url = closed_port_url()
    samples: dict[str, list[int]] = {"no monitoring": [], "collector up": [], "collector down": []}
    stats: dict[str, Any] = {}
    for _ in range(rounds):
        samples["no monitoring"].extend(service(None, n // rounds))
        for name, url in (("collector up", up_url), ("collector down", down_url)):
            mon = Monitor("credit_risk", "v3", sink=url, registry=CollectorRegistry(), timeout=1.0)
            samples[name].extend(service(mon, n // rounds))
            stats[name] = {k: v for k, v in mon.stats().items() if k != "processed"}
            mon.close(timeout=0.5)
    results: dict[str, Any] = {k: summary(v) for k, v in samples.items()}
    for name, s in stats.items():
        results[name]["stats"] = s
    return results


# -- peers venv ---------------------------------------------------------------------------
def versions(*names: str) -> dict[str, str]:
    from importlib.metadata import version

    return {n: version(n) for n in names}


def ensure_peers_venv() -> Path:
    python = PEERS_VENV / "bin" / "python"
    pins = versions("fastapi", "starlette", "prometheus_client", "httpx")
    wanted = [*PEER_PACKAGES, *(f"{k.replace('_', '-')}=={v}" for k, v in pins.items())]
    stamp = PEERS_VENV / ".installed"
    if not stamp.exists() or stamp.read_text() != "\n".join(wanted):
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(PEERS_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *wanted], check=True)
        stamp.write_text("\n".join(wanted))
    return python


def run_peers(n: int, rounds: int) -> dict[str, Any]:
    python = ensure_peers_venv()
    out = subprocess.run(
        [str(python), __file__, "--peer", "--n", str(n), "--rounds", str(rounds)],
        check=True,
        capture_output=True,
        text=True,
        cwd=HERE,
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def peer_main(n: int, rounds: int) -> None:
    result = {
        "versions": versions(
            "opentelemetry-sdk", "prometheus-fastapi-instrumentator", "fastapi", "starlette"
        ),
        "otel": bench_otel(n, rounds),
        "fastapi": bench_fastapi(["bare", "instrumentator"], n // 4, rounds, None),
    }
    print(json.dumps(result))


#: ``sum(range(1000))`` on this machine at its fastest (the sessions that set issue 17's bars)
QUIET_YARDSTICK_US = 9.4


def reference_speed() -> float:
    """``sum(range(1000))`` in microseconds: a yardstick for this machine's Python speed."""
    import timeit

    return min(timeit.repeat("sum(range(1000))", number=2000, repeat=5)) / 2000 * 1e6


# -- report -----------------------------------------------------------------------------
def added(result: dict[str, Any], name: str) -> float:
    return float(result[name]["median_us"] - result["bare"]["median_us"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations")
    parser.add_argument("--no-peers", action="store_true", help="skip OpenTelemetry/instrumentator")
    parser.add_argument("--peer", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    parser.add_argument(
        "--only",
        choices=["throughput", "tail", "stages", "outliers"],
        help="run one section (driftline only)",
    )
    parser.add_argument("--repeat", type=int, default=5, help="throughput runs per case")
    args = parser.parse_args()
    n = args.n or (20_000 if args.quick else 100_000)
    rounds = args.rounds or 5
    if args.peer:
        peer_main(n, rounds)
        return

    sys.path.insert(0, str(HERE.parent / "src"))
    receiver, url = start_receiver()
    try:
        report: dict[str, Any] = {
            "python": sys.version.split()[0],
            "cpus": os.cpu_count(),
            "load_average": os.getloadavg(),
            "reference_sum_range_1000_us": reference_speed(),
            "versions": versions("prometheus_client", "fastapi", "starlette"),
        }
        everything = args.only is None
        if everything:
            report["prometheus"] = bench_prometheus_alone(n, rounds)
            report["driftline"] = bench_driftline(n, rounds, url)
            report["fastapi"] = bench_fastapi(
                ["bare", "driftline", "driftline+observe"], n // 4, rounds, url
            )
        if everything or args.only == "stages":
            report["stages"] = bench_stages(n, rounds, url)
        if everything or args.only == "throughput":
            report["throughput"] = bench_throughput(n // 2, url, receiver.pid, args.repeat)
        if everything or args.only == "tail":
            report["tail"] = bench_tail(n // 2, url, rounds)
        if everything or args.only == "outliers":
            report["outliers"] = bench_outliers(n // 5, rounds)
        if everything and not args.no_peers:
            report["peers"] = run_peers(n, rounds)
        report["load_average_after"] = os.getloadavg()
    finally:
        receiver.terminate()
        receiver.wait()

    print_report(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


def print_report(r: dict[str, Any]) -> None:
    print(
        f"python {r['python']}, {r['cpus']} CPUs, load average {r['load_average']} before, "
        f"{r['load_average_after']} after, sum(range(1000)) (timeit before the run; reads the "
        f"load too) = "
        f"{r['reference_sum_range_1000_us']:.1f} us, {r['versions']}"
    )
    if "driftline" in r:
        print_in_process(r)
    if "stages" in r:
        st = r["stages"]
        yard = st["yardstick"]["median_us"]
        scale = QUIET_YARDSTICK_US / yard
        print("\n## Stages, resources and input checks (median added over a bare call)")
        print(
            f"yardstick sum(range(1000)) in the same rounds: median {yard:.1f} us "
            f"({QUIET_YARDSTICK_US} us on this machine when the bars were set)"
        )
        print(
            "| variant | median added (the bar's figure) | p99 | CPU added per call "
            f"| median added x {QUIET_YARDSTICK_US}/yardstick (not the bar) |"
        )
        print("|---|---|---|---|---|")
        keys = ["observe", "observe + 2 stages", "check 20 features"]
        keys += [k for k in ("observe + 2 stages, otel on",) if k in st]
        for key in keys:
            cpu = st[key]["cpu_us"] - st["bare"]["cpu_us"]
            print(
                f"| {key} | {added(st, key):.2f} us | {st[key]['p99_us']:.1f} us | "
                f"{cpu:.2f} us | {added(st, key) * scale:.2f} us |"
            )
        two = added(st, "observe + 2 stages") - added(st, "observe")
        two_cpu = st["observe + 2 stages"]["cpu_us"] - st["observe"]["cpu_us"]
        print(
            f"| two stages alone (observe + 2 stages - observe) | {two:.2f} us | | "
            f"{two_cpu:.2f} us | {two * scale:.2f} us |"
        )
        print(
            f"| a stage (half of that; issue 17's bar: 1 us) | {two / 2:.2f} us | | "
            f"{two_cpu / 2:.2f} us | {two / 2 * scale:.2f} us |"
        )
        print(f"stats: {st['stats']}")
    if "throughput" in r:
        pin = r["throughput"]["_pinning"]
        print(
            "\n## Shipper thread throughput, one core (shipper pinned to CPU "
            f"{pin['shipper_cpu']}, HTTP receiver in another process on CPU {pin['receiver_cpu']})"
        )
        print("| case | events | events per CPU second of the shipper thread (median [min-max]) "
              "| us per event | events per wall second (median, min) |")  # fmt: skip
        for name, t in r["throughput"].items():
            if name.startswith("_"):
                continue
            print(
                f"| {name} | {t['events']:,} x {t['runs']} | {t['events_per_cpu_second']:,.0f} "
                f"[{t['events_per_cpu_second_min']:,.0f}-{t['events_per_cpu_second_max']:,.0f}] "
                f"| {t['us_per_event_cpu']:.1f} | {t['events_per_wall_second']:,.0f}, "
                f"{t['events_per_wall_second_min']:,.0f} |"
            )
    if "outliers" in r:
        print("\n## observe() of 20 features, outlier scoring in the SDK (issue 18)")
        print("| variant | median | p99 | p99.9 | shipper CPU per event | scored, unscored |")
        print("|---|---|---|---|---|---|")
        for name, t in r["outliers"].items():
            o = t.get("outliers") or {}
            print(
                f"| {name} | {t['median_us']:.2f} us | {t['p99_us']:.1f} us | "
                f"{t['p999_us']:.1f} us | {t['shipper_cpu_us_per_event']:.1f} us | "
                f"{o.get('scored', '-')}, {o.get('unscored', '-')} |"
            )
    if "tail" in r:
        print("\n## Simulated service (200 us model), per request")
        for name, t in r["tail"].items():
            print(
                f"| {name} | median {t['median_us']:.1f} us | p99 {t['p99_us']:.1f} us | "
                f"p99.9 {t['p999_us']:.1f} us |"
            )
        print(f"collector down stats: {r['tail']['collector down'].get('stats')}")


def print_in_process(r: dict[str, Any]) -> None:
    print("\n## In-process, per observed prediction (median added over a bare call)")
    rows = [
        ("prometheus_client Counter+Histogram, .labels() per call", r["prometheus"],
         "prometheus labelled"),
        ("prometheus_client Counter+Histogram, pre-bound", r["prometheus"],
         "prometheus pre-bound"),
        ("driftline observe() (metrics + event capture, shipper on)", r["driftline"],
         "driftline observe"),
    ]  # fmt: skip
    if "peers" in r:
        rows.append(("OpenTelemetry SDK span", r["peers"]["otel"], "opentelemetry span"))
    for label, res, key in rows:
        print(
            f"| {label} | {added(res, key):.2f} us | p99 {res[key]['p99_us']:.1f} us "
            f"(bare median {res['bare']['median_us']:.2f} us) |"
        )
    print("\n## FastAPI, per request through ASGI (median added over the bare app)")
    fa = r["fastapi"]
    print(f"| bare app (driftline venv) | {fa['bare']['median_us']:.1f} us per request |")
    print(f"| driftline middleware | +{added(fa, 'driftline'):.1f} us |")
    print(f"| driftline middleware + observe() | +{added(fa, 'driftline+observe'):.1f} us |")
    if "peers" in r:
        pf = r["peers"]["fastapi"]
        print(f"| bare app (peers venv) | {pf['bare']['median_us']:.1f} us per request |")
        print(f"| prometheus-fastapi-instrumentator | +{added(pf, 'instrumentator'):.1f} us |")
        print(f"peer versions: {r['peers']['versions']}")


if __name__ == "__main__":
    main()
