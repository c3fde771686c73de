"""Who may see and change what: sessions, scopes, and protection against cross-site requests.

A browser signs in once with an API key (``/ui/login``); the dashboard then
sets a session cookie holding the key's public id, an expiry, a random
session id and an HMAC of them (never the key itself). Each request looks the key up again, so a
revoked key stops working at once. Scripts may send ``Authorization: Bearer
KEY`` instead. Viewing needs the ``read`` scope; every state-changing action
is a POST that needs the ``admin`` scope, a CSRF token bound to the session
(or key) and, from a browser, an ``Origin`` (or ``Referer``) of this site.
Signing out ends the session on the server (its id goes to the audit log,
which every replica reads); failed sign-ins are throttled per client address.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.requests import Request

from driftline.server.auth import KeyChecker, Principal, hash_key, key_id_of
from driftline.store.base import Store

COOKIE = "driftline_session"
SESSION_SECONDS = 12 * 3600
LINK_SECONDS = 600
#: How often the sessions signed out on other replicas are read (from the audit log).
ENDED_REFRESH_SECONDS = 5.0
ENDED_SCAN = 2000


@dataclass(frozen=True)
class Visitor:
    """The principal of a request and how it authenticated."""

    principal: Principal
    session: str  # the cookie value, or "key:<key_id>" for a bearer key
    via_cookie: bool


class Access:
    def __init__(
        self,
        store: Store,
        keys: KeyChecker,
        wall: Callable[[], float] = time.time,
        secret: bytes | None = None,
        login_attempts_per_minute: int = 10,
    ) -> None:
        env = os.environ.get("DRIFTLINE_SESSION_SECRET")
        self.secret = secret or (env.encode() if env else secrets.token_bytes(32))
        self.store = store
        self.keys = keys
        self.wall = wall
        self._links: dict[str, tuple[str, float]] = {}
        #: Sessions signed out (nonce -> expiry), refreshed from the audit log so that a
        #: sign-out on one replica ends the session on every replica within seconds.
        self._ended: dict[str, float] = {}
        self._ended_read = 0.0
        self.login_limit = login_attempts_per_minute
        self._failures: dict[str, list[float]] = {}
        self.on_throttled: Callable[[], None] | None = None

    # -- sessions -------------------------------------------------------------------
    def _sign(self, text: str) -> str:
        return hmac.new(self.secret, text.encode(), hashlib.sha256).hexdigest()[:32]

    def session_for(self, key: str) -> str | None:
        """A session cookie value for a valid ``key``, else ``None``."""
        who = self.keys.check(f"Bearer {key}")
        if who is None:
            return None
        body = f"{who.key_id}.{int(self.wall()) + SESSION_SECONDS}.{secrets.token_hex(8)}"
        return f"{body}.{self._sign(body)}"

    def link_for(self, key: str) -> str:
        """A single-use sign-in token (``/ui/login/TOKEN``), valid for ten minutes."""
        token = secrets.token_urlsafe(24)
        now = self.wall()
        self._links = {t: v for t, v in self._links.items() if v[1] > now}
        self._links[token] = (key, now + LINK_SECONDS)
        return token

    def redeem(self, token: str) -> str | None:
        got = self._links.pop(token, None)
        if got is None or got[1] < self.wall():
            return None
        return self.session_for(got[0])

    def visitor(self, request: Request) -> Visitor | None:
        header = request.headers.get("authorization")
        if header:
            who = self.keys.check(header)
            return None if who is None else Visitor(who, f"key:{who.key_id}", False)
        cookie = request.cookies.get(COOKIE)
        if not cookie:
            return None
        parts = cookie.split(".")
        if len(parts) != 4:
            return None
        kid, expiry, nonce, sig = parts
        if not hmac.compare_digest(sig, self._sign(f"{kid}.{expiry}.{nonce}")):
            return None
        if not expiry.isdigit() or int(expiry) < self.wall():
            return None
        if self._is_ended(nonce):
            return None
        row = self.store.key(kid)
        if row is None or row["revoked_at"] is not None:
            return None
        who = Principal(row["key_id"], row["name"], row["project"], tuple(row["scopes"].split(",")))
        return Visitor(who, cookie, True)

    def end(self, visitor: Visitor) -> None:
        """Sign out: the session's cookie stops working at once, here and on other replicas."""
        if not visitor.via_cookie:
            return
        kid, expiry, nonce, _ = visitor.session.split(".")
        self._ended[nonce] = float(expiry)
        self.store.audit(kid, "session.end", nonce, "", self.wall())

    def _is_ended(self, nonce: str) -> bool:
        now = self.wall()
        if now - self._ended_read >= ENDED_REFRESH_SECONDS:
            self._ended_read = now
            self._ended = {n: e for n, e in self._ended.items() if e >= now}
            for row in self.store.audit_log(ENDED_SCAN):
                if row["action"] == "session.end":
                    self._ended.setdefault(str(row["target"]), now + SESSION_SECONDS)
        return nonce in self._ended

    # -- sign-in throttling ---------------------------------------------------------------
    def throttled(self, client: str) -> float | None:
        """Seconds ``client`` must wait before another sign-in attempt, or None.

        At most ``login_attempts_per_minute`` failed attempts per client address
        in any minute, and ten times that from all addresses together.
        """
        now = self.wall()
        for who in (client, "*"):
            recent = [t for t in self._failures.get(who, []) if now - t < 60.0]
            self._failures[who] = recent
            limit = self.login_limit * (10 if who == "*" else 1)
            if len(recent) >= limit:
                if self.on_throttled is not None:
                    self.on_throttled()
                return max(1.0, 60.0 - (now - recent[0]))
        return None

    def failed_login(self, client: str) -> None:
        now = self.wall()
        if len(self._failures) > 10_000:  # bounded: forget the oldest addresses
            self._failures = dict(list(self._failures.items())[-5_000:])
        for who in (client, "*"):
            self._failures.setdefault(who, []).append(now)

    # -- cross-site request forgery ---------------------------------------------------
    def csrf_token(self, visitor: Visitor) -> str:
        return self._sign(f"csrf|{visitor.session}")

    def check_post(self, request: Request, visitor: Visitor, form: Mapping[str, str]) -> str | None:
        """Why this POST is refused (``None`` when it is fine)."""
        if not same_origin(request) and (visitor.via_cookie or _has_origin(request)):
            return "cross-site request refused (Origin does not match this site)"
        token = form.get("csrf", "")
        if not hmac.compare_digest(token, self.csrf_token(visitor)):
            return "missing or stale form token; reload the page and try again"
        return None


def _has_origin(request: Request) -> bool:
    return bool(request.headers.get("origin") or request.headers.get("referer"))


def same_origin(request: Request) -> bool:
    """Whether ``Origin`` (else ``Referer``) names this site; absent means no."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin or origin == "null":
        return False
    got = urlsplit(origin)
    host = request.headers.get("host", "")
    return got.netloc == host and got.scheme in ("http", "https")


def key_id(key: str) -> str:
    return key_id_of(hash_key(key))
