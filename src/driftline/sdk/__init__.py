"""In-process instrumentation for model services.

``Monitor`` is the entry point; see docs/sdk.md. Importing this package never
imports a web framework (the FastAPI integration lives in
:mod:`driftline.integrations.fastapi`). What a plain ``Monitor`` does not need
(the LLM judges and their HTTP client, ``Retrieved``, the ``Router`` and its
thread pool and asyncio, the HTTP sink, numpy) loads on first use: the names in
``_LAZY`` resolve when first read (tests/test_public_api.py pins which modules
``import driftline.sdk`` loads).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from driftline._utils.lazy import lazy_package as _lazy_package
from driftline.sdk.clock import Clock, ManualClock, SystemClock
from driftline.sdk.contract import Contract, Violation
from driftline.sdk.errors import JudgeError, SDKConfigError, SinkError
from driftline.sdk.events import Prediction
from driftline.sdk.jobs import JobRun
from driftline.sdk.monitor import Monitor
from driftline.sdk.observation import Observation
from driftline.sdk.privacy import DEFAULT_PATTERNS, PIIPattern, PrivacyPolicy
from driftline.sdk.sinks import JSONLinesSink, MemorySink, Sink
from driftline.sdk.spool import DiskSpool, MemorySpool
from driftline.sdk.stages import Stage

if TYPE_CHECKING:
    from driftline.sdk.http_sink import HTTPSink
    from driftline.sdk.judges import HTTPJudge, Judge, JudgeBudget
    from driftline.sdk.llm import Retrieved
    from driftline.sdk.router import Routed, Router

#: public name -> module that defines it (imported on first attribute access)
_LAZY: dict[str, str] = {
    "HTTPJudge": "driftline.sdk.judges",
    "HTTPSink": "driftline.sdk.http_sink",
    "Judge": "driftline.sdk.judges",
    "JudgeBudget": "driftline.sdk.judges",
    "Retrieved": "driftline.sdk.llm",
    "Routed": "driftline.sdk.router",
    "Router": "driftline.sdk.router",
}

_lazy_package(__name__, _LAZY)

__all__ = [
    "DEFAULT_PATTERNS",
    "Clock",
    "Contract",
    "DiskSpool",
    "HTTPJudge",
    "HTTPSink",
    "JSONLinesSink",
    "JobRun",
    "Judge",
    "JudgeBudget",
    "JudgeError",
    "ManualClock",
    "MemorySink",
    "MemorySpool",
    "Monitor",
    "Observation",
    "PIIPattern",
    "Prediction",
    "PrivacyPolicy",
    "Retrieved",
    "Routed",
    "Router",
    "SDKConfigError",
    "Sink",
    "SinkError",
    "Stage",
    "SystemClock",
    "Violation",
]
