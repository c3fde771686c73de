"""Feeding an alert engine from a collector's store, for a caller that builds its own engine.

The collector does this itself when it has an ``alerts:`` configuration
(``create_app(..., alerts=config)``; see :mod:`driftline.server.alerting`,
which holds the metric-name mapping and the derived points). This adapter
runs the same :class:`~driftline.server.alerting.PointFeed` for an engine made
elsewhere, e.g. a test's.
"""

from __future__ import annotations

from driftline.alerts import AlertEngine
from driftline.server.alerting import PointFeed, alert_points, top_confidence
from driftline.store.base import Store


class AlertBridge:
    """Feeds newly evaluated base-window points to ``engine`` and ticks it."""

    def __init__(self, store: Store, engine: AlertEngine, window_size: int) -> None:
        self.engine = engine
        self.feed = PointFeed(store, engine.store, window_size, engine.clock.time())

    def run(self) -> int:
        """Process new points; return how many were fed to the engine."""
        points = self.feed.read()
        self.engine.ingest(points)
        self.engine.tick()
        return len(points)


__all__ = ["AlertBridge", "alert_points", "top_confidence"]
