"""Prometheus pieces shared by the SDK, the FastAPI middleware, alerts and the server.

Bucket layouts are part of the metric contract: the alert rules and the
exported Prometheus rules read the same ``LATENCY_BUCKETS`` the SDK observes
into. :func:`shared_families` keeps one set of families per registry
(prometheus_client refuses two families with one name). Importing this module
does not import prometheus_client.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

#: Model latency buckets, in seconds: sub-millisecond models up to slow LLM calls.
LATENCY_BUCKETS: tuple[float, ...] = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip
#: Score / confidence buckets for probabilities in 0..1.
SCORE_BUCKETS: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)
#: Batch-job duration buckets, in seconds: one second up to a day.
JOB_BUCKETS: tuple[float, ...] = (1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 21600, 86400)

T = TypeVar("T")
_shared: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()
_shared_lock = threading.Lock()


def shared_families(registry: Any, key: str, factory: Callable[[], T]) -> T:
    """The metric families ``key`` of ``registry``, created by ``factory`` on first use.

    This is a cache keyed weakly by registry, not state: a fresh registry gets
    fresh families.
    """
    with _shared_lock:
        per_registry = _shared.setdefault(registry, {})
        if key not in per_registry:
            per_registry[key] = factory()
        value: T = per_registry[key]
        return value
