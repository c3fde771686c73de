"""Shared pieces of the alert configuration models: strictness, durations, selectors.

Private to ``driftline.alerts``: every model forbids unknown keys, and
durations / ``for`` holds / selectors are validated the same way everywhere.
"""

from __future__ import annotations

import typing
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from driftline._models import Strict
from driftline._utils.durations import parse_duration

Severity = Literal["critical", "error", "warning", "info"]
SEVERITIES: tuple[str, ...] = typing.get_args(Severity)
Op = Literal[">", ">=", "<", "<=", "==", "!="]
NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"


def _listify(v: Any) -> Any:
    return [v] if isinstance(v, str) else v


def _duration(v: Any) -> Any:
    if v is None:
        return v
    try:
        parse_duration(v)
    except (ValueError, TypeError) as exc:
        raise ValueError(str(exc)) from None
    return v


def _hold(v: Any) -> Any:
    """``for`` / ``keep_firing_for``: a whole number of windows or a duration string."""
    if isinstance(v, bool):
        raise ValueError("a number of consecutive windows (0, 1, 2, ...) or a duration like 15m")
    if isinstance(v, int):
        if v < 0:
            raise ValueError("a number of windows cannot be negative")
        return v
    if isinstance(v, str):
        return _duration(v)
    raise ValueError("a number of consecutive windows (0, 1, 2, ...) or a duration like 15m")


Selector = Annotated[list[str] | None, BeforeValidator(_listify)]
Duration = Annotated[str | float, BeforeValidator(_duration)]
Hold = Annotated[int | str, BeforeValidator(_hold)]
LabelName = Annotated[str, Field(pattern=NAME_PATTERN)]


_Strict = Strict


class Secretless(_Strict):
    """Notifier settings; secrets are names of environment variables (``*_env``), never values."""
