"""PII detectors shared by the SDK's privacy policy and the text descriptors.

Each detector is a regular expression, an optional validator of the match (a
card number passes Luhn, an IBAN mod-97, ...) and an optional trigger (a cheap
regex every match needs somewhere in the text). The SDK masks what they find
(:mod:`driftline.sdk.privacy`); the text descriptor ``pii_hits`` counts it.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass


def luhn_ok(candidate: str) -> bool:
    """True if the digits of ``candidate`` (13 to 19 of them) pass the Luhn checksum."""
    digits = [int(c) for c in candidate if c.isdigit()]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def iban_ok(candidate: str) -> bool:
    """True if ``candidate`` is an IBAN whose mod-97 check digits are right."""
    s = candidate.replace(" ", "").upper()
    if not 15 <= len(s) <= 34:
        return False
    rearranged = s[4:] + s[:4]
    try:
        number = int("".join(str(int(c, 36)) for c in rearranged))
    except ValueError:
        return False
    return number % 97 == 1


def ipv6_ok(candidate: str) -> bool:
    try:
        ipaddress.IPv6Address(candidate)
    except ValueError:
        return False
    return True


_DATE_PREFIX = re.compile(r"\d{4}-\d{2}-\d{2}")


def phone_ok(candidate: str) -> bool:
    """9 to 15 digits, not a date, and either a leading + or a separator between groups."""
    digits = sum(c.isdigit() for c in candidate)
    if not 9 <= digits <= 15 or _DATE_PREFIX.match(candidate):
        return False
    return candidate.startswith("+") or any(c in candidate for c in " .-()") or digits >= 10


@dataclass(frozen=True)
class Detector:
    """One kind of PII: its name, regex, validator and trigger (see the module doc)."""

    name: str
    regex: str
    validate: Callable[[str], bool] | None = None
    trigger: str | None = None


DETECTORS: tuple[Detector, ...] = (
    Detector("email", r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}", trigger="@"),
    Detector("iban", r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b", iban_ok, r"[A-Z]{2}\d\d"),
    Detector("card", r"(?<!\d)\d(?:[ -]?\d){12,18}(?!\d)", luhn_ok, r"\d"),
    Detector(
        "ip",
        r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\d.])",
        trigger=r"\d\.\d",
    ),
    Detector("ip", r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])", ipv6_ok, ":"),
    Detector("phone", r"(?<![\w+])\+?\(?\d[\d ().-]{7,}\d(?!\w)", phone_ok, r"\d"),
)

_COMPILED = [
    (re.compile(d.regex), d.validate, None if d.trigger is None else re.compile(d.trigger))
    for d in DETECTORS
]


def count_pii(text: str) -> int:
    """How many PII matches the detectors find in ``text`` (validated matches only)."""
    hits = 0
    for regex, validate, trigger in _COMPILED:
        if trigger is not None and trigger.search(text) is None:
            continue
        for m in regex.finditer(text):
            if validate is None or validate(m.group(0)):
                hits += 1
    return hits


__all__ = ["DETECTORS", "Detector", "count_pii", "iban_ok", "ipv6_ok", "luhn_ok", "phone_ok"]
