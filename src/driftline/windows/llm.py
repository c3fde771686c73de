"""LLM / RAG metric points of a window, from its prediction events' ``llm`` objects and the
judges' results (docs/llm.md, "Signals").

Per segment: ``rag.top1_similarity`` and ``rag.topk_similarity`` (means; p10/p50 in
details), ``rag.high_similarity_ratio`` (requests with at least one retrieved item at
or above ``high_similarity``: the SLO), ``rag.empty_retrieval_ratio``,
``rag.citation_coverage`` (answers that cite a retrieved item, of those the app or
the overlap check could tell), ``llm.answer_chars`` (mean; p50 in details),
``llm.answer_words``, ``llm.empty_answer_ratio``, ``llm.refusal_ratio``,
``llm.prompt_tokens`` / ``llm.completion_tokens`` (sums; per LLM model in
``column``), ``llm.cost`` (sum over the requests whose model has a price;
``llm.unpriced_requests`` counts the others), ``llm.stage_latency_seconds``
(mean, ``method`` = stage), ``llm.rephrase_ratio``, ``llm.abandon_ratio`` and
``llm.bad_input`` (per ``column`` = reason); all traffic: ``llm.thumbs_down_ratio``
(thumbs feedback on the window's requests that is negative).
All traffic only: ``judge.score`` (``column`` = ``judge:criterion``, ``method`` = the
judge's version), ``judge.calls``, ``judge.failures`` (failed, timed out, invalid
answers, unreadable records), ``judge.skipped`` (budget, full queue, hung judge),
``judge.prechecked`` (decided by a cheap check, no call), ``judge.late``
(of those, results recorded more than ``judge_lateness_seconds`` after their
request: alerts may have read the window before them) and ``judge.cost``
(``column`` = judge; reasons in details). Ratios carry ``n`` and a standard error.
A judge result, and a user's thumbs (in ``llm.thumbs_down_ratio`` and
``llm.abandon_ratio``), count in the window of the request they name, whenever they
come (as a label does): the window is evaluated again when they arrive.

The signals are read from at most ``max_events`` raw events of the window (the
latest ones; ``n`` says how many), because rephrases need the order of each
session's requests, which no mergeable profile keeps.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from driftline._utils.llm import PriceTable, cosine, word_jaccard
from driftline.errors import ConfigError
from driftline.stats.performance.uncertainty import proportion_se
from driftline.windows.config import ALL
from driftline.windows.points import Points

#: Feedback kinds whose value is a judge's result: ``judge.<name>``.
JUDGE_PREFIX = "judge."
#: Judge result statuses counted as a failure of the judge.
JUDGE_FAILED = ("failed", "timeout", "invalid")


@dataclass(frozen=True)
class LLMOptions:
    """Thresholds of the LLM/RAG signals (the ``collector.llm`` section, docs/llm.md)."""

    #: a retrieved item at or above this similarity is a high-similarity retrieval
    high_similarity: float = 0.5
    #: a request repeats an earlier one of its session asked at most this long before ...
    rephrase_seconds: float = 120.0
    #: ... when their query embeddings have at least this cosine similarity ...
    rephrase_cosine: float = 0.7
    #: ... or, without embeddings, their query words at least this Jaccard similarity
    rephrase_jaccard: float = 0.4
    #: a judge result recorded more than this long after its request counts, in its
    #: request's window as every result does, as ``judge.late`` too
    judge_lateness_seconds: float = 600.0
    #: raw events read per window at most
    max_events: int = 20_000
    prices: PriceTable = field(default_factory=lambda: PriceTable({}))

    def __post_init__(self) -> None:
        """The one place of these rules (``collector.llm`` in driftline.yaml is built from
        this class's fields and defaults, server/config.py)."""
        n = self.max_events
        rules = (
            ("high_similarity", math.isfinite(self.high_similarity), "a finite number"),
            ("rephrase_seconds", self.rephrase_seconds > 0, "a number > 0"),
            ("rephrase_cosine", -1 <= self.rephrase_cosine <= 1, "from -1 to 1"),
            ("rephrase_jaccard", 0 <= self.rephrase_jaccard <= 1, "from 0 to 1"),
            ("judge_lateness_seconds", self.judge_lateness_seconds >= 0, "a number >= 0"),
            ("max_events", isinstance(n, int) and not isinstance(n, bool) and n >= 1,
             "a whole number >= 1"),
        )  # fmt: skip
        for name, ok, allowed in rules:
            if not ok:
                raise ConfigError(f"llm {name}={getattr(self, name)!r}; allowed: {allowed}")


def thumbs_down(kind: str, value: Any) -> bool | None:
    """True for a negative thumbs feedback, False for a positive one, None otherwise."""
    if "thumb" not in kind.lower():
        return None
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value <= 0
    if isinstance(value, str):
        v = value.strip().lower()
        if v in ("down", "thumbs_down", "bad", "no", "negative", "-1", "0"):
            return True
        if v in ("up", "thumbs_up", "good", "yes", "positive", "1", "+1"):
            return False
    return None


def _ratio(points: Points, seg: str, metric: str, hits: int, n: int, column: str = "") -> None:
    points.add(
        seg,
        metric,
        hits / n if n else None,
        column=column,
        n=n,
        details={"count": hits, "stderr": proportion_se(hits, n)} if n else None,
        status="ok" if n else "insufficient_data",
    )


def _mean(points: Points, seg: str, metric: str, values: list[float], **kw: Any) -> None:
    if not values:
        return
    arr = np.asarray(values, dtype=float)
    se = float(arr.std(ddof=1) / math.sqrt(arr.size)) if arr.size > 1 else None
    p10, p50, p90 = np.quantile(arr, [0.1, 0.5, 0.9]).tolist()
    points.add(
        seg,
        metric,
        float(arr.mean()),
        n=int(arr.size),
        details={"p10": p10, "p50": p50, "p90": p90, "stderr": se},
        **kw,
    )


@dataclass
class _Request:
    ts: float
    session: str | None
    query: str | None
    embedding: list[float] | None
    llm: dict[str, Any]
    rephrase: bool = False


def _requests(events: Iterable[Mapping[str, Any]]) -> list[tuple[Mapping[str, Any], _Request]]:
    out = []
    for e in events:
        llm = e.get("llm")
        if type(llm) is not dict or e.get("shadow"):
            continue
        session = llm.get("session_id")
        query = llm.get("query")
        emb = llm.get("query_embedding")
        out.append(
            (
                e,
                _Request(
                    float(e.get("ts") or 0.0),
                    session if isinstance(session, str) else None,
                    query if isinstance(query, str) else None,
                    emb if isinstance(emb, list) else None,
                    llm,
                ),
            )
        )
    out.sort(key=lambda x: x[1].ts)
    return out


def mark_rephrases(requests: Sequence[_Request], opts: LLMOptions) -> None:
    """Set ``rephrase`` on each request that repeats one of its session asked at most
    ``rephrase_seconds`` before with a similar query (sorted by time)."""
    last: dict[str, list[_Request]] = {}
    for r in requests:
        if r.session is None:
            continue
        earlier = last.setdefault(r.session, [])
        earlier[:] = [p for p in earlier if r.ts - p.ts <= opts.rephrase_seconds]
        for p in earlier:
            if r.embedding is not None and p.embedding is not None:
                sim = cosine(r.embedding, p.embedding)
                if sim is not None and sim >= opts.rephrase_cosine:
                    r.rephrase = True
                    break
            elif (
                r.query is not None
                and p.query is not None
                and word_jaccard(r.query, p.query) >= opts.rephrase_jaccard
            ):
                r.rephrase = True
                break
        earlier.append(r)


def llm_points(
    points: Points,
    events: Sequence[Mapping[str, Any]],
    start: float,
    end: float,
    opts: LLMOptions,
    segments_of: Callable[[Mapping[str, Any] | None], list[str]],
    feedback: Sequence[Mapping[str, Any]] = (),
) -> None:
    """Add the LLM/RAG points of the window ``[start, end)`` (see the module documentation).

    ``events``: parsed prediction events of the window and of the ``rephrase_seconds``
    before it (earlier ones only serve to find rephrases); ``feedback``: the thumbs and
    judge results on the window's requests (``prediction_id``, ``kind``, ``value``
    parsed, ``ts``, ``late``), whenever they were received.
    """
    reqs = _requests(events)
    mark_rephrases([r for _, r in reqs], opts)
    down: set[str] = set()
    thumbs = downs = 0
    for f in feedback:
        verdict = thumbs_down(str(f.get("kind") or ""), f.get("value"))
        thumbs += verdict is not None
        downs += verdict is True  # records, as thumbs counts them (two on one request: two)
        if verdict is True:
            down.add(str(f.get("prediction_id")))
    by_seg: dict[str, list[tuple[Mapping[str, Any], _Request]]] = {}
    for e, r in reqs:
        if not start <= r.ts < end:
            continue
        for seg in segments_of(e.get("segment")):
            by_seg.setdefault(seg, []).append((e, r))
    for seg, rows in sorted(by_seg.items()):
        _segment_points(points, seg, rows, opts, down)
    if thumbs:
        _ratio(points, ALL, "llm.thumbs_down_ratio", downs, thumbs)
    _judge_points(points, feedback)


def _segment_points(
    points: Points,
    seg: str,
    rows: list[tuple[Mapping[str, Any], _Request]],
    opts: LLMOptions,
    down: set[str],
) -> None:
    top1: list[float] = []
    topk: list[float] = []
    high = retrieved_n = empty_retrieval = 0
    cites = cite_known = 0
    chars: list[float] = []
    words: list[float] = []
    empty = refusal = answered = 0
    tokens: dict[str, list[int]] = {}
    cost = 0.0
    priced = unpriced = 0
    stages: dict[str, list[float]] = {}
    bad: dict[str, int] = {}
    sessions: dict[str, tuple[float, bool]] = {}
    for e, r in rows:
        llm = r.llm
        items = llm.get("retrieved")
        if isinstance(items, list):
            scores = sorted(
                (
                    float(i["score"])
                    for i in items
                    if isinstance(i, dict) and isinstance(i.get("score"), int | float)
                ),
                reverse=True,
            )
            retrieved_n += 1
            if scores:
                top1.append(scores[0])
                topk.append(sum(scores) / len(scores))
                high += scores[0] >= opts.high_similarity
            else:
                empty_retrieval += 1
        if isinstance(llm.get("cites_retrieved"), bool):
            cite_known += 1
            cites += llm["cites_retrieved"]
        failed = False
        if isinstance(llm.get("answer_chars"), int):
            answered += 1
            chars.append(float(llm["answer_chars"]))
            if isinstance(llm.get("answer_words"), int):
                words.append(float(llm["answer_words"]))
            if llm.get("empty") is True:
                empty += 1
                failed = True
            if llm.get("refusal") is True:
                refusal += 1
                failed = True
        name = str(llm.get("llm_model") or "")
        p, c = llm.get("prompt_tokens"), llm.get("completion_tokens")
        if isinstance(p, int) or isinstance(c, int):
            pt, ct = (p if isinstance(p, int) else 0), (c if isinstance(c, int) else 0)
            acc = tokens.setdefault(name, [0, 0, 0])
            acc[0] += pt
            acc[1] += ct
            acc[2] += 1
            price = opts.prices.cost(name or None, pt, ct)
            if price is None:
                unpriced += 1
            else:
                priced += 1
                cost += price
        st = llm.get("stages_ms")
        if isinstance(st, dict):
            for k, v in st.items():
                if isinstance(v, int | float):
                    stages.setdefault(str(k), []).append(float(v) / 1000.0)
        for reason in llm.get("problems") or ():
            bad[str(reason)] = bad.get(str(reason), 0) + 1
        if r.session is not None:
            failed = failed or str(e.get("prediction_id")) in down
            prev = sessions.get(r.session)
            if prev is None or r.ts >= prev[0]:
                sessions[r.session] = (r.ts, failed)
    n = len(rows)
    points.add(seg, "llm.requests", n, n=n)
    _mean(points, seg, "rag.top1_similarity", top1)
    _mean(points, seg, "rag.topk_similarity", topk)
    if retrieved_n:
        _ratio(points, seg, "rag.high_similarity_ratio", high, retrieved_n)
        _ratio(points, seg, "rag.empty_retrieval_ratio", empty_retrieval, retrieved_n)
    if cite_known:
        _ratio(points, seg, "rag.citation_coverage", cites, cite_known)
    _mean(points, seg, "llm.answer_chars", chars)
    _mean(points, seg, "llm.answer_words", words)
    if answered:
        _ratio(points, seg, "llm.empty_answer_ratio", empty, answered)
        _ratio(points, seg, "llm.refusal_ratio", refusal, answered)
    for name, (pt, ct, k) in sorted(tokens.items()):
        points.add(seg, "llm.prompt_tokens", pt, column=name, n=k)
        points.add(seg, "llm.completion_tokens", ct, column=name, n=k)
    if tokens:
        total = sum(v[2] for v in tokens.values())
        points.add(seg, "llm.prompt_tokens", sum(v[0] for v in tokens.values()), n=total)
        points.add(seg, "llm.completion_tokens", sum(v[1] for v in tokens.values()), n=total)
        points.add(
            seg,
            "llm.cost",
            cost if priced else None,
            n=priced,
            method=opts.prices.currency,
            status="ok" if priced else "unknown",
            details={"unpriced_requests": unpriced, "currency": opts.prices.currency},
        )
        points.add(seg, "llm.unpriced_requests", unpriced, n=total)
    for stage, secs in sorted(stages.items()):
        _mean(points, seg, "llm.stage_latency_seconds", secs, method=stage)
    in_session = [r for _, r in rows if r.session is not None]
    if in_session:
        _ratio(points, seg, "llm.rephrase_ratio", sum(r.rephrase for r in in_session),
               len(in_session))  # fmt: skip
        _ratio(points, seg, "llm.abandon_ratio", sum(f for _, f in sessions.values()),
               len(sessions))  # fmt: skip
    for reason, count in sorted(bad.items()):
        points.add(seg, "llm.bad_input", count, column=reason, n=n)


def _judge_points(points: Points, feedback: Sequence[Mapping[str, Any]]) -> None:
    scores: dict[tuple[str, str], list[float]] = {}
    versions: dict[str, str] = {}
    calls: dict[str, int] = {}
    failed: dict[str, dict[str, int]] = {}
    skipped: dict[str, dict[str, int]] = {}
    prechecked: dict[str, dict[str, int]] = {}
    cost: dict[str, float] = {}
    late: dict[str, int] = {}
    for f in feedback:
        kind = str(f.get("kind") or "")
        if not kind.startswith(JUDGE_PREFIX):
            continue
        judge = kind[len(JUDGE_PREFIX) :]
        v = f.get("value")
        calls.setdefault(judge, 0)
        if f.get("late"):
            late[judge] = late.get(judge, 0) + 1
        if not isinstance(v, dict):
            box = failed.setdefault(judge, {})
            box["bad_record"] = box.get("bad_record", 0) + 1
            continue
        status = str(v.get("status") or "")
        if isinstance(v.get("version"), str):
            versions[judge] = v["version"]
        if isinstance(v.get("cost"), int | float) and math.isfinite(v["cost"]):
            cost[judge] = cost.get(judge, 0.0) + float(v["cost"])
        reason = str(v.get("reason") or status or "unknown")[:64]
        if status in ("skipped", "prechecked"):
            box = (skipped if status == "skipped" else prechecked).setdefault(judge, {})
            box[reason] = box.get(reason, 0) + 1
            continue
        calls[judge] += 1
        if status in JUDGE_FAILED or status != "scored":
            box = failed.setdefault(judge, {})
            box[reason] = box.get(reason, 0) + 1
            continue
        for crit, s in (v.get("scores") or {}).items():
            if isinstance(s, int | float) and not isinstance(s, bool) and math.isfinite(s):
                scores.setdefault((judge, str(crit)), []).append(float(s))
    for (judge, crit), vals in sorted(scores.items()):
        _mean(points, ALL, "judge.score", vals, column=f"{judge}:{crit}",
              method=versions.get(judge, ""))  # fmt: skip
    for judge in sorted(calls):
        f = failed.get(judge, {})
        s = skipped.get(judge, {})
        pre = prechecked.get(judge, {})
        points.add(ALL, "judge.calls", calls.get(judge, 0), column=judge, n=calls.get(judge, 0))
        points.add(ALL, "judge.failures", sum(f.values()), column=judge,
                   n=calls.get(judge, 0), details=f)  # fmt: skip
        points.add(ALL, "judge.skipped", sum(s.values()), column=judge, details=s)
        points.add(ALL, "judge.prechecked", sum(pre.values()), column=judge, details=pre)
        points.add(ALL, "judge.late", late.get(judge, 0), column=judge)
        if judge in cost:
            points.add(ALL, "judge.cost", cost[judge], column=judge)
