"""The demo's RAG service: real text, real sentence embeddings, a deterministic retriever and
generator, a judge, and users who rephrase.

``docs_assistant`` answers questions about the Python standard library from a
knowledge base of its docstrings. Texts and their all-MiniLM-L6-v2 embeddings come
from ``data/rag_corpus.npz`` (made by examples/rag_fixture/make_fixture.py; no model
runs here). Questions are docstrings' first sentences asked as questions; questions
out of the domain are sentences of scikit-learn's dataset descriptions. The
retriever is exact cosine top-k over the passages; the generator answers from the
best passage, refuses below :data:`REFUSE_BELOW`, and cites the passage. Users whose
answer was a refusal or off the mark ask again in other words, in the same session.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from driftline.sdk import Monitor

RAG = "docs_assistant"
LLM_MODEL = "doc-llm-small"
#: The demo's price table (per million tokens), as in driftline.yaml's ``prices:``.
PRICES = {
    "currency": "USD",
    "models": {LLM_MODEL: {"prompt_per_million": 0.15, "completion_per_million": 0.60}},
}
#: The generator refuses when the best passage is less similar than this.
REFUSE_BELOW = 0.22
REFUSAL = "I'm sorry, I could not find this in the Python documentation."
CORPUS = Path(__file__).parent / "data" / "rag_corpus.npz"
Vectors = npt.NDArray[np.float32]


@dataclass
class Corpus:
    ids: list[str]
    passages: list[str]
    questions: list[str]
    rephrased: list[str]
    ood: list[str]
    ood_rephrased: list[str]
    vectors: dict[str, Vectors]

    @classmethod
    def load(cls, path: Path = CORPUS) -> Corpus:
        with np.load(path) as z:
            meta = json.loads(str(z["meta"]))
            vectors = {
                k: z[k].astype(np.float32)
                for k in ("passages", "questions", "rephrased", "ood", "ood_rephrased")
            }
        return cls(
            meta["ids"], meta["passages"], meta["questions"], meta["rephrased"], meta["ood"],
            meta["ood_rephrased"], vectors,
        )  # fmt: skip


@dataclass(frozen=True)
class Ask:
    """One request: its text, embedding, and what to ask if the user tries again."""

    text: str
    vector: Vectors
    again: tuple[str, Vectors] | None


class RAGService:
    """Retriever (exact cosine top-k) and generator (extractive, ``max_words`` long)."""

    def __init__(self, corpus: Corpus, k: int = 3) -> None:
        self.corpus = corpus
        self.k = k
        self.max_words = 45

    def ask(self, rng: np.random.Generator, out_of_domain: bool) -> Ask:
        c = self.corpus
        if out_of_domain:
            i = int(rng.integers(len(c.ood)))
            again = (c.ood_rephrased[i], c.vectors["ood_rephrased"][i])
            return Ask(c.ood[i], c.vectors["ood"][i], again)
        i = int(rng.integers(len(c.questions)))
        again = (c.rephrased[i], c.vectors["rephrased"][i])
        return Ask(c.questions[i], c.vectors["questions"][i], again)

    def retrieve(self, vector: Vectors) -> list[tuple[str, float, str]]:
        sims = self.corpus.vectors["passages"] @ vector
        top = np.argsort(-sims)[: self.k]
        return [(self.corpus.ids[i], float(sims[i]), self.corpus.passages[i]) for i in top]

    def generate(self, hits: list[tuple[str, float, str]]) -> str:
        best_id, score, text = hits[0]
        if score < REFUSE_BELOW:
            return REFUSAL
        words = text.split()
        return " ".join(words[: self.max_words]) + f" [{best_id}]"


#: The columns of the service's reference: the question as text (its descriptors drift when
#: users ask otherwise) and its embedding (the vector drift methods, docs/embeddings.md).
REFERENCE_SCHEMA = {
    "channel": {"kind": "categorical"},
    "question": {"kind": "text"},
    "query_embedding": {"kind": "embedding"},
}


def reference(corpus: Corpus, rng: np.random.Generator, n: int = 1000) -> dict[str, Any]:
    """The questions of ``n`` quiet-time requests (3 % out of the domain, as the story's quiet
    windows; about 5 % asked again in other words), as the reference's columns."""
    texts: list[str] = []
    vectors = []
    for _ in range(n):
        ood = rng.random() < 0.03
        again = rng.random() < 0.05
        pool = ("ood" if ood else "questions") + ("_rephrased" if again and ood else "")
        if again and not ood:
            pool = "rephrased"
        names = {
            "questions": corpus.questions, "rephrased": corpus.rephrased, "ood": corpus.ood,
            "ood_rephrased": corpus.ood_rephrased,
        }  # fmt: skip
        i = int(rng.integers(len(names[pool])))
        texts.append(names[pool][i])
        vectors.append(corpus.vectors[pool][i])
    return {"channel": ["web"] * n, "question": texts, "query_embedding": np.stack(vectors)}


def tokens(text: str) -> int:
    """About 1.3 tokens a word, as a word-piece tokenizer gives for English."""
    return math.ceil(len(text.split()) * 1.3)


@dataclass
class FollowUp:
    due: float
    session: str
    text: str
    vector: Vectors


class RAGTraffic:
    """Users of the service: ask, read, sometimes rate, ask again in other words or leave."""

    def __init__(
        self,
        monitor: Monitor,
        service: RAGService,
        spend: Callable[[float], None],
        id_prefix: str = "",
    ):
        self.mon = monitor
        self.service = service
        self.spend = spend
        self.pending: list[FollowUp] = []
        self.n = 0
        self.id_prefix = id_prefix

    def request(
        self, rng: np.random.Generator, now: float, session: str, text: str, vector: Vectors,
        again: tuple[str, Vectors] | None,
    ) -> None:  # fmt: skip
        self.n += 1
        features = {"channel": "web", "question": text, "query_embedding": vector.tolist()}
        # the n-th question of the story: the judge samples a hash of the request id, so
        # it judges the same requests on every run (random ids made one run in 25 run out
        # of budget in a quiet window). A run into a store that holds an earlier run's
        # requests gets a prefix (LiveDemo), so that its feedback names its own requests.
        pid = f"{self.id_prefix}ask-{self.n}"
        with self.mon.observe(features, segment={"channel": "web"}, prediction_id=pid) as obs:
            t_retrieve = float(rng.lognormal(math.log(0.015), 0.2))
            self.spend(t_retrieve)
            hits = self.service.retrieve(vector)
            answer = self.service.generate(hits)
            t_generate = 0.02 * len(answer.split()) + float(rng.lognormal(math.log(0.05), 0.2))
            self.spend(t_generate)
            prompt = tokens(text) + sum(tokens(h[2]) for h in hits) + 40
            obs.record_llm(
                query=text, query_embedding=vector, retrieved=hits, answer=answer,
                cited=[hits[0][0]] if answer != REFUSAL else [], prompt_tokens=prompt,
                completion_tokens=tokens(answer), llm_model=LLM_MODEL, provider="demo",
                stages={"retrieve": t_retrieve, "generate": t_generate}, session_id=session,
            )  # fmt: skip
        bad = answer == REFUSAL or hits[0][1] < 0.5
        if bad and rng.random() < 0.5:
            self.mon.feedback(obs.prediction_id, "thumbs", "down")
        elif not bad and rng.random() < 0.2:
            self.mon.feedback(obs.prediction_id, "thumbs", "up")
        if again is not None and rng.random() < (0.85 if bad else 0.03):
            delay = float(rng.uniform(10, 40))  # reads the answer, then asks in other words
            self.pending.append(FollowUp(now + delay, session, again[0], again[1]))

    def step(
        self, rng: np.random.Generator, t0: float, seconds: float, rate: float,
        ood_share: float, set_time: Callable[[float], None],
    ) -> None:  # fmt: skip
        """``seconds`` of traffic from ``t0``: new sessions at ``rate`` a second, plus the
        follow-ups that fall due."""
        n = int(rng.poisson(rate * seconds))
        starts = sorted(float(x) for x in t0 + rng.uniform(0, seconds, n))
        due = [f for f in self.pending if f.due < t0 + seconds]
        self.pending = [f for f in self.pending if f.due >= t0 + seconds]
        plan: list[tuple[float, Any]] = [(t, None) for t in starts] + [(f.due, f) for f in due]
        for t, follow in sorted(plan, key=lambda p: p[0]):
            set_time(t)
            if follow is None:
                ask = self.service.ask(rng, bool(rng.random() < ood_share))
                self.request(rng, t, f"user-{self.n}", ask.text, ask.vector, ask.again)
            else:
                self.request(rng, t, follow.session, follow.text, follow.vector, None)
