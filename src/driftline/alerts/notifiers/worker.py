"""Delivering the outbox off the evaluation path: each receiver in its own thread.

In ``driftline serve`` the alert engine's tick only writes notifications to
the outbox (:attr:`Dispatcher.deferred`); a :class:`DeliveryWorker` sends
them. Each receiver's due deliveries run in a thread of their own, one at a
time and in order, so a receiver that hangs (until its ``retry.timeout``)
delays only its own notifications: never the evaluation of windows, never
another receiver.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from driftline.alerts.notifiers.dispatch import Dispatcher
from driftline.alerts.records import Delivery

logger = logging.getLogger("driftline.alerts")


class DeliveryWorker:
    """Sends what the outbox holds, polling every ``poll_seconds`` (and when woken)."""

    def __init__(self, dispatcher: Dispatcher, poll_seconds: float = 0.5) -> None:
        self.dispatcher = dispatcher
        self.poll_seconds = poll_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._busy: set[str] = set()
        workers = max(1, len(dispatcher.retry))
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="driftline-delivery")
        self._thread = threading.Thread(target=self._run, name="driftline-outbox", daemon=True)

    def start(self) -> DeliveryWorker:
        """Make the dispatcher only enqueue, and start sending in the background."""
        self.dispatcher.deferred = True
        self.dispatcher.on_enqueue = self._wake.set
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.poll_seconds)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                self.deliver_due()
            except Exception:  # the store may be away for a while; the next poll retries
                logger.exception("driftline alerts: the outbox could not be read")

    def deliver_due(self) -> int:
        """Start sending the due deliveries of every receiver not busy; return how many started."""
        d = self.dispatcher
        by_receiver: dict[str, list[Delivery]] = {}
        for delivery in d.store.due_deliveries(d.clock.time()):
            by_receiver.setdefault(delivery.receiver, []).append(delivery)
        started = 0
        for receiver, items in by_receiver.items():
            with self._lock:
                if receiver in self._busy:
                    continue
                self._busy.add(receiver)
            self._pool.submit(self._deliver, receiver, items)
            started += len(items)
        return started

    def _deliver(self, receiver: str, items: list[Delivery]) -> None:
        try:
            for delivery in items:
                if self._stop.is_set():
                    break
                self.dispatcher.attempt(delivery)
        except Exception:
            logger.exception("driftline alerts: delivery to %s failed", receiver)
        finally:
            with self._lock:
                self._busy.discard(receiver)

    @property
    def idle(self) -> bool:
        """True when nothing is being sent and nothing in the outbox is due."""
        with self._lock:
            if self._busy:
                return False
        d = self.dispatcher
        return not d.store.due_deliveries(d.clock.time(), limit=1)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop polling; a send in progress ends within its receiver's timeout."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._pool.shutdown(wait=False, cancel_futures=True)


__all__ = ["DeliveryWorker"]
