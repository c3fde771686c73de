"""LLM-as-judge, off the request path, with enforced budgets (docs/llm.md, "Judges").

A :class:`Judge` is a name, a version and a scorer: any callable
``scorer(question, answer, contexts) -> mapping`` or the URL of an HTTP endpoint
(:class:`HTTPJudge`) answering ``{"scores": {criterion: number}, "prompt_tokens":
n, "completion_tokens": n}``. The :class:`JudgeRunner` of a Monitor gets each
LLM request on the shipper thread, never on the request path, and:

1. samples it deterministically: judged when ``sample_point(prediction_id)`` (a
   hash) is below the judge's rate, times ``suspicious_weight`` for suspicious
   traffic (low retrieval similarity, empty or refused answer, a rephrase in the
   same session, a thumbs-down, out-of-domain as the app flags it). Judges with
   the same weights nest: a 1 % judge's sample is inside a 10 % judge's;
2. runs cheap checks first: an empty or refused answer is recorded as
   ``prechecked`` with no judge call;
3. enforces the budget before each call (calls per minute, tokens and money per
   UTC day, money from the same :class:`~driftline._utils.llm.PriceTable` as
   token cost; ``tokens_per_call`` is reserved per call in flight, so the day's
   tokens never pass the budget as long as a call uses no more than that);
4. calls the scorer on one of ``concurrency`` worker threads with a ``timeout``: a
   judge that raises, hangs or answers garbage costs one counted result.

Every outcome is sent as feedback of kind ``judge.<name>`` on the prediction
(``status``: scored, failed, timeout, invalid, skipped, prechecked; ``reason``),
counted in ``driftline_sdk_judge_results_total``, and becomes the collector's
``judge.*`` points.
"""

from __future__ import annotations

import json
import math
import queue
import threading
import urllib.error
import urllib.request
import weakref
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter

from driftline._utils.llm import PriceTable, cosine, sample_point, word_jaccard
from driftline.sdk.errors import JudgeError, SDKConfigError
from driftline.sdk.llm import LLMCall, judge_inputs, suspicious

if TYPE_CHECKING:
    from driftline.sdk.monitor import Monitor
    from driftline.sdk.observation import Observation

Scorer = Callable[[str, str, list[str]], Any]
STATUSES = ("scored", "failed", "timeout", "invalid", "skipped", "prechecked")
#: Recent LLM requests kept to judge on a later thumbs-down, and sessions for rephrases.
RECENT = 10_000


@dataclass(frozen=True)
class JudgeBudget:
    """Hard limits of one judge; None: no limit of that kind."""

    calls_per_minute: float | None = None
    tokens_per_day: int | None = None
    cost_per_day: float | None = None


class HTTPJudge:
    """A scorer that POSTs ``{"question", "answer", "contexts"}`` as JSON to ``url``."""

    def __init__(
        self, url: str, *, headers: Mapping[str, str] | None = None, timeout: float = 30.0
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise SDKConfigError(f"HTTPJudge url {url!r} must start with http:// or https://")
        self.url = url
        self.headers = {"Content-Type": "application/json", **(headers or {})}
        self.timeout = timeout

    def __call__(self, question: str, answer: str, contexts: list[str]) -> Any:
        body = json.dumps({"question": question, "answer": answer, "contexts": contexts})
        req = urllib.request.Request(
            self.url, data=body.encode(), headers=self.headers, method="POST"
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                raw = resp.read(1_000_000)
        except urllib.error.HTTPError as exc:
            code = exc.code
            exc.close()
            raise JudgeError(f"http_{code}") from None
        try:
            return json.loads(raw)
        except ValueError:
            raise _invalid("not_json") from None


def overlap_scorer(question: str, answer: str, contexts: list[str]) -> dict[str, Any]:
    """A deterministic, lexical judge (no LLM): ``faithfulness`` is the share of the answer's
    content words found in the contexts, ``relevance`` the share of the question's content
    words the answer uses; tokens are the words read and written. A cheap baseline, and
    the local judge of driftline's tests and demo."""
    from driftline._utils.llm import content_words, word_count

    a, q = content_words(answer), content_words(question)
    seen: set[str] = set()
    for c in contexts:
        seen |= content_words(c)
    return {
        "scores": {
            "faithfulness": len(a & seen) / len(a) if a else 0.0,
            "relevance": len(q & a) / len(q) if q else 0.0,
        },
        "prompt_tokens": word_count(question)
        + sum(word_count(c) for c in contexts)
        + word_count(answer),
        "completion_tokens": 2,
    }


def _invalid(reason: str) -> JudgeError:
    return JudgeError(reason, invalid=True)


class Judge:
    """One judge: see the module documentation for what each option does."""

    def __init__(
        self,
        name: str,
        scorer: Scorer | str,
        *,
        version: str = "v1",
        rate: float = 0.1,
        budget: JudgeBudget | None = None,
        model: str | None = None,
        tokens_per_call: int = 0,
        concurrency: int = 2,
        timeout: float = 30.0,
        queue_size: int = 1000,
        suspicious_weight: float = 1.0,
        low_similarity: float = 0.5,
        criteria: Sequence[str] | None = None,
        score_range: tuple[float, float] = (0.0, 1.0),
        prechecks: bool = True,
    ) -> None:
        import re

        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.:@+-]{0,100}", name):
            raise SDKConfigError(
                f"judge name {name!r}: 1 to 101 letters, digits and _.:@+- starting with a "
                "letter or digit"
            )
        if not 0 <= rate <= 1:
            raise SDKConfigError(f"judge {name!r}: rate={rate} must be in [0, 1]")
        if concurrency < 1 or timeout <= 0 or queue_size < 1 or suspicious_weight < 1:
            raise SDKConfigError(
                f"judge {name!r}: concurrency >= 1, timeout > 0, queue_size >= 1 and "
                "suspicious_weight >= 1 are required"
            )
        self.name = name
        self.version = version
        self.scorer: Scorer = (
            HTTPJudge(scorer, timeout=timeout) if isinstance(scorer, str) else scorer
        )
        self.rate = rate
        self.budget = budget or JudgeBudget()
        self.model = model
        self.tokens_per_call = max(0, int(tokens_per_call))
        self.concurrency = concurrency
        self.timeout = timeout
        self.queue_size = queue_size
        self.suspicious_weight = suspicious_weight
        self.low_similarity = low_similarity
        self.criteria = tuple(criteria) if criteria is not None else None
        self.score_range = score_range
        self.prechecks = prechecks

    def sampled(self, prediction_id: str, weight: float = 1.0) -> bool:
        """True when this judge looks at ``prediction_id`` (deterministic; see the module)."""
        return sample_point(prediction_id) < min(1.0, self.rate * weight)

    def parse(self, result: Any) -> tuple[dict[str, float], int, int]:
        """``(scores, prompt tokens, completion tokens)`` of a scorer's answer; raises
        :class:`JudgeError` (``invalid``) naming what is wrong."""
        if not isinstance(result, Mapping):
            raise _invalid(f"not_a_mapping:{type(result).__name__}")
        raw = result.get("scores", result)
        if not isinstance(raw, Mapping) or not raw:
            raise _invalid("no_scores")
        lo, hi = self.score_range
        scores: dict[str, float] = {}
        for k, v in raw.items():
            if k in ("prompt_tokens", "completion_tokens"):
                continue
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise _invalid(f"score_not_a_number:{str(k)[:40]}")
            if not lo <= v <= hi:
                raise _invalid(f"score_out_of_range:{str(k)[:40]}")
            scores[str(k)[:64]] = float(v)
        if not scores:
            raise _invalid("no_scores")
        if self.criteria is not None:
            missing = [c for c in self.criteria if c not in scores]
            if missing:
                raise _invalid(f"missing_criteria:{','.join(missing)[:60]}")
        tokens = []
        for key in ("prompt_tokens", "completion_tokens"):
            t = result.get(key, 0)
            if isinstance(t, bool) or not isinstance(t, int | float) or not t >= 0:
                raise _invalid(f"bad_{key}")
            tokens.append(int(t))
        return scores, tokens[0], tokens[1]


_COUNTERS: weakref.WeakKeyDictionary[CollectorRegistry, Counter] = weakref.WeakKeyDictionary()
_COUNTERS_LOCK = threading.Lock()


def _counter(registry: CollectorRegistry) -> Counter:
    with _COUNTERS_LOCK:
        c = _COUNTERS.get(registry)
        if c is None:
            c = Counter(
                "driftline_sdk_judge_results",
                "Judge outcomes of sampled LLM requests, by status "
                "(scored, failed, timeout, invalid, skipped, prechecked).",
                ["model", "judge", "status"],
                registry=registry,
            )
            _COUNTERS[registry] = c
        return c


@dataclass
class _Task:
    prediction_id: str
    version: str
    call: LLMCall
    why: list[str]


class _Budget:
    """Spending of one judge: calls in the last minute, tokens and money of the UTC day."""

    def __init__(self, judge: Judge, prices: PriceTable) -> None:
        self.judge = judge
        self.prices = prices
        self.calls: deque[float] = deque()
        self.day = -1
        self.tokens = 0
        self.cost = 0.0
        self.reserved_tokens = 0
        self.reserved_cost = 0.0
        self.lock = threading.Lock()

    def _reserve_cost(self) -> float:
        price = self.prices.prices.get(self.judge.model or "")
        if price is None:
            return 0.0
        per = max(price.prompt_per_million, price.completion_per_million)
        return self.judge.tokens_per_call * per / 1e6

    def admit(self, now: float) -> str | None:
        """Reserve one call now; the reason it is refused (``budget_calls`` ...), else None."""
        b = self.judge.budget
        with self.lock:
            day = int(now // 86400)
            if day != self.day:
                self.day, self.tokens, self.cost = day, 0, 0.0
            while self.calls and now - self.calls[0] >= 60.0:
                self.calls.popleft()
            if b.calls_per_minute is not None and len(self.calls) + 1 > b.calls_per_minute:
                return "budget_calls"
            want_t = self.judge.tokens_per_call
            if b.tokens_per_day is not None and (
                self.tokens + self.reserved_tokens + max(want_t, 1) > b.tokens_per_day
            ):
                return "budget_tokens"
            want_c = self._reserve_cost()
            if b.cost_per_day is not None:
                if self.judge.model and self.judge.model not in self.prices.prices:
                    return "budget_unpriced"
                if self.cost + self.reserved_cost + want_c > b.cost_per_day or (
                    self.cost >= b.cost_per_day
                ):
                    return "budget_cost"
            self.calls.append(now)
            self.reserved_tokens += want_t
            self.reserved_cost += want_c
            return None

    def settle(self, now: float, prompt: int, completion: int) -> float | None:
        """Release the call's reservation and book what it used; its cost (None: unpriced)."""
        cost = self.prices.cost(self.judge.model, prompt, completion)
        with self.lock:
            self.reserved_tokens -= self.judge.tokens_per_call
            self.reserved_cost -= self._reserve_cost()
            if int(now // 86400) == self.day:
                self.tokens += prompt + completion
                self.cost += cost or 0.0
        return cost


class JudgeRunner:
    """The judges of one Monitor: sampling on the shipper thread, calls on worker threads."""

    def __init__(self, monitor: Monitor, judges: Sequence[Judge], prices: PriceTable) -> None:
        names = [j.name for j in judges]
        if len(set(names)) != len(names):
            raise SDKConfigError(f"judge names must be unique, got {names}")
        self.monitor = monitor
        self.judges = list(judges)
        self.prices = prices
        self.counter = _counter(monitor.registry)
        self._recent: OrderedDict[str, tuple[str, LLMCall, list[str]]] = OrderedDict()
        self._sessions: OrderedDict[str, tuple[float, str, list[float] | None]] = OrderedDict()
        self._judged: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._lock = threading.Lock()
        #: LLM requests the shipper has offered so far, sampled or not (see wait_offered)
        self.offered = 0
        self._offers = threading.Condition()
        self._stopping = threading.Event()
        self._queues: dict[str, queue.Queue[_Task | None]] = {}
        self._budgets = {j.name: _Budget(j, prices) for j in judges}
        self._hung = dict.fromkeys(names, 0)
        self._threads: list[threading.Thread] = []
        #: results by status, per judge (also in driftline_sdk_judge_results_total)
        self.results: dict[str, dict[str, int]] = {n: dict.fromkeys(STATUSES, 0) for n in names}
        for j in self.judges:
            q: queue.Queue[_Task | None] = queue.Queue(j.queue_size)
            self._queues[j.name] = q
            for i in range(j.concurrency):
                t = threading.Thread(
                    target=self._work, args=(j, q), daemon=True,
                    name=f"driftline-judge-{j.name}-{i}",
                )  # fmt: skip
                t.start()
                self._threads.append(t)

    # -- on the shipper thread ---------------------------------------------------------------
    def offer(self, obs: Observation, llm: Mapping[str, Any]) -> None:
        """Sample one encoded LLM request for each judge (never blocks, never raises)."""
        try:
            self._offer(obs, llm)
        finally:
            with self._offers:  # counted once its tasks are queued: a drain() then sees them
                self.offered += 1
                self._offers.notify_all()

    def wait_offered(self, n: int, timeout: float) -> bool:
        """Wait until ``n`` LLM requests were offered in all (False if ``timeout`` passed
        first); then :meth:`drain` waits for their judging. The live demo keeps its
        simulated clock in step with the judges this way, without waiting for delivery."""
        with self._offers:
            return self._offers.wait_for(lambda: self.offered >= n, timeout)

    def _offer(self, obs: Observation, llm: Mapping[str, Any]) -> None:
        call = obs.llm
        if call is None or obs.status != "ok" or obs.shadow:
            return
        pid = obs.prediction_id
        why = suspicious(call, min(j.low_similarity for j in self.judges))
        if self._rephrased(call, llm):
            why.append("rephrased")
        tags = obs.tags or {}
        if tags.get("out_of_domain") is True:
            why.append("out_of_domain")
        with self._lock:
            self._recent[pid] = (obs.version, call, why)
            if len(self._recent) > RECENT:
                self._recent.popitem(last=False)
        for j in self.judges:
            weight = j.suspicious_weight if why else 1.0
            if j.sampled(pid, weight):
                self._submit(j, _Task(pid, obs.version, call, why))

    def _rephrased(self, call: LLMCall, llm: Mapping[str, Any]) -> bool:
        session = call.session_id
        if session is None:
            return False
        now = self.monitor.clock.time()
        query = llm.get("query") if isinstance(llm.get("query"), str) else None
        emb = llm.get("query_embedding") if isinstance(llm.get("query_embedding"), list) else None
        key = str(session)
        with self._lock:
            prev = self._sessions.pop(key, None)
            self._sessions[key] = (now, query or "", emb)
            if len(self._sessions) > RECENT:
                self._sessions.popitem(last=False)
        if prev is None or now - prev[0] > 120.0:
            return False
        if emb is not None and prev[2] is not None:
            sim = cosine(emb, prev[2])
            return sim is not None and sim >= 0.7
        return bool(query and prev[1]) and word_jaccard(query or "", prev[1]) >= 0.4

    def feedback(self, prediction_id: str, kind: str, value: Any) -> None:
        """A thumbs-down on a recent LLM request: judges weighting suspicious traffic look
        again with the higher weight (same deterministic point)."""
        if "thumb" not in kind.lower():
            return
        negative = (
            (value is False)
            or (isinstance(value, int | float) and not isinstance(value, bool) and value <= 0)
            or (isinstance(value, str) and value.strip().lower() in ("down", "thumbs_down", "-1"))
        )
        if not negative:
            return
        with self._lock:
            hit = self._recent.get(prediction_id)
        if hit is None:
            return
        version, call, why = hit
        for j in self.judges:
            before = j.suspicious_weight if why else 1.0
            if not j.sampled(prediction_id, before) and j.sampled(
                prediction_id, j.suspicious_weight
            ):
                self._submit(j, _Task(prediction_id, version, call, [*why, "thumbs_down"]))

    def _submit(self, j: Judge, task: _Task) -> None:
        with self._lock:
            key = (j.name, task.prediction_id)
            if key in self._judged:
                return  # each judge looks at a request once
            self._judged[key] = None
            if len(self._judged) > RECENT:
                self._judged.popitem(last=False)
        try:
            self._queues[j.name].put_nowait(task)
        except queue.Full:
            self._record(j, task, "skipped", reason="queue_full")

    # -- on the judge's worker threads ---------------------------------------------------------
    def _work(self, j: Judge, q: queue.Queue[_Task | None]) -> None:
        while True:
            task = q.get()
            if task is None or self._stopping.is_set():
                return
            try:
                self._judge(j, task)
            except Exception:
                self.monitor.internal_error(f"judge.{j.name}")
            finally:
                q.task_done()

    def _judge(self, j: Judge, task: _Task) -> None:
        question, answer, contexts = judge_inputs(task.call)
        if j.prechecks:
            if not answer.strip():
                self._record(j, task, "prechecked", reason="empty_answer")
                return
            if "refusal" in task.why:
                self._record(j, task, "prechecked", reason="refusal")
                return
        if self._hung[j.name] >= 2 * j.concurrency:
            self._record(j, task, "skipped", reason="judge_hung")
            return
        clock = self.monitor.clock
        budget = self._budgets[j.name]
        refused = budget.admit(clock.time())
        if refused is not None:
            self._record(j, task, "skipped", reason=refused)
            return
        box: dict[str, Any] = {}
        done = threading.Event()

        def call() -> None:
            try:
                box["result"] = j.scorer(question, answer, contexts)
            except BaseException as exc:  # anything a scorer raises is a failure
                box["error"] = exc
            finally:
                done.set()
                if box.get("late"):
                    with self._lock:
                        self._hung[j.name] -= 1

        threading.Thread(target=call, daemon=True, name=f"driftline-judge-call-{j.name}").start()
        if not done.wait(j.timeout):
            with self._lock:
                box["late"] = True
                self._hung[j.name] += 1
            budget.settle(clock.time(), 0, 0)
            self._record(j, task, "timeout", reason=f"no answer in {j.timeout:g}s")
            return
        if "error" in box:
            budget.settle(clock.time(), 0, 0)
            exc = box["error"]
            reason_of = getattr(exc, "reason", None)
            if isinstance(exc, TimeoutError) or isinstance(reason_of, TimeoutError):
                # the scorer's own timeout (a socket's) ran out first: the same outcome
                self._record(j, task, "timeout", reason=f"no answer in {j.timeout:g}s")
            elif isinstance(exc, JudgeError):
                self._record(j, task, "invalid" if exc.invalid else "failed", reason=exc.reason)
            else:
                self._record(j, task, "failed", reason=type(exc).__name__)
            return
        try:
            scores, prompt, completion = j.parse(box.get("result"))
        except JudgeError as exc:
            budget.settle(clock.time(), 0, 0)
            self._record(j, task, "invalid", reason=str(exc))
            return
        cost = budget.settle(clock.time(), prompt, completion)
        self._record(
            j, task, "scored", scores=scores, prompt_tokens=prompt,
            completion_tokens=completion, cost=cost,
        )  # fmt: skip

    def _record(self, j: Judge, task: _Task, status: str, **fields: Any) -> None:
        value: dict[str, Any] = {"version": j.version, "status": status}
        value.update({k: v for k, v in fields.items() if v is not None})
        if task.why:
            value["suspicious"] = list(task.why)
        with self._lock:
            self.results[j.name][status] += 1
        self.counter.labels(self.monitor.model, j.name, status).inc()
        self.monitor.feedback(task.prediction_id, f"judge.{j.name}", value, version=task.version)

    # -- lifecycle ------------------------------------------------------------------------------
    def pending(self) -> int:
        return sum(q.unfinished_tasks for q in self._queues.values())

    def drain(self, timeout: float) -> bool:
        """Wait until the queued requests are judged (hung calls time out on their own)."""
        import time

        deadline = time.monotonic() + timeout
        for q in self._queues.values():
            with q.all_tasks_done:  # notified by task_done() when the last task is done
                while q.unfinished_tasks:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return False
                    q.all_tasks_done.wait(left)
        return True

    def stop(self) -> None:
        self._stopping.set()
        for j in self.judges:
            q = self._queues[j.name]
            for _ in range(j.concurrency):
                try:
                    q.put_nowait(None)
                except queue.Full:
                    break
