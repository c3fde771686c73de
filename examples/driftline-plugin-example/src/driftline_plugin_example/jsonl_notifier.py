"""A notifier that appends each notification to a JSON-lines file (an audit trail).

Configured on a receiver as ``jsonl_file: {path: /var/log/driftline/alerts.jsonl}``;
one line per notification, with its status, group labels and alerts.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from pydantic import Field

from driftline.alerts import Notification
from driftline.alerts._fields import Secretless
from driftline.alerts.notifiers.base import NotificationError
from driftline.alerts.notifiers.registry import NotifierContext, NotifierType


class JSONLinesFileConfig(Secretless):
    path: str = Field(min_length=1)


class JSONLinesFileNotifier:
    kind = "jsonl_file"

    def __init__(self, receiver: str, cfg: JSONLinesFileConfig) -> None:
        self.receiver = receiver
        self.path = Path(cfg.path)
        self._lock = threading.Lock()

    def send(self, notification: Notification) -> None:
        record = {"status": notification.status, **notification.to_dict()}
        line = json.dumps(record, sort_keys=True)
        try:
            with self._lock, self.path.open("a", encoding="utf-8") as f:
                f.write(line + "\n")
        except OSError as exc:  # a full disk may clear up: retry later
            raise NotificationError(
                f"receiver {self.receiver!r}: cannot append to {self.path}: {exc.strerror}",
                retryable=True,
                reason="io",
            ) from exc


def _build(receiver: str, cfg: Any, ctx: NotifierContext) -> JSONLinesFileNotifier:
    return JSONLinesFileNotifier(receiver, cfg)


NOTIFIER = NotifierType(
    "jsonl_file", JSONLinesFileConfig, _build, "appends each notification to a JSON-lines file"
)
