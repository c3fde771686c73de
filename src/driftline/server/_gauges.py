"""One way to declare the gauges of the monitoring results (server/metrics.py,
server/service_metrics.py): every family of a group shares its leading labels."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Gauge

#: The leading labels of a model version's families.
MV = ("model", "version")


def gauge_maker(r: CollectorRegistry, *base: str) -> Callable[..., Gauge]:
    """``g(name, doc, *labels)``: a gauge in ``r`` labelled ``base`` then ``labels``."""

    def gauge(name: str, doc: str, *labels: str) -> Gauge:
        return Gauge(name, doc, [*base, *labels], registry=r)

    return gauge
