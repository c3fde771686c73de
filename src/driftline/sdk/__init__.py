"""In-process instrumentation for model services.

``Monitor`` is the entry point; see docs/sdk.md. Importing this package never
imports a web framework (the FastAPI integration lives in
:mod:`driftline.integrations.fastapi`).
"""

from __future__ import annotations

from driftline.sdk.clock import Clock, ManualClock, SystemClock
from driftline.sdk.contract import Contract, Violation
from driftline.sdk.errors import JudgeError, SDKConfigError, SinkError
from driftline.sdk.events import Prediction
from driftline.sdk.http_sink import HTTPSink
from driftline.sdk.jobs import JobRun
from driftline.sdk.judges import HTTPJudge, Judge, JudgeBudget
from driftline.sdk.llm import Retrieved
from driftline.sdk.monitor import Monitor
from driftline.sdk.observation import Observation
from driftline.sdk.privacy import DEFAULT_PATTERNS, PIIPattern, PrivacyPolicy
from driftline.sdk.router import Routed, Router
from driftline.sdk.sinks import JSONLinesSink, MemorySink, Sink
from driftline.sdk.spool import DiskSpool, MemorySpool
from driftline.sdk.stages import Stage

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
