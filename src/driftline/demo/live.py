"""The live demo: everything in one process, on a simulated clock faster than real time.

:class:`LiveDemo` starts the collector (embedded SQLite, uvicorn on
127.0.0.1), the dashboard, the alert engine with a local webhook receiver, and
a simulated model service instrumented with the SDK that sends real
predictions of scikit-learn classifiers over HTTP. The :class:`Story` plays,
window by window: normal operation; a challenger taking 10% of traffic; a
feature drifting at one site; a latency regression; late labels showing the
accuracy fall; alerts firing and resolving; a failed and a late pipeline run.
Beside it a RAG service (``docs_assistant``, :mod:`driftline.demo.rag`) has its own
story: a prompt change makes answers short, then questions drift out of the
knowledge base's domain, retrieval similarity falls, refusals and rephrases rise
and the judge's budget runs out.
Then normal traffic goes on until Ctrl-C (or ``duration``).
"""

from __future__ import annotations

import dataclasses
import io
import math
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from driftline.demo.command import DEFAULT_STORE
from driftline.demo.command import live_demo_command as live_demo_command
from driftline.demo.rag import PRICES, RAG, Corpus, RAGService, RAGTraffic
from driftline.demo.receiver import WebhookReceiver
from driftline.demo.service import (
    TUMOR,
    WINE,
    Classifier,
    DemoClock,
    PinnedClock,
    load_tumor,
    load_wine_data,
)

WINDOW = 60
STEP = 5.0
DRIFT_COLUMN = "mean_texture"


class SimulatedError(RuntimeError):
    """What the simulated service raises for a small share of requests."""


@dataclass(frozen=True)
class Story:
    """When each thing happens, in windows of :data:`WINDOW` simulated seconds."""

    challenger_at: int = 3
    drift: tuple[int, int] = (6, 17)
    latency: tuple[int, int] = (9, 13)
    job_failure_at: int = 11
    late_job_at: int = 15
    length: int = 24
    tumor_rate: float = 8.0  # requests per simulated second (v2's 10%: ~48 a window)
    wine_rate: float = 1.0
    #: the RAG service: a prompt change truncates answers, then questions leave its domain
    rag_short_answers: tuple[int, int] = (5, 9)
    rag_out_of_domain: tuple[int, int] = (12, 18)
    rag_rate: float = 1.0  # new sessions per simulated second

    @property
    def seconds(self) -> int:
        return self.length * WINDOW


def alerts_config(receiver_url: str, external_url: str) -> Any:
    from driftline.alerts import parse_alerts_config
    from driftline.server.config import EXPLAIN_LINK

    only_all = "[*]"  # the whole model's traffic ("*" as a pattern would match every segment)
    # every rule reads the one-minute windows (an hour window that holds the story's
    # fault would alert again an hour later) of all traffic
    where = {"segment": only_all, "window": f"{WINDOW}s"}
    return parse_alerts_config(
        {
            "rules": [
                {"name": "feature_drift", "metric": "drift_detected", "op": ">=", "threshold": 1,
                 "for": 2, "keep_firing_for": 1, "severity": "warning", "team": "ml", **where,
                 "annotations": {"summary": "{{ $labels.column }} of {{ $labels.model }} "
                                 "{{ $labels.version }} drifted"}},
                # the classifiers' budget (the RAG service generates text for about a second)
                {"name": "p99_latency", "metric": "latency_p99_seconds", "op": ">",
                 "threshold": 0.25, "for": 2, "keep_firing_for": 1, "severity": "critical",
                 "team": "ops", "model": [TUMOR, WINE], **where,
                 "annotations": {"summary": "p99 latency of {{ $labels.model }} "
                                 "{{ $labels.version }} is {{ $value | humanizeDuration }} "
                                 "(budget 250ms)"}},
                {"name": "accuracy_low", "metric": "accuracy", "op": "<", "threshold": 0.9,
                 "for": 2, "keep_firing_for": 1, "severity": "warning", "team": "ml",
                 "model": TUMOR, **where,
                 "annotations": {"summary": "accuracy of {{ $labels.model }} "
                                 "{{ $labels.version }} fell to "
                                 "{{ $value | humanizePercentage }} (labels)"}},
                {"name": "error_rate", "metric": "error_rate", "op": ">", "threshold": 0.02,
                 "for": 2, "severity": "critical", "team": "ops", **where},
            ],
            "presets": {
                "rag_retrieval_low": {"model": RAG, **where},
                # a 4-window baseline: the preset's 12 windows are longer than the demo's story
                # before its first fault
                "answer_length_drop": {"model": RAG, "baseline_windows": 4, **where},
                "rephrase_rate_high": {"model": RAG, **where},
                # the preset as shipped (mean judge score under 0.6 for two windows, at least 5
                # scores): the demo's relevance is 0.75-0.95 in quiet windows, 0.1-0.5 out of domain
                "judge_score_low": {"model": RAG, **where},
                # a few skips a minute are the budget working; many mean judging stopped
                "judge_skipping": {"model": RAG, "threshold": 5, **where},
            },
            "receivers": [{"name": "demo-webhook", "webhook": {"url": receiver_url, "format": "json"}}],  # noqa: E501
            "route": {"receiver": "demo-webhook", "group_by": ["alertname", "model"],
                      "group_wait": "10s", "group_interval": "1m", "repeat_interval": "1h"},
            "inhibit_rules": [],
            "external_url": external_url,
            # each notification links to the view that explains it (as `serve --config` does)
            "dashboard_url": external_url + EXPLAIN_LINK,
        }
    )  # fmt: skip


class LiveDemo:
    """The demo's parts; :meth:`start`, then :meth:`run_for`, then :meth:`stop`."""

    def __init__(
        self,
        *,
        port: int = 8080,
        store_url: str | None = None,
        speed: float = 15.0,
        story: Story | None = None,
        seed: int = 0,
        out: Callable[[str], None] = print,
    ) -> None:
        self.port = port
        self.store_url = store_url
        self.speed = speed
        self.story = story or Story()
        self.rng = np.random.default_rng(seed)
        #: the stages' own draws, so the story's traffic stays what it was without them
        self.stage_rng = np.random.default_rng(seed + 1)
        # feedback, KPIs and job numbers draw from their own stream: the story's traffic
        # (and so its quiet stretches) stays what it was before they were added
        self.extra = np.random.default_rng(seed + 2)
        #: the RAG service's own stream, so the classifiers' story is the same with or without it
        self.rag_rng = np.random.default_rng(seed + 2)
        #: the RAG service's reference questions
        self.rag_ref_rng = np.random.default_rng(seed + 3)
        self.out = out
        self.started = False
        self._labels: deque[tuple[float, Any, str, str]] = deque()
        self._said: set[str] = set()
        self._i = 0
        self._looked = -1

    # -- start and stop ---------------------------------------------------------------------
    def start(self) -> str:
        """Train the models, start the collector and dashboard; return the dashboard URL."""
        from prometheus_client import CollectorRegistry, start_http_server

        from driftline.server import Settings, create_app
        from driftline.server.auth import create_key
        from driftline.server.dashboard import mount_dashboard
        from driftline.store import open_store
        from driftline.windows import WindowConfig

        self.tumor, self.wine = load_tumor(), load_wine_data()
        self.rag_service = RAGService(Corpus.load())
        self.models = {
            "v1": Classifier(self.tumor, c=1.0),
            "v2": Classifier(self.tumor, c=0.3),
            "wine": Classifier(self.wine, c=1.0),
        }
        self.start_time = float(math.floor((time.time() - self.story.seconds) / 3600) * 3600)
        self.clock = DemoClock(self.start_time)
        #: the RAG service's clock: moved once a step, after its judge caught up (settle_judges)
        self.rag_clock = DemoClock(self.start_time)
        url = self.store_url or f"sqlite:///{DEFAULT_STORE}"
        if self.store_url is None:
            Path(DEFAULT_STORE).parent.mkdir(parents=True, exist_ok=True)
            for suffix in ("", "-wal", "-shm"):
                Path(DEFAULT_STORE + suffix).unlink(missing_ok=True)
        self.store = open_store(url)
        self.admin_key, _ = create_key(self.store, self.clock, name="demo-admin", scopes=("admin",))
        ingest_key, _ = create_key(self.store, self.clock, name="demo-service", scopes=("ingest",))
        from driftline._utils.llm import PriceTable
        from driftline.windows.evaluator import EvaluatorOptions
        from driftline.windows.llm import LLMOptions

        self.settings = Settings(
            evaluator=EvaluatorOptions(llm=LLMOptions(prices=PriceTable.from_mapping(PRICES))),
            windows=WindowConfig(
                sizes=(WINDOW, 3600), grace_seconds=10, checkpoint_seconds=30,
                segment_keys=("site",),
            ),
            max_inflight=64,
        )  # fmt: skip
        from driftline._utils.llm import PriceTable

        # compute prices, so the model pages show cost per 1,000 predictions and per day
        prices = PriceTable.from_mapping({"currency": "USD", "cpu_hour": 0.05, "daily_budget": 5})
        options = dataclasses.replace(self.settings.evaluator, costs=prices)
        self.settings = dataclasses.replace(self.settings, evaluator=options)
        self.sock = _bind(self.port)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.receiver = WebhookReceiver(self.clock.time).start()
        # the collector runs the alert engine itself, as `driftline serve --config` does
        self.app = create_app(
            self.settings, self.store, self.clock, background=False, dashboard=False,
            alerts=alerts_config(self.receiver.url, f"{self.url}/ui"),
        )  # fmt: skip
        self.collector = self.app.state.collector
        self.engine = self.collector.alerts.engine
        self.registry = CollectorRegistry()
        # the model service's own Prometheus metrics (the SDK's), as a real service exposes them
        self.metrics_server, self.metrics_thread = start_http_server(
            0, addr="127.0.0.1", registry=self.registry
        )
        self.service_metrics_url = f"http://127.0.0.1:{self.metrics_server.server_port}/metrics"
        self.dashboard = mount_dashboard(
            self.app, self.store, self.settings, self.clock,
            alerts=self.engine, inbox=self.receiver.messages,
        )  # fmt: skip
        self._serve()
        self._upload_references()
        self._monitors(ingest_key)
        self.started = True
        self.sign_in_url = f"{self.url}/ui/login/{self.dashboard.access.link_for(self.admin_key)}"
        return self.url

    def _serve(self) -> None:
        import uvicorn

        config = uvicorn.Config(self.app, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the demo collector did not start within 15 s")
            time.sleep(0.02)

    def _upload_references(self) -> None:
        import httpx
        import pyarrow as pa
        import pyarrow.parquet as pq
        import sklearn

        auth = {"Authorization": f"Bearer {self.admin_key}"}
        deps = {"scikit-learn": sklearn.__version__, "numpy": np.__version__}
        plan = [
            (TUMOR, "v1", self.tumor, self.models["v1"], "2025-10-01"),
            (TUMOR, "v2", self.tumor, self.models["v2"], "2025-12-15"),
            (WINE, "v3", self.wine, self.models["wine"], "2025-09-01"),
        ]
        with httpx.Client(base_url=self.url, headers=auth, timeout=30) as client:
            for model, version, data, clf, when in plan:
                # features, the true class and the model's class probabilities on the
                # training split: with a target and scores the collector estimates
                # accuracy (CBPE) for windows whose labels have not arrived yet
                table: dict[str, list[Any]] = dict(data.reference())
                proba = clf.predict_proba(data.x[data.train])
                table["outcome"] = [data.classes[k] for k in data.y[data.train]]
                scores = [f"p_{c}" for c in data.classes]
                for k, name in enumerate(scores):
                    table[name] = proba[:, k].tolist()
                buf = io.BytesIO()
                pq.write_table(pa.table(table), buf)
                path = f"/v1/models/{model}/versions/{version}"
                roles = {"target": "outcome", "scores": ",".join(scores)}
                r = client.put(f"{path}/reference", content=buf.getvalue(), params=roles)
                r.raise_for_status()
                meta = {
                    "task": "classification", "owner": "ml-team",
                    "training_data": f"sklearn.datasets:{data.name} (80% split)",
                    "training_data_version": when, "hyperparameters": clf.hyperparameters(),
                    "dependencies": deps, "deployed_at": when,
                }  # fmt: skip
                client.put(f"{path}/metadata", json=meta).raise_for_status()
            # the RAG service's reference: quiet-time questions, as text and embeddings
            import driftline
            from driftline.demo.rag import REFERENCE_SCHEMA, reference

            rows = reference(self.rag_service.corpus, self.rag_ref_rng)
            saved = driftline.profile(rows, schema=REFERENCE_SCHEMA, seed=0).to_bytes()
            r = client.put(f"/v1/models/{RAG}/versions/v1/reference", content=saved)
            r.raise_for_status()

    def _monitors(self, key: str) -> None:
        from driftline.sdk import Monitor, Router

        common: dict[str, Any] = {
            "sink": self.url, "api_key": key, "clock": self.clock, "registry": self.registry,
            "flush_interval": 0.05,
        }  # fmt: skip
        self.tumor_mon = Monitor(model=TUMOR, version="v1", **common)
        self.wine_mon = Monitor(model=WINE, version="v3", **common)
        self.job_clock = PinnedClock(self.start_time)
        self.jobs_mon = Monitor(
            model="pipelines", version="v1", sink=self.url, api_key=key,
            clock=self.job_clock, registry=self.registry, flush_interval=0.05,
            send_runtime=False,  # reports job runs only: no model version to diff
        )  # fmt: skip
        from driftline.sdk import Judge, JudgeBudget
        from driftline.sdk.judges import overlap_scorer

        # a quarter of the requests (all suspicious ones) under 30 calls a minute: quiet
        # windows stay under budget, out-of-domain ones (every request suspicious) run out
        judge = Judge(
            "lexical", overlap_scorer, version="2026-12", rate=0.25, suspicious_weight=6.0,
            budget=JudgeBudget(calls_per_minute=30), concurrency=2, timeout=5.0,
        )  # fmt: skip
        self.rag_mon = Monitor(
            model=RAG, version="v1", judges=[judge], prices=PRICES,
            **{**common, "clock": self.rag_clock},
        )  # fmt: skip
        # the request ids are the story's (ask-1, ...: the judge samples the same requests
        # every run); a store kept from an earlier run (--store) already holds those
        prefix, run = "", 1
        while self.store.prediction_windows(RAG, [f"{prefix}ask-1"]):
            run += 1
            prefix = f"run{run}-"
        self.rag = RAGTraffic(self.rag_mon, self.rag_service, self.rag_clock.spend, prefix)
        fns = {v: self._version_fn(v) for v in ("v1", "v2")}
        self.router = Router(self.tumor_mon, {"v1": fns["v1"]})
        self.challenger = Router(self.tumor_mon, fns, weights={"v1": 0.9, "v2": 0.1})

    def stop(self) -> None:
        if not self.started:
            return
        self.started = False
        for mon in (self.tumor_mon, self.wine_mon, self.jobs_mon, self.rag_mon):
            mon.close(timeout=5)
        self.router.close()
        self.challenger.close()
        self.server.should_exit = True
        self.thread.join(timeout=15)
        self.sock.close()
        self.receiver.stop()
        self.metrics_server.shutdown()
        self.metrics_server.server_close()
        self.metrics_thread.join(timeout=5)
        self.store.close()

    # -- the simulation --------------------------------------------------------------------------
    @property
    def window(self) -> int:
        return int((self.clock.time() - self.start_time) // WINDOW)

    def _say(self, key: str, text: str) -> None:
        if key not in self._said:
            self._said.add(key)
            stamp = time.strftime("%H:%M", time.gmtime(self.clock.time()))
            self.out(f"  [{stamp} simulated] {text}")

    def _version_fn(self, version: str) -> Callable[[dict[str, float]], Any]:
        from driftline.sdk import Prediction

        classes = self.tumor.classes
        mon = self.tumor_mon

        @mon.stage("feature_store")  # stages of the prediction (docs/service.md)
        def fetch(i: int) -> None:
            self.clock.spend(float(self._fetch[i]))
            if self._fail[i]:
                raise SimulatedError("feature store timed out")

        @mon.stage("model")
        def score(i: int) -> None:
            self.clock.spend(float(self._latency[version][i]))

        def predict(features: dict[str, float]) -> Any:
            i = self._i
            fetch(i)
            score(i)
            p = self._proba[version][i]
            top = int(np.argmax(p))
            return Prediction(classes[top], scores={c: float(p[k]) for k, c in enumerate(classes)})

        return predict

    def step(self) -> None:
        """One step of :data:`STEP` simulated seconds of traffic, then evaluate and alert."""
        s, w, t0 = self.story, self.window, self.clock.time()
        drifting = s.drift[0] <= w < s.drift[1]
        slow = s.latency[0] <= w < s.latency[1]
        self._narrate(w)
        n = max(1, int(self.rng.poisson(s.tumor_rate * STEP)))
        x, y = self.tumor.rows(self.rng, n)
        sites = self.rng.choice(np.array(["north", "south"]), n, p=[0.5, 0.5])
        if drifting:  # site north's new scanner has more contrast: texture reads higher
            col = self.tumor.columns.index(DRIFT_COLUMN)
            ramp = min(1.0, (w - s.drift[0] + 1) / 2)
            x[sites == "north", col] += 2.5 * ramp * self.tumor.x[:, col].std()
        self._proba = {v: self.models[v].predict_proba(x) for v in ("v1", "v2")}
        base = self.rng.lognormal(math.log(0.012), 0.35, n)
        self._latency = {"v1": base * (14.0 if slow else 1.0), "v2": base * 1.3}
        self._fetch = self.stage_rng.lognormal(math.log(0.004), 0.3, n)  # the feature store's share
        self._fail = self.rng.random(n) < 0.003
        router = self.challenger if w >= s.challenger_at else self.router
        for i in range(n):
            self._i = i
            self.clock.set(t0 + STEP * i / max(n, 1))
            features = dict(zip(self.tumor.columns, x[i].tolist(), strict=True))
            try:
                routed = router.predict(
                    features, key=f"patient-{self.rng.integers(1_000_000)}",
                    segment={"site": str(sites[i])},
                )  # fmt: skip
            except SimulatedError:
                continue
            if self.rng.random() < 0.7:  # most diagnoses are confirmed, two minutes later
                due = self.clock.time() + 2 * WINDOW
                self._labels.append(
                    (due, self.tumor_mon, routed.prediction_id, self.tumor.classes[int(y[i])])
                )
            if self.extra.random() < 0.2:  # the radiologist's verdict and review time
                agreed = routed.prediction == self.tumor.classes[int(y[i])]
                pid, version = routed.prediction_id, routed.version
                self.tumor_mon.feedback(pid, "override", not agreed, version=version)
                minutes = float(self.extra.gamma(4.0, 1.5 if agreed else 4.0))
                self.tumor_mon.kpi("review_minutes", minutes, prediction_id=pid, version=version)
        self._wine(t0)
        self._rag(t0, w)
        while self._labels and self._labels[0][0] <= t0 + STEP:
            _, mon, pid, label = self._labels.popleft()
            mon.label(pid, label)
        self._jobs(t0)
        self.clock.set(t0 + STEP)
        grace = self.settings.windows.grace_seconds
        if math.floor((t0 - grace) / WINDOW) != math.floor((t0 + STEP - grace) / WINDOW):
            self.evaluate()
        else:
            self.collector.alerts.run()  # group waits and intervals run on the simulated clock

    def settle_judges(self) -> None:
        """Return once the RAG service's judge has taken every request sent so far.

        The judge samples (a rephrase within two minutes), admits to its budget (calls in
        the sliding minute) and records each request at the time its threads read on the
        service's simulated clock. Left to run on, the simulation moved that clock ahead of
        them, the further the more loaded the machine: one window's backlog was admitted in
        the next as a burst and ran out of budget in a quiet window. The service's clock
        (:attr:`rag_clock`) moves on only after this, so the judge sees each request at
        its simulated time, whatever the load.
        """
        judges = self.rag_mon.judges
        if judges is None:
            return
        self.rag_mon.flush(timeout=0)  # wakes the shipper now; the delivery goes on meanwhile
        judges.wait_offered(self.rag.n, 10)  # the shipper handed every request to the judge ...
        judges.drain(10)  # ... which judged them and recorded its results

    def evaluate(self) -> None:
        """Deliver what the service sent; the collector evaluates closed windows and alerts."""
        self.settle_judges()  # the judges' last results are queued: delivered below
        for mon in (self.tumor_mon, self.wine_mon, self.jobs_mon, self.rag_mon):
            mon.flush(timeout=10)
        self.collector.tick()

    def _wine(self, t0: float) -> None:
        n = int(self.rng.poisson(self.story.wine_rate * STEP))
        if n == 0:
            return
        x, y = self.wine.rows(self.rng, n)
        proba = self.models["wine"].predict_proba(x)
        lat = self.rng.lognormal(math.log(0.006), 0.3, n)
        for i in range(n):
            self.clock.set(t0 + STEP * i / max(n, 1))
            with self.wine_mon.observe(
                dict(zip(self.wine.columns, x[i].tolist(), strict=True))
            ) as obs:
                with obs.stage("preprocess"):
                    self.clock.spend(float(lat[i]) * 0.25)
                with obs.stage("classify"):
                    self.clock.spend(float(lat[i]) * 0.75)
                top = int(np.argmax(proba[i]))
                obs.record(
                    prediction=self.wine.classes[top],
                    scores={c: float(proba[i][k]) for k, c in enumerate(self.wine.classes)},
                )
            if self.rng.random() < 0.5:
                due = self.clock.time() + 3 * WINDOW
                self._labels.append(
                    (due, self.wine_mon, obs.prediction_id, self.wine.classes[int(y[i])])
                )
            if self.extra.random() < 0.4:  # tasters rate the recommendation
                good = top == int(y[i])
                self.wine_mon.feedback(obs.prediction_id, "thumbs", "up" if good else "down")

    def _rag(self, t0: float, w: int) -> None:
        """The RAG service's traffic; its story sets answer length and out-of-domain share."""
        s = self.story
        short = s.rag_short_answers[0] <= w < s.rag_short_answers[1]
        self.rag_service.max_words = 10 if short else 45
        lo, hi = s.rag_out_of_domain
        ood = 0.03
        if lo <= w < hi:
            ood = min(0.7, 0.3 + 0.15 * (w - lo))
        # the judge caught up with the last step's requests while this step's other traffic
        # was made; only then does the service's clock move on, once for the step's requests
        self.settle_judges()
        self.rag_clock.set(self.clock.time())
        self.rag.step(self.rag_rng, t0, STEP, s.rag_rate, ood, lambda t: None)

    def _jobs(self, t0: float) -> None:
        """``feature_refresh`` every 5 simulated minutes: one failure, one late run."""
        period = 5 * WINDOW
        slot = math.floor((t0 + STEP) / period) * period
        if not t0 < slot + 40 <= t0 + STEP:
            return
        w = int((slot - self.start_time) // WINDOW)
        late = 240.0 if abs(w - self.story.late_job_at) < 3 else float(self.rng.uniform(2, 20))
        fail = abs(w - self.story.job_failure_at) < 3
        self.job_clock.now = slot + late
        try:
            with self.jobs_mon.job("feature_refresh", scheduled_at=slot, every=period) as run:
                run.rows(rows_in=int(self.rng.integers(9_000, 11_000)))
                # the scans table it reads is filled by the scanners' export, a few minutes behind
                run.freshness(slot - float(self.extra.uniform(60, 180)))
                run.metric("scans_lag_seconds", float(self.extra.uniform(60, 180)))
                run.metric("documents_scans", float(self.extra.integers(9_000, 11_000)))
                self.job_clock.now = slot + late + float(self.rng.uniform(25, 40))
                if fail:
                    raise SimulatedError("source table tumor_scans is locked")
                run.rows(rows_out=int(self.rng.integers(8_800, 9_000)))
        except SimulatedError:
            pass

    def _narrate(self, w: int) -> None:
        s = self.story
        self._say("start", "normal operation: tumor_classifier v1 serves all traffic")
        if w >= s.challenger_at:
            self._say("challenger", "challenger tumor_classifier v2 now takes 10% of traffic")
        if w >= s.drift[0]:
            self._say("drift", f"site north's new scanner: {DRIFT_COLUMN} reads higher (drift)")
        if w >= s.latency[0]:
            self._say("slow", "v1 latency regression (a slow feature lookup)")
        if w >= s.latency[1]:
            self._say("fast", "latency back to normal")
        if w >= s.drift[1]:
            self._say("fixed", "scanner recalibrated: the drift ends")
        if w >= s.rag_short_answers[0]:
            self._say("rag-short", f"{RAG}: a prompt change truncates answers (shorter answers)")
        if w >= s.rag_short_answers[1]:
            self._say("rag-long", f"{RAG}: the prompt change is rolled back")
        if w >= s.rag_out_of_domain[0]:
            self._say("rag-ood", f"{RAG}: users ask about data sets, not Python: out of domain "
                      "(retrieval similarity falls, refusals and rephrases rise)")  # fmt: skip
        if w >= s.rag_out_of_domain[1]:
            self._say("rag-back", f"{RAG}: questions are back in the documentation's domain")
        if w >= s.length:
            self._say("end", "the story is over; normal traffic goes on")

    def run_for(
        self,
        seconds: float | None,
        *,
        pace: bool = True,
        every_window: Callable[[LiveDemo, int], None] | None = None,
    ) -> None:
        """Simulate ``seconds`` (forever if None), at :attr:`speed` x real time when ``pace``;
        ``every_window(demo, w)`` is called as each window ``w`` begins (a test looks then)."""
        start_sim, start_real = self.clock.time(), time.monotonic()
        while seconds is None or self.clock.time() - start_sim < seconds:
            if every_window is not None and self.window != self._looked:
                self._looked = self.window
                every_window(self, self.window)
            self.step()
            if pace and self.speed > 0:
                ahead = (self.clock.time() - start_sim) / self.speed - (
                    time.monotonic() - start_real
                )
                if ahead > 0:
                    time.sleep(min(ahead, 5.0))


def _bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError:
        sock.bind(("127.0.0.1", 0))  # the port is taken: any free one
    return sock


def run(
    port: int = 8080,
    duration: float | None = None,
    *,
    speed: float = 15.0,
    once: bool = False,
    store_url: str | None = None,
    story: Story | None = None,
    out: Callable[[str], None] = print,
    before_stop: Callable[[LiveDemo], None] | None = None,
    every_window: Callable[[LiveDemo, int], None] | None = None,
) -> LiveDemo:
    """Run the live demo until Ctrl-C, ``duration`` simulated seconds or the story's end (``once``).

    ``before_stop`` is called with the demo (still serving) when a bounded run ends;
    ``every_window`` as each window begins.
    """
    demo = LiveDemo(port=port, store_url=store_url, speed=speed, story=story, out=out)
    out("driftline live demo: training the models and starting the collector ...")
    url = demo.start()
    out(f"\n  Dashboard:  {url}\n  Sign in:    {demo.sign_in_url}   (or paste the key below)")
    out(f"  Admin key:  {demo.admin_key}")
    out(
        f"  Prometheus: scrape {url}/metrics (bearer: the admin key) and the model service's "
        f"{demo.service_metrics_url}"
    )
    out(f"  Simulated time runs {speed:g}x faster than real time; the story takes "
        f"{demo.story.seconds / max(speed, 1e-9) / 60:.1f} minutes. Ctrl-C stops.\n")  # fmt: skip
    try:
        limit = demo.story.seconds if once else duration
        demo.run_for(limit, every_window=every_window)
        if before_stop is not None:
            before_stop(demo)
        if limit is not None:
            out("driftline live demo: done.")
    except Terminated:
        out("\ndriftline live demo: stopping (SIGTERM) ...")
    except KeyboardInterrupt:
        out("\ndriftline live demo: stopping ...")
    finally:
        demo.stop()
    return demo


class Terminated(KeyboardInterrupt):
    """SIGTERM reached the demo (``driftline live-demo``): it stops as on Ctrl-C, saying so."""


if __name__ == "__main__":  # python -m driftline.demo.live
    run(once="--once" in sys.argv)
