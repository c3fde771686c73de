"""Label matchers in Alertmanager's notation: ``name=value``, ``!=``, ``=~`` and ``!~``."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

_MATCHER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$")
OPS = ("=", "!=", "=~", "!~")


@dataclass(frozen=True, slots=True)
class Matcher:
    """One label condition; a missing label matches as the empty string (as in Alertmanager)."""

    name: str
    op: str
    value: str

    @classmethod
    def parse(cls, text: str) -> Matcher:
        """``'team=data'``, ``'severity!=info'``, ``'alertname=~"drift.*"'``; ValueError if bad."""
        m = _MATCHER.match(text)
        if m is None:
            raise ValueError(
                f"matcher {text!r} must look like label=value, label!=value, "
                "label=~regex or label!~regex"
            )
        name, op, value = m.groups()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        if op in ("=~", "!~"):
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"matcher {text!r}: bad regular expression: {exc}") from None
        return cls(name, op, value)

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        hit = re.fullmatch(self.value, actual) is not None
        return hit if self.op == "=~" else not hit

    def __str__(self) -> str:
        return f'{self.name}{self.op}"{self.value}"'


def parse_matchers(items: Iterable[str] | Mapping[str, str]) -> tuple[Matcher, ...]:
    """Matchers from strings, or from a mapping of exact label values."""
    if isinstance(items, Mapping):
        return tuple(Matcher(k, "=", str(v)) for k, v in items.items())
    return tuple(Matcher.parse(s) for s in items)


def match_all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)
