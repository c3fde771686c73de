"""Helpers of the LLM/RAG signals shared by the SDK and the collector (docs/llm.md).

Pure functions on plain values: reading text that may not be UTF-8, word
counts, refusal detection, answer/context overlap, cosine similarity of query
embeddings, the deterministic sampling point of a prediction id, and the price
table of LLM models (token cost, judge budgets).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from driftline.errors import ConfigError

#: Phrases that open a refusal or a non-answer (checked on the answer's first 300
#: characters, case-insensitive). Documented in docs/llm.md, "Refusals".
REFUSAL_PATTERNS: tuple[str, ...] = (
    r"\bi(?:'m| am) (?:sorry|afraid)\b",
    r"\bi (?:can(?:no|')t|cannot|am unable to|'m unable to|am not able to) "
    r"(?:help|answer|assist|provide|find|do)",
    r"\bi do(?:n't| not) (?:know|have (?:enough |any )?(?:information|context|data))",
    r"\b(?:no|not enough) (?:relevant )?(?:information|context) (?:is )?(?:available|provided)",
    r"\bas an ai\b",
    r"\bunable to (?:answer|help|find)\b",
)
_REFUSAL = re.compile("|".join(REFUSAL_PATTERNS), re.IGNORECASE)
_WORD = re.compile(r"\w+", re.UNICODE)
#: Words shorter than this are left out of answer/context overlap (articles, "is", ...).
MIN_CONTENT_WORD = 4
#: An answer whose content words appear in the contexts at least this share is grounded.
OVERLAP_CITES = 0.5


def read_text(value: Any) -> tuple[str | None, str | None]:
    """``(text, problem)``: a str as is, bytes decoded as UTF-8 (invalid bytes replaced,
    problem ``"not_utf8"``), None as None, anything else ``(None, "not_text")``."""
    if value is None or isinstance(value, str):
        return value, None
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        try:
            return raw.decode("utf-8"), None
        except UnicodeDecodeError:
            return raw.decode("utf-8", "replace"), "not_utf8"
    return None, "not_text"


def word_count(text: str) -> int:
    return len(_WORD.findall(text))


def is_refusal(text: str) -> bool:
    """True when ``text`` opens like a refusal or a non-answer (:data:`REFUSAL_PATTERNS`)."""
    return _REFUSAL.search(text[:300]) is not None


def content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if len(w) >= MIN_CONTENT_WORD}


def overlap_share(answer: str, contexts: Sequence[str]) -> float | None:
    """Share of the answer's content words found in the contexts (None: no content words)."""
    words = content_words(answer)
    if not words:
        return None
    seen: set[str] = set()
    for c in contexts:
        seen |= content_words(c)
    return len(words & seen) / len(words)


def word_jaccard(a: str, b: str) -> float:
    """Jaccard similarity of the lower-cased word sets of ``a`` and ``b`` (0 when both empty)."""
    wa, wb = set(_WORD.findall(a.lower())), set(_WORD.findall(b.lower()))
    union = wa | wb
    return len(wa & wb) / len(union) if union else 0.0


def cosine(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Cosine similarity; None for different dimensions, zero vectors or non-finite values."""
    if len(a) != len(b) or not a:
        return None
    try:
        dot = math.fsum(float(x) * float(y) for x, y in zip(a, b, strict=True))
        na = math.sqrt(math.fsum(float(x) * float(x) for x in a))
        nb = math.sqrt(math.fsum(float(y) * float(y) for y in b))
    except (TypeError, ValueError):
        return None
    if not (na > 0 and nb > 0) or not math.isfinite(dot):
        return None
    return dot / (na * nb)


def sample_point(prediction_id: str) -> float:
    """A number in [0, 1) fixed by ``prediction_id`` (BLAKE2b): the request is in a sample of
    rate ``r`` when this is below ``r``, so smaller samples nest in larger ones and a re-run
    picks the same requests."""
    digest = hashlib.blake2b(prediction_id.encode("utf-8", "replace"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


@dataclass(frozen=True)
class Price:
    """Price of one LLM model per million tokens, prompt and completion."""

    prompt_per_million: float
    completion_per_million: float

    def cost(self, prompt_tokens: float, completion_tokens: float) -> float:
        return (
            prompt_tokens * self.prompt_per_million
            + completion_tokens * self.completion_per_million
        ) / 1e6


@dataclass(frozen=True)
class ServicePrice:
    """What one driftline model (a service) pays for compute, and its daily budget."""

    cpu_hour: float | None = None
    gpu_hour: float | None = None
    daily_budget: float | None = None


#: The keys of the ``prices:`` section (docs/llm.md "Prices", docs/service.md "Cost").
PRICE_KEYS = ("currency", "models", "cpu_hour", "gpu_hour", "daily_budget", "services")


@dataclass(frozen=True)
class PriceTable:
    """Prices per LLM model name (``llm_model`` of a request, ``model`` of a judge), and of
    compute: per CPU hour and GPU hour, for all models or per driftline model
    (``services``), with daily budgets.

    One table serves token cost in the collector, judge budgets in the SDK and the
    compute cost of each model version; docs/llm.md, "Prices", and docs/service.md,
    "Cost", show the ``prices:`` section of driftline.yaml.
    """

    prices: Mapping[str, Price]
    currency: str = "USD"
    cpu_hour: float | None = None
    gpu_hour: float | None = None
    daily_budget: float | None = None
    services: Mapping[str, ServicePrice] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None, where: str = "prices") -> PriceTable:
        """Read ``{currency: USD, models: {name: {prompt_per_million, completion_per_million}},
        cpu_hour, gpu_hour, daily_budget, services: {model: {cpu_hour, gpu_hour,
        daily_budget}}}`` (or just the ``models`` mapping); every error names the key and
        what is allowed."""
        if data is None:
            return cls({})
        if not isinstance(data, Mapping):
            raise ConfigError(f"{where}: must be a mapping of model name to prices")
        structured = any(k in data for k in PRICE_KEYS)
        if structured:
            unknown = sorted(str(k) for k in data if k not in PRICE_KEYS)
            if unknown:
                raise ConfigError(
                    f"{where}: unknown key {unknown[0]!r}; allowed: {', '.join(PRICE_KEYS)}"
                )
        currency = data.get("currency", "USD")
        models = data.get("models", {}) if structured else data
        if not isinstance(currency, str) or not currency:
            raise ConfigError(f"{where}.currency: must be a currency code such as USD")
        if not isinstance(models, Mapping):
            raise ConfigError(f"{where}.models: must be a mapping of model name to prices")
        out: dict[str, Price] = {}
        for name, spec in models.items():
            key = f"{where}.models.{name}" if structured else f"{where}.{name}"
            if not isinstance(spec, Mapping):
                raise ConfigError(
                    f"{key}: must be a mapping with prompt_per_million and completion_per_million"
                )
            extra = set(spec) - {"prompt_per_million", "completion_per_million"}
            if extra:
                raise ConfigError(
                    f"{key}: unknown key(s) {sorted(extra)}; allowed: prompt_per_million, "
                    "completion_per_million"
                )
            values = [
                _price(f"{key}.{f}", spec.get(f), required=True)
                for f in ("prompt_per_million", "completion_per_million")
            ]
            out[str(name)] = Price(*values)  # type: ignore[arg-type]
        services: dict[str, ServicePrice] = {}
        raw = data.get("services") or {}
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{where}.services: must be a mapping of model name to prices")
        for name, spec in raw.items():
            key = f"{where}.services.{name}"
            allowed = ("cpu_hour", "gpu_hour", "daily_budget")
            if not isinstance(spec, Mapping) or set(spec) - set(allowed):
                raise ConfigError(f"{key}: must be a mapping with keys {', '.join(allowed)}")
            services[str(name)] = ServicePrice(
                *(_price(f"{key}.{f}", spec.get(f)) for f in allowed)
            )
        return cls(
            out,
            currency,
            _price(f"{where}.cpu_hour", data.get("cpu_hour")) if structured else None,
            _price(f"{where}.gpu_hour", data.get("gpu_hour")) if structured else None,
            _price(f"{where}.daily_budget", data.get("daily_budget")) if structured else None,
            services,
        )

    def cost(
        self, model: str | None, prompt_tokens: float, completion_tokens: float
    ) -> float | None:
        """Cost of the tokens on ``model``; None when the table has no price for it."""
        price = self.prices.get(model) if model else None
        return None if price is None else price.cost(prompt_tokens, completion_tokens)

    @property
    def configured(self) -> bool:
        """True when the table prices anything (an empty ``prices:`` section gives no cost)."""
        return bool(
            self.prices
            or self.services
            or self.cpu_hour is not None
            or self.gpu_hour is not None
            or self.daily_budget is not None
        )

    def compute_prices(self, model: str) -> tuple[float | None, float | None]:
        """(price per CPU hour, per GPU hour) of driftline model ``model``; None: not priced."""
        own = self.services.get(model)
        cpu = own.cpu_hour if own is not None and own.cpu_hour is not None else self.cpu_hour
        gpu = own.gpu_hour if own is not None and own.gpu_hour is not None else self.gpu_hour
        return cpu, gpu

    def budget(self, model: str) -> float | None:
        """The daily budget of driftline model ``model`` (its own, else the table's)."""
        own = self.services.get(model)
        if own is not None and own.daily_budget is not None:
            return own.daily_budget
        return self.daily_budget


def _price(key: str, v: Any, required: bool = False) -> float | None:
    if v is None and not required:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float) or not v >= 0:
        raise ConfigError(f"{key}: must be a number >= 0, got {v!r}")
    if not math.isfinite(v):
        raise ConfigError(f"{key}: must be finite, got {v!r}")
    return float(v)
