"""Alerts: rules over metric points, SLOs, states, routing, silences and notifiers (docs/alerts.md).

The collector drives an :class:`AlertEngine` with :class:`MetricPoint` objects
(``ingest``) and a clock (``tick``); a :class:`Dispatcher` delivers through
the outbox of an :class:`AlertStore`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from driftline._utils.lazy import lazy_package as _lazy_package

if TYPE_CHECKING:
    from driftline.alerts.config import AlertsConfig, load_alerts_config, parse_alerts_config
    from driftline.alerts.engine import AlertEngine, Transition
    from driftline.alerts.notifiers.base import NotificationError
    from driftline.alerts.notifiers.dispatch import Dispatcher
    from driftline.alerts.points import METRICS, MetricPoint
    from driftline.alerts.precision import RulePrecision
    from driftline.alerts.presets import PRESETS
    from driftline.alerts.records import (
        Alert,
        AlertState,
        AuditEvent,
        Delivery,
        Notification,
        NotifiedAlert,
        Outcome,
        Silence,
    )
    from driftline.alerts.rules import Rule
    from driftline.alerts.store import AlertStore, MemoryAlertStore, SQLAlertStore

#: public name -> module that defines it (imported on first use, so the CLI stays fast)
_LAZY: dict[str, str] = {
    "Alert": "driftline.alerts.records",
    "AlertEngine": "driftline.alerts.engine",
    "AlertState": "driftline.alerts.records",
    "AlertStore": "driftline.alerts.store",
    "AlertsConfig": "driftline.alerts.config",
    "AuditEvent": "driftline.alerts.records",
    "Delivery": "driftline.alerts.records",
    "Dispatcher": "driftline.alerts.notifiers.dispatch",
    "METRICS": "driftline.alerts.points",
    "MemoryAlertStore": "driftline.alerts.store",
    "MetricPoint": "driftline.alerts.points",
    "Notification": "driftline.alerts.records",
    "NotificationError": "driftline.alerts.notifiers.base",
    "NotifiedAlert": "driftline.alerts.records",
    "Outcome": "driftline.alerts.records",
    "PRESETS": "driftline.alerts.presets",
    "Rule": "driftline.alerts.rules",
    "RulePrecision": "driftline.alerts.precision",
    "SQLAlertStore": "driftline.alerts.store",
    "Silence": "driftline.alerts.records",
    "Transition": "driftline.alerts.engine",
    "load_alerts_config": "driftline.alerts.config",
    "parse_alerts_config": "driftline.alerts.config",
}
_lazy_package(__name__, _LAZY)

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
