"""Log notifier: one structured log line per notification (logger ``driftline.alerts``)."""

from __future__ import annotations

import json
import logging
from typing import Literal

from driftline.alerts._fields import _Strict
from driftline.alerts.notifiers.registry import NotifierContext, NotifierType
from driftline.alerts.records import Notification


class LogConfig(_Strict):
    level: Literal["info", "warning", "error"] = "warning"


logger = logging.getLogger("driftline.alerts")
_LEVELS = {"info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


class LogNotifier:
    kind = "log"

    def __init__(self, receiver: str, cfg: LogConfig) -> None:
        self.receiver = receiver
        self.level = _LEVELS[cfg.level]

    def send(self, notification: Notification) -> None:
        record = {
            "receiver": notification.receiver,
            "status": notification.status,
            "group": dict(notification.group_labels),
            "alerts": [
                {
                    "status": a.status,
                    "fingerprint": a.fingerprint,
                    "labels": dict(a.labels),
                    "summary": a.annotations.get("summary", ""),
                }
                for a in notification.alerts
            ],
        }
        logger.log(self.level, "alert notification %s", json.dumps(record, sort_keys=True))


def _build(receiver: str, cfg: LogConfig, ctx: NotifierContext) -> LogNotifier:
    return LogNotifier(receiver, cfg)


NOTIFIER = NotifierType("log", LogConfig, _build, "a structured log line (driftline.alerts)")
