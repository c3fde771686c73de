"""Annotation templates: ``{{ $value }}``, ``{{ $threshold }}`` and ``{{ $labels.NAME }}``."""

from __future__ import annotations

import re
from collections.abc import Mapping

_TEMPLATE = re.compile(r"\{\{\s*(.*?)\s*\}\}")
TEMPLATE_VARIABLES = ("$value", "$threshold", "$labels.NAME")


def check_template(text: str) -> str:
    """Raise ValueError naming the unknown variable of a ``{{ ... }}`` template."""
    for expr in _TEMPLATE.findall(text):
        if expr in ("$value", "$threshold") or re.fullmatch(r"\$labels\.[A-Za-z_]\w*", expr):
            continue
        raise ValueError(
            f"unknown template variable {{{{ {expr} }}}}; allowed: "
            + ", ".join(f"{{{{ {v} }}}}" for v in TEMPLATE_VARIABLES)
        )
    return text


def render_template(text: str, labels: Mapping[str, str], value: float, threshold: float) -> str:
    """Fill ``{{ $value }}``, ``{{ $threshold }}`` and ``{{ $labels.NAME }}``."""

    def sub(m: re.Match[str]) -> str:
        expr = m.group(1)
        if expr == "$value":
            return f"{value:.4g}"
        if expr == "$threshold":
            return f"{threshold:.4g}"
        if expr.startswith("$labels."):
            return labels.get(expr[len("$labels.") :], "")
        return m.group(0)

    return _TEMPLATE.sub(sub, text)
