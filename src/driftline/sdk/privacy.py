"""The privacy policy: what each field becomes before it leaves the process.

Per field, one action:

- ``"keep"``: sent as is;
- ``"drop"``: never sent;
- ``"hash"``: keyed HMAC-SHA256 (hex, first 32 digits), the key read from an
  environment variable (``DRIFTLINE_HASH_KEY`` unless told otherwise), so equal
  values still join and group but cannot be reversed without the key;
- ``"mask"``: PII found inside the text (emails, phone numbers, card numbers
  that pass the Luhn check, IPv4/IPv6 addresses, IBANs that pass mod-97, plus
  any :class:`PIIPattern` you add) is replaced by ``<email>``, ``<card>``, ...;
- derived values only: ``"length"`` and ``"tokens"`` for text, ``"norm"`` and
  ``"dim"`` for embeddings; the field ``f`` becomes ``f.length``, ``f.norm``...
  A tuple such as ``("length", "tokens")`` keeps several. ``"descriptors"``
  sends a text's descriptors instead of the text (``f.chars``, ``f.words``,
  ``f.non_letter_share``, ``f.empty``, ``f.latin_share``, ``f.pii_hits``: the
  definitions of the profile's text descriptors), so the collector profiles
  them like numbers and no raw text leaves the process.

Rules are keyed by field name and apply to features, segment and tags; a
scoped key (``"features.email"``, ``"tags.user"``) wins over a plain one. The
keys ``"prediction_id"``, ``"prediction"``, ``"label"`` and ``"feedback"``
apply to those event fields. String values without a rule get ``text_default``.

Everywhere a value or a name leaves the process: ``text_default`` (and a
``"mask"`` rule) reaches strings inside lists and nested objects; with a
``text_default`` other than ``"keep"``, PII in field names (features, segment,
tags, keys of nested objects) is masked too, so two names that differ only in
their PII become one; the class names that key ``scores`` follow the
``"prediction"`` rule (else the name masking); and the SDK's own metrics label
predicted classes and missing features with the values as sent.
The policy runs on the background thread, never on the request path.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from driftline._utils.pii import DETECTORS
from driftline._utils.text import describe
from driftline.sdk.errors import SDKConfigError

ACTIONS = ("keep", "drop", "hash", "mask")
#: Nested values deeper than this are replaced by None (the collector refuses them anyway).
MAX_DEPTH = 64
DERIVED = ("length", "tokens", "norm", "dim", "descriptors")
TEXT_DEFAULTS = ("keep", "mask", "hash", "drop")
SCOPES = ("features", "segment", "tags")


@dataclass(frozen=True)
class PIIPattern:
    """One kind of PII to mask inside text: a regex, an optional validator, a replacement."""

    name: str
    regex: str
    validate: Callable[[str], bool] | None = None
    flags: int = 0
    #: A regex that every match needs somewhere in the text (e.g. ``"@"`` for emails):
    #: text without it skips this pattern. None: always run the pattern. Masking
    #: never creates a trigger (replacements are ``<name>``), so results are cached.
    trigger: str | None = None
    compiled: re.Pattern[str] = field(init=False, repr=False, compare=False)
    trigger_re: re.Pattern[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "compiled", re.compile(self.regex, self.flags))
            trigger = None if self.trigger is None else re.compile(self.trigger)
            object.__setattr__(self, "trigger_re", trigger)
        except re.error as exc:
            raise SDKConfigError(
                f"privacy pattern {self.name!r}: invalid regular expression {self.regex!r}: {exc}"
            ) from exc

    @property
    def replacement(self) -> str:
        return f"<{self.name}>"

    def mask(self, text: str) -> str:
        """``text`` with every validated match replaced by ``<name>``."""
        if self.validate is None:
            return self.compiled.sub(self.replacement, text)
        check = self.validate
        token = self.replacement
        return self.compiled.sub(lambda m: token if check(m.group(0)) else m.group(0), text)


EMAIL, IBAN, CARD, IPV4, IPV6, PHONE = (
    PIIPattern(d.name, d.regex, d.validate, trigger=d.trigger) for d in DETECTORS
)

DEFAULT_PATTERNS: tuple[PIIPattern, ...] = (EMAIL, IBAN, CARD, IPV4, IPV6, PHONE)

Action = str | Sequence[str]


def _check_action(key: str, action: Action) -> tuple[str, ...]:
    names = (action,) if isinstance(action, str) else tuple(action)
    if not names:
        raise SDKConfigError(f"privacy rule {key!r}: empty action; allowed: {ACTIONS + DERIVED}")
    for name in names:
        if name not in ACTIONS and name not in DERIVED:
            raise SDKConfigError(
                f"privacy rule {key!r}: unknown action {name!r}; "
                f"allowed: {', '.join(ACTIONS + DERIVED)}"
            )
    if len(names) > 1 and any(n in ACTIONS for n in names):
        raise SDKConfigError(
            f"privacy rule {key!r}: {names!r} mixes actions; only derived values "
            f"({', '.join(DERIVED)}) can be combined"
        )
    return names


class PrivacyPolicy:
    """Field rules plus PII patterns; see the module documentation."""

    def __init__(
        self,
        fields: Mapping[str, Action] | None = None,
        *,
        text_default: str = "keep",
        patterns: Iterable[PIIPattern] = DEFAULT_PATTERNS,
        hash_key: bytes | str | None = None,
        hash_key_env: str = "DRIFTLINE_HASH_KEY",
    ) -> None:
        if text_default not in TEXT_DEFAULTS:
            raise SDKConfigError(
                f"privacy text_default={text_default!r}; allowed: {', '.join(TEXT_DEFAULTS)}"
            )
        self.text_default = text_default
        self.patterns = tuple(patterns)
        rules = {key: _check_action(key, action) for key, action in (fields or {}).items()}
        self._scoped: dict[str, dict[str, tuple[str, ...]]] = {}
        for scope in SCOPES:
            merged = {k: v for k, v in rules.items() if "." not in k}
            prefix = scope + "."
            merged.update({k[len(prefix) :]: v for k, v in rules.items() if k.startswith(prefix)})
            self._scoped[scope] = merged
        self._top = {k: v for k, v in rules.items() if "." not in k}
        needs_key = text_default == "hash" or any("hash" in v for v in rules.values())
        key = hash_key if hash_key is not None else os.environ.get(hash_key_env)
        if needs_key and not key:
            raise SDKConfigError(
                f"privacy policy hashes values but no key is set: set the {hash_key_env} "
                "environment variable (or pass hash_key=)"
            )
        self._key = key.encode() if isinstance(key, str) else key
        # HMAC state after the key is absorbed; copied per value instead of re-keying.
        self._hmac = hmac.new(self._key, digestmod=hashlib.sha256) if self._key else None
        self.is_noop = not rules and text_default == "keep"
        #: Field names (and keys of nested objects) have their PII masked.
        self.masks_names = text_default != "keep"
        self._names: dict[str, str] = {}
        #: Every field name a rule is about, in any scope (``features.email`` -> ``email``).
        self.named = frozenset(k.split(".", 1)[1] if "." in k else k for k in rules)
        #: True when text without a rule is kept and prediction ids and predictions
        #: have no rule: an event none of whose fields is ``named`` goes out as it is.
        self.keeps_unnamed = (
            text_default == "keep" and "prediction_id" not in rules and "prediction" not in rules
        )

    # -- single values -------------------------------------------------------
    def hash(self, value: object) -> str:
        """Keyed HMAC-SHA256 of ``str(value)``, 32 hex digits."""
        if self._hmac is None:
            raise SDKConfigError("privacy policy has no hash key")
        mac = self._hmac.copy()
        mac.update(value if isinstance(value, bytes) else str(value).encode())
        return mac.hexdigest()[:32]

    def mask(self, text: str) -> str:
        """``text`` with every PII match replaced by ``<kind>``."""
        triggered: dict[re.Pattern[str], bool] = {}
        for pattern in self.patterns:
            trigger = pattern.trigger_re
            if trigger is not None:
                hit = triggered.get(trigger)
                if hit is None:
                    hit = triggered[trigger] = trigger.search(text) is not None
                if not hit:
                    continue
            text = pattern.mask(text)
        return text

    def name(self, name: str) -> str:
        """What a field name (or a key of a nested object) becomes: PII masked (cached)."""
        if not self.masks_names:
            return name
        got = self._names.get(name)
        if got is None:
            got = self.mask(name)
            if len(self._names) < 10_000:
                self._names[name] = got
        return got

    def deep(self, value: Any, action: str, depth: int = 0) -> Any:
        """``action`` (mask, hash, drop) on every string inside lists and objects of ``value``."""
        if isinstance(value, str):
            if action == "mask":
                return self.mask(value)
            return self.hash(value) if action == "hash" else None
        if isinstance(value, dict | list | tuple) and depth >= MAX_DEPTH:
            return None
        if isinstance(value, dict):
            return {
                self.name(str(k)): self.deep(v, action, depth + 1)
                for k, v in value.items()
                if not (action == "drop" and isinstance(v, str))
            }
        if isinstance(value, list | tuple):
            if all(x.__class__ in (float, int, bool) for x in value):
                return value  # numbers only (an embedding): nothing to do
            return [
                self.deep(v, action, depth + 1)
                for v in value
                if not (action == "drop" and isinstance(v, str))
            ]
        return value

    def scores(self, scores: Any) -> Any:
        """``scores`` with its class names as the prediction rule (or name masking) has them."""
        if scores.__class__ is not dict or not scores:
            return scores
        if "prediction" in self._top:
            out: dict[str, Any] = {}
            for i, (k, v) in enumerate(scores.items()):
                key = self.apply_field("prediction", k)
                ok = key is not None and key.__class__ in (str, int, float, bool)
                out[str(key) if ok else f"class_{i}"] = v
            return out
        if self.masks_names:
            return {self.name(str(k)): v for k, v in scores.items()}
        return scores

    def metric_label(self, prediction: Any) -> Any:
        """The predicted class as the SDK's metrics may show it: as sent to the collector."""
        if self.is_noop:
            return prediction
        sent = self.apply_field("prediction", prediction)
        return sent if sent.__class__ in (str, int, bool) else "<redacted>"

    def _apply(
        self, name: str, value: Any, actions: tuple[str, ...] | None, out: dict[str, Any]
    ) -> None:
        if actions is None:
            if self.text_default == "keep":
                out[name] = value
            elif isinstance(value, str):
                actions = (self.text_default,)
            elif isinstance(value, dict | list | tuple):
                out[name] = self.deep(value, self.text_default)
                return
            else:
                out[name] = value
                return
        if actions is None:
            return
        first = actions[0]
        if first == "keep":
            out[name] = value
        elif first == "drop":
            return
        elif first == "hash":
            out[name] = None if value is None else self.hash(value)
        elif first == "mask":
            out[name] = self.deep(value, "mask")
        else:
            for derived in actions:
                if derived == "descriptors":
                    described = describe(value) if isinstance(value, str) else {}
                    out.update({f"{name}.{k}": v for k, v in described.items()})
                else:
                    out[f"{name}.{derived}"] = _derive(derived, value)

    def apply_mapping(self, scope: str, values: Mapping[str, Any] | None) -> dict[str, Any]:
        """Apply the rules of ``scope`` (features, segment or tags) to a mapping."""
        if not values:
            return {}
        rules = self._scoped[scope]
        text_keep = self.text_default == "keep"
        if text_keep and rules.keys().isdisjoint(values):
            # No rule names any of these fields and text is kept: nothing to change
            # (a set operation in C instead of a loop over every field).
            return values if values.__class__ is dict else dict(values)
        out: dict[str, Any] = {}
        rename = self.name
        for name, value in values.items():
            actions = rules.get(name)
            if text_keep and actions is None:
                out[name] = value  # the common case, without a call
            elif (actions is None and value.__class__ in (int, float, bool)) or value is None:
                out[rename(str(name))] = value
            else:
                self._apply(rename(str(name)), value, actions, out)
        return out

    def apply_field(self, name: str, value: Any) -> Any:
        """Apply the rule for a top-level field (prediction_id, prediction, label, feedback)."""
        actions = self._top.get(name)
        if actions is None and (
            self.text_default == "keep" or not isinstance(value, str | list | dict | tuple)
        ):
            return value  # no rule and nothing to do by default
        out: dict[str, Any] = {}
        self._apply(name, value, actions, out)
        if name in out:
            return out[name]
        derived = {k[len(name) + 1 :]: v for k, v in out.items()}
        return derived or None


def _derive(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "length":
        return len(value) if isinstance(value, str | bytes | list | tuple) else None
    if kind == "tokens":
        return len(value.split()) if isinstance(value, str) else None
    numbers = value.tolist() if hasattr(value, "tolist") else value
    if not isinstance(numbers, list | tuple):
        return None
    if kind == "dim":
        return len(numbers)
    try:
        return math.sqrt(math.fsum(float(x) * float(x) for x in numbers))
    except (TypeError, ValueError):
        return None
