"""Helpers of ``Monitor.track``: find the features among a call's arguments, record results."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from driftline.sdk.errors import SDKConfigError
from driftline.sdk.events import Prediction
from driftline.sdk.observation import Observation


def extractor(
    fn: Callable[..., Any], features: str | Callable[..., Any] | None
) -> Callable[[tuple[Any, ...], dict[str, Any]], Any]:
    """A function of ``(args, kwargs)`` returning the features of a call of ``fn``."""
    if callable(features):
        user = features
        return lambda args, kwargs: user(*args, **kwargs)
    params = list(inspect.signature(fn).parameters)
    if features is None:
        candidates = [p for p in params if p not in ("self", "cls")]
        if not candidates:
            return lambda args, kwargs: None
        name = candidates[0]
    else:
        if features not in params:
            raise SDKConfigError(
                f"track(features={features!r}): {fn.__qualname__} has no such parameter; "
                f"parameters: {params}"
            )
        name = features
    index = params.index(name)

    def extract(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return args[index] if len(args) > index else kwargs.get(name)

    return extract


def safe_extract(
    extract: Callable[[tuple[Any, ...], dict[str, Any]], Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    try:
        return extract(args, kwargs)
    except Exception:
        return None


def record_result(obs: Observation, result: Any) -> None:
    if isinstance(result, Prediction):
        obs.record(prediction=result.prediction, scores=result.scores)
    else:
        obs.record(prediction=result)
