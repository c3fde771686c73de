"""Annotation templates: ``{{ $value }}``, ``{{ $threshold }}`` and ``{{ $labels.NAME }}``.

``$value`` and ``$threshold`` take Prometheus's formatting functions too:
``{{ $value | humanizeDuration }}`` (seconds: ``312ms``, ``1.5s``) and
``{{ $value | humanizePercentage }}`` (a ratio: ``75.4%``), so a latency alert
reads in the unit of the charts and the same annotation works in Prometheus.
A label can be piped into ``urlquery`` (Go templates' function) to go into a
link: ``?model={{ $labels.model | urlquery }}``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from urllib.parse import quote_plus

_TEMPLATE = re.compile(r"\{\{\s*(.*?)\s*\}\}")
_PIPED = re.compile(r"(\$value|\$threshold)\s*\|\s*(\w+)")
_LABEL_QUERY = re.compile(r"\$labels\.([A-Za-z_]\w*)\s*\|\s*urlquery")
TEMPLATE_VARIABLES = ("$value", "$threshold", "$labels.NAME", "$labels.NAME | urlquery")


def humanize_duration(seconds: float) -> str:
    """Prometheus's ``humanizeDuration``: ``0.312`` -> ``312ms``, ``90`` -> ``1m 30s``,
    ``300`` -> ``5m 0s``."""
    if not math.isfinite(seconds):
        return str(seconds)
    if abs(seconds) < 1:
        return f"{seconds * 1000:.4g}ms"
    sign, v = ("-" if seconds < 0 else ""), abs(seconds)
    if v < 60:
        return f"{sign}{v:.4g}s"
    days, rest = divmod(int(v), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{n}{u}" for n, u in ((days, "d"), (hours, "h"), (minutes, "m"), (secs, "s"))]
    while parts[0].startswith("0"):  # as Prometheus: from the largest unit, zeros kept after
        parts.pop(0)
    return sign + " ".join(parts)


def humanize_percentage(ratio: float) -> str:
    """Prometheus's ``humanizePercentage``: ``0.754`` -> ``75.4%``."""
    return f"{ratio * 100:.4g}%"


#: The formatting functions a template may pipe ``$value`` or ``$threshold`` into.
FUNCTIONS: Mapping[str, Callable[[float], str]] = {
    "humanizeDuration": humanize_duration,
    "humanizePercentage": humanize_percentage,
}


def check_template(text: str) -> str:
    """Raise ValueError naming the unknown variable of a ``{{ ... }}`` template."""
    for expr in _TEMPLATE.findall(text):
        if expr in ("$value", "$threshold") or re.fullmatch(r"\$labels\.[A-Za-z_]\w*", expr):
            continue
        if _LABEL_QUERY.fullmatch(expr):
            continue
        piped = _PIPED.fullmatch(expr)
        if piped and piped.group(2) in FUNCTIONS:
            continue
        if piped:
            raise ValueError(
                f"unknown template function {piped.group(2)!r} in {{{{ {expr} }}}}; allowed: "
                + ", ".join(sorted(FUNCTIONS))
            )
        raise ValueError(
            f"unknown template variable {{{{ {expr} }}}}; allowed: "
            + ", ".join(f"{{{{ {v} }}}}" for v in TEMPLATE_VARIABLES)
            + " (with | "
            + " or | ".join(sorted(FUNCTIONS))
            + ")"
        )
    return text


def render_template(text: str, labels: Mapping[str, str], value: float, threshold: float) -> str:
    """Fill ``{{ $value }}``, ``{{ $threshold }}`` (optionally piped into a function of
    :data:`FUNCTIONS`) and ``{{ $labels.NAME }}``."""

    def sub(m: re.Match[str]) -> str:
        expr = m.group(1)
        if expr == "$value":
            return f"{value:.4g}"
        if expr == "$threshold":
            return f"{threshold:.4g}"
        quoted = _LABEL_QUERY.fullmatch(expr)
        if quoted:
            return quote_plus(labels.get(quoted.group(1), ""))
        if expr.startswith("$labels."):
            return labels.get(expr[len("$labels.") :], "")
        piped = _PIPED.fullmatch(expr)
        if piped and piped.group(2) in FUNCTIONS:
            x = value if piped.group(1) == "$value" else threshold
            return FUNCTIONS[piped.group(2)](x)
        return m.group(0)

    return _TEMPLATE.sub(sub, text)
