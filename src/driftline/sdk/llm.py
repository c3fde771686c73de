"""One LLM / RAG request as the SDK records it: :meth:`Observation.record_llm`.

On the request path :class:`LLMCall` only keeps references; the shipper thread
turns it into the ``llm`` object of the prediction event (:func:`encode_llm`):
derived values first (answer length, empty/refusal flags, citation coverage),
then the privacy policy on the text (``query``, ``answer``, ``session_id``,
``retrieved_id`` rules), so a policy that drops the text still sends its
length. Contexts (the retrieved passages) never leave the process; they feed
citation overlap and the judges. docs/llm.md documents every field.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from driftline._utils.llm import (
    OVERLAP_CITES,
    is_refusal,
    overlap_share,
    read_text,
    word_count,
)
from driftline.sdk.privacy import PrivacyPolicy

#: Retrieved items kept per request (the highest scores first); the rest are counted.
MAX_RETRIEVED = 50
#: Query embedding dimensions sent at most (longer vectors are sent as their norm only).
MAX_EMBEDDING = 4096


@dataclass(frozen=True)
class Retrieved:
    """One retrieved item: its id, its similarity to the query and (optionally) its text."""

    id: str
    score: float
    text: str | None = None


class LLMCall:
    """What :meth:`Observation.record_llm` captured (references only; encoded later)."""

    __slots__ = (
        "answer",
        "cited",
        "completion_tokens",
        "contexts",
        "llm_model",
        "prompt_tokens",
        "provider",
        "query",
        "query_embedding",
        "retrieved",
        "session_id",
        "stages",
    )

    def __init__(
        self,
        query: Any,
        query_embedding: Any,
        retrieved: Any,
        answer: Any,
        cited: Any,
        contexts: Any,
        prompt_tokens: Any,
        completion_tokens: Any,
        llm_model: Any,
        provider: Any,
        stages: Any,
        session_id: Any,
    ) -> None:
        self.query = query
        self.query_embedding = query_embedding
        self.retrieved = retrieved
        self.answer = answer
        self.cited = cited
        self.contexts = contexts
        self.prompt_tokens = prompt_tokens
        self.completion_tokens = completion_tokens
        self.llm_model = llm_model
        self.provider = provider
        self.stages = stages
        self.session_id = session_id

    def items(self) -> tuple[list[tuple[str, float]], list[str], list[str]]:
        """``(ids and scores, their texts, problems)`` of the retrieved items, best first."""
        pairs: list[tuple[str, float, str | None]] = []
        problems: list[str] = []
        for item in self.retrieved or ():
            rid: Any
            score: Any
            text: Any
            if isinstance(item, Retrieved):
                rid, score, text = item.id, item.score, item.text
            elif isinstance(item, Mapping):
                rid, score, text = item.get("id"), item.get("score"), item.get("text")
            elif isinstance(item, tuple | list) and len(item) in (2, 3):
                rid, score = item[0], item[1]
                text = item[2] if len(item) == 3 else None
            else:
                problems.append("retrieved_item")
                continue
            try:
                s = float(score)
            except (TypeError, ValueError):
                problems.append("retrieved_score")
                continue
            if not math.isfinite(s):
                problems.append("retrieved_score")
                continue
            t, bad = read_text(text)
            if bad:
                problems.append(f"context_{bad}")
            pairs.append((str(rid), s, t))
        pairs.sort(key=lambda p: -p[1])
        texts = [t for _, _, t in pairs if t]
        return [(i, s) for i, s, _ in pairs], texts, problems


def _tokens(value: Any, name: str, problems: list[str]) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        problems.append(name)
        return None
    if isinstance(value, float) and not math.isfinite(value):
        problems.append(name)
        return None
    return int(value)


def _embedding(value: Any, problems: list[str]) -> list[float] | None:
    if value is None:
        return None
    vec = value.tolist() if hasattr(value, "tolist") else value
    if not isinstance(vec, list | tuple) or not vec or len(vec) > MAX_EMBEDDING:
        problems.append("query_embedding")
        return None
    try:
        out = [float(x) for x in vec]
    except (TypeError, ValueError):
        problems.append("query_embedding")
        return None
    if not all(math.isfinite(x) for x in out) or not any(out):
        problems.append("query_embedding")
        return None
    return out


def encode_llm(call: LLMCall, policy: PrivacyPolicy, status: str) -> dict[str, Any]:
    """The ``llm`` object of a prediction event (on the shipper thread; never raises on
    odd input: what cannot be read is left out and named in ``problems``)."""
    problems: list[str] = []
    query, bad = read_text(call.query)
    if bad:
        problems.append(f"query_{bad}")
    answer, bad = read_text(call.answer)
    if bad:
        problems.append(f"answer_{bad}")
    items, texts, item_problems = call.items()
    problems += item_problems
    contexts = list(texts)
    for c in call.contexts or ():
        t, bad = read_text(c)
        if bad:
            problems.append(f"context_{bad}")
        if t:
            contexts.append(t)
    out: dict[str, Any] = {}
    if query is not None:
        out["query_chars"] = len(query)
    if status == "ok" or answer is not None:
        text = answer or ""
        out["answer_chars"] = len(text)
        out["answer_words"] = word_count(text)
        out["empty"] = not text.strip()
        out["refusal"] = bool(text.strip()) and is_refusal(text)
    ids = {i for i, _ in items}
    if call.cited is not None:
        cited = [str(c) for c in call.cited] if isinstance(call.cited, list | tuple | set) else []
        if not isinstance(call.cited, list | tuple | set):
            problems.append("cited")
        out["cited"] = cited[:MAX_RETRIEVED]
        out["cites_retrieved"] = any(c in ids for c in cited)
        out["citation"] = "reported"
    elif answer and contexts:
        share = overlap_share(answer, contexts)
        if share is not None:
            out["overlap"] = share
            out["cites_retrieved"] = share >= OVERLAP_CITES
            out["citation"] = "overlap"
    out["retrieved"] = [
        {"id": policy.apply_field("retrieved_id", i), "score": s} for i, s in items[:MAX_RETRIEVED]
    ]
    if len(items) > MAX_RETRIEVED:
        out["retrieved_total"] = len(items)
    for name in ("prompt_tokens", "completion_tokens"):
        n = _tokens(getattr(call, name), name, problems)
        if n is not None:
            out[name] = n
    for name in ("llm_model", "provider"):
        v = getattr(call, name)
        if v is not None:
            out[name] = str(v)[:128]
    if call.stages:
        stages: dict[str, float] = {}
        if isinstance(call.stages, Mapping):
            for k, v in call.stages.items():
                if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
                    stages[str(k)[:64]] = float(v) * 1000.0
                else:
                    problems.append("stages")
        else:
            problems.append("stages")
        if stages:
            out["stages_ms"] = stages
    vec = _embedding(call.query_embedding, problems)
    if vec is not None:
        emb = policy.apply_field("query_embedding", vec)
        if emb is not None:
            out["query_embedding"] = emb
    if call.session_id is not None:
        out["session_id"] = policy.apply_field("session_id", str(call.session_id)[:128])
    if query is not None:
        q = policy.apply_field("query", query)
        if q is not None:
            out["query"] = q
    if answer is not None:
        a = policy.apply_field("answer", answer)
        if a is not None:
            out["answer"] = a
    if problems:
        out["problems"] = sorted(set(problems))
    return out


def judge_inputs(call: LLMCall) -> tuple[str, str, list[str]]:
    """(question, answer, contexts) as a judge gets them (text read as for the event)."""
    query = read_text(call.query)[0] or ""
    answer = read_text(call.answer)[0] or ""
    _, texts, _ = call.items()
    contexts = list(texts)
    for c in call.contexts or ():
        t = read_text(c)[0]
        if t:
            contexts.append(t)
    return query, answer, contexts


def suspicious(call: LLMCall, low_similarity: float) -> list[str]:
    """Why this request deserves a judge's attention more than most (empty: nothing)."""
    why: list[str] = []
    items, _, _ = call.items()
    if not items or items[0][1] < low_similarity:
        why.append("low_similarity")
    answer = read_text(call.answer)[0] or ""
    if not answer.strip():
        why.append("empty_answer")
    elif is_refusal(answer):
        why.append("refusal")
    return why


__all__ = ["LLMCall", "Retrieved", "encode_llm", "judge_inputs", "suspicious"]
