"""Alerts: rules over metric points, SLOs, states, routing, silences and notifiers (docs/alerts.md).

The collector drives an :class:`AlertEngine` with :class:`MetricPoint` objects
(``ingest``) and a clock (``tick``); a :class:`Dispatcher` delivers through
the outbox of an :class:`AlertStore`.
"""

from __future__ import annotations

from driftline.alerts.config import AlertsConfig, load_alerts_config, parse_alerts_config
from driftline.alerts.engine import AlertEngine, Transition
from driftline.alerts.model import (
    Alert,
    AlertState,
    AuditEvent,
    Delivery,
    Notification,
    NotifiedAlert,
    Outcome,
    Silence,
)
from driftline.alerts.notifiers.base import NotificationError
from driftline.alerts.notifiers.dispatch import Dispatcher
from driftline.alerts.points import METRICS, MetricPoint
from driftline.alerts.precision import RulePrecision
from driftline.alerts.presets import PRESETS
from driftline.alerts.rules import Rule
from driftline.alerts.store import AlertStore, MemoryAlertStore, SQLAlertStore

__all__ = [
    "METRICS",
    "PRESETS",
    "Alert",
    "AlertEngine",
    "AlertState",
    "AlertStore",
    "AlertsConfig",
    "AuditEvent",
    "Delivery",
    "Dispatcher",
    "MemoryAlertStore",
    "MetricPoint",
    "Notification",
    "NotificationError",
    "NotifiedAlert",
    "Outcome",
    "Rule",
    "RulePrecision",
    "SQLAlertStore",
    "Silence",
    "Transition",
    "load_alerts_config",
    "parse_alerts_config",
]
