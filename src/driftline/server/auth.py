"""API keys: created once, stored as SHA-256 hashes, checked in constant time.

A key is a random string (``dl_`` + 43 URL-safe characters, 256 bits); keys
have that much entropy, so a fast hash is the right tool (a slow password hash
would only cost CPU per request). The store keeps ``hash`` and a public
``key_id`` (its first 16 hex digits), used to look the key up, list and revoke
it. Scopes: ``ingest`` (POST events), ``read`` (GET), ``admin`` (everything).
Projects: a key reaches the models of its project only, except the admin keys
of the default project, which reach all (docs/collector.md, "Projects").
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import secrets
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from driftline.errors import ConfigError
from driftline.store.base import DEFAULT_PROJECT, Store
from driftline.windows import Clock

SCOPES = ("ingest", "read", "admin")
_DUMMY = hashlib.sha256(b"driftline-dummy").hexdigest()


def new_key() -> str:
    return "dl_" + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def key_id_of(key_hash: str) -> str:
    return key_hash[:16]


def parse_scopes(text: str) -> tuple[str, ...]:
    scopes = tuple(s.strip() for s in text.split(",") if s.strip())
    bad = [s for s in scopes if s not in SCOPES]
    if bad or not scopes:
        raise ConfigError(f"scopes={text!r}; allowed: a comma-separated subset of {SCOPES}")
    return scopes


@dataclass(frozen=True)
class Principal:
    key_id: str
    name: str
    project: str
    scopes: tuple[str, ...]

    def allows(self, scope: str) -> bool:
        return scope in self.scopes or "admin" in self.scopes

    @property
    def is_global(self) -> bool:
        """Admin keys of the default project reach every project."""
        return self.project == DEFAULT_PROJECT and "admin" in self.scopes

    def reaches(self, project: str) -> bool:
        return self.is_global or project == self.project


def create_key(
    store: Store,
    clock: Clock,
    *,
    name: str,
    scopes: tuple[str, ...],
    project: str = DEFAULT_PROJECT,
    key: str | None = None,
    actor: str = "cli",
) -> tuple[str, str]:
    """Store a new key (``key`` or a random one); return ``(key, key_id)``.

    The key itself is returned once and never stored or logged.
    """
    key = key or new_key()
    if len(key) < 16:
        raise ConfigError("an API key must be at least 16 characters long")
    h = hash_key(key)
    kid = key_id_of(h)
    now = clock.time()
    store.create_key(
        {
            "key_id": kid,
            "hash": h,
            "name": name,
            "project": project,
            "scopes": ",".join(scopes),
            "created_at": now,
            "revoked_at": None,
        }
    )
    detail = orjson.dumps({"name": name, "scopes": list(scopes), "project": project}).decode()
    store.audit(actor, "key.create", kid, detail, now)
    return key, kid


#: A bootstrap key must be at least this long and this unpredictable (estimated bits).
MIN_KEY_CHARS = 16
MIN_KEY_BITS = 64.0
_KEY_HINT = "e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))'"


def key_strength_error(key: str, name: str = "DRIFTLINE_BOOTSTRAP_KEY") -> str | None:
    """Why ``key`` is too weak to be an admin key, or None.

    At least :data:`MIN_KEY_CHARS` characters and :data:`MIN_KEY_BITS` bits by
    the empirical entropy of its characters (length x Shannon entropy of their
    frequencies): ``aaaaaaaaaaaaaaaa`` has 0 bits, 32 random hex digits about
    125, a generated key about 250. The key itself is never part of the message.
    """
    if len(key) < MIN_KEY_CHARS:
        return (
            f"{name} has {len(key)} characters; at least {MIN_KEY_CHARS} random ones "
            f"are needed ({_KEY_HINT})"
        )
    counts = Counter(key)
    bits = -len(key) * sum(n / len(key) * math.log2(n / len(key)) for n in counts.values())
    if bits < MIN_KEY_BITS:
        return (
            f"{name} is too predictable ({len(counts)} distinct characters, about {bits:.0f} "
            f"bits; at least {MIN_KEY_BITS:.0f} needed): use a random key ({_KEY_HINT})"
        )
    return None


def bootstrap_admin_key(
    store: Store, clock: Clock, env: Mapping[str, str] | None = None
) -> tuple[str, bool] | None:
    """Give a store without keys its first admin key.

    Returns ``(key, generated)``: the key from ``DRIFTLINE_BOOTSTRAP_KEY`` (not
    to be printed) or a generated one (to be printed once), or ``None`` when the
    store already has keys.
    """
    if store.api_keys():
        return None
    env = os.environ if env is None else env
    given = env.get("DRIFTLINE_BOOTSTRAP_KEY") or None
    why = None if given is None else key_strength_error(given)
    if why is not None:
        raise ConfigError(why)
    try:
        key, _ = create_key(
            store, clock, name="bootstrap-admin", scopes=("admin",), key=given, actor="bootstrap"
        )
    except Exception:
        # replicas starting together: another one stored the (same) bootstrap key first
        if store.api_keys():
            return None
        raise
    return key, given is None


class KeyChecker:
    """Looks keys up (cached for ``ttl`` seconds) and compares hashes in constant time."""

    def __init__(self, store: Store, clock: Clock, ttl: float = 5.0) -> None:
        self.store = store
        self.clock = clock
        self.ttl = ttl
        self._cache: dict[str, tuple[dict[str, Any] | None, float]] = {}

    def check(self, authorization: str | None) -> Principal | None:
        """The principal of a ``Bearer KEY`` header, or ``None`` if missing or not valid."""
        if not authorization:
            return None
        scheme, _, key = authorization.partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key or len(key) > 256:
            return None
        h = hash_key(key)
        row = self._row(key_id_of(h))
        stored = row["hash"] if row else _DUMMY
        ok = hmac.compare_digest(h.encode(), stored.encode())
        if not ok or row is None or row["revoked_at"] is not None:
            return None
        return Principal(
            row["key_id"], row["name"], row["project"], tuple(row["scopes"].split(","))
        )

    def _row(self, kid: str) -> dict[str, Any] | None:
        now = self.clock.time()
        hit = self._cache.get(kid)
        if hit is not None and now - hit[1] < self.ttl:
            return hit[0]
        row = self.store.key(kid)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[kid] = (row, now)
        return row

    def forget(self, kid: str) -> None:
        self._cache.pop(kid, None)
